//! One logical line to one [`Instruction`]: BuildKit's `splitCommand`,
//! `extractBuilderFlags` and the per-instruction line parsers, with spans.

use crate::ast::{ArgDecl, Args, Flag, Instruction, InstructionKind, KeyValue, Word};
use crate::error::ErrorKind;
use crate::json::{self, JsonArray};
use crate::lexer::is_space;
use crate::span::{LineIndex, SourceMap, Span};

/// Go's `[\t\v\f\r ]` (the `reWhitespace` / `tokenWhitespace` regexps).
fn is_ws(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

/// What the line parsers need to turn logical offsets into spans.
pub(crate) struct Ctx<'a> {
    pub index: &'a LineIndex<'a>,
    pub map: &'a SourceMap,
    pub escape: char,
}

impl Ctx<'_> {
    fn span(&self, a: usize, b: usize) -> Span {
        let (s, e) = self.map.range(a, b);
        self.index.span(s, e)
    }

    fn word(&self, value: &str, a: usize, b: usize) -> Word {
        Word {
            value: value.to_string(),
            span: self.span(a, b),
        }
    }
}

/// Text built char by char, remembering where each char came from (logical offsets).
#[derive(Debug, Default, Clone)]
struct Tracked {
    text: String,
    offs: Vec<(usize, usize)>,
}

impl Tracked {
    fn push(&mut self, c: char, at: usize) {
        self.text.push(c);
        self.offs.push((at, at + c.len_utf8()));
    }
    fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

/// How many `ONBUILD` may nest in one line. BuildKit's parser has no bound
/// (its builder refuses any chaining); this one keeps recursion shallow.
pub(crate) const MAX_ONBUILD_NESTING: usize = 16;

/// Parses one logical line (`line` with offsets mapped by `ctx.map`).
pub(crate) fn parse_line(line: &str, ctx: &Ctx<'_>) -> Result<Instruction, ErrorKind> {
    parse_line_nested(line, ctx, 0)
}

fn parse_line_nested(line: &str, ctx: &Ctx<'_>, depth: usize) -> Result<Instruction, ErrorKind> {
    let lead = line.len() - line.trim_start_matches(is_space).len();
    let trimmed = line.trim_matches(is_space);
    let kw_len = trimmed.find(is_ws).unwrap_or(trimmed.len());
    let keyword = &trimmed[..kw_len];
    let keyword_word = ctx.word(keyword, lead, lead + kw_len);
    let kind = InstructionKind::from_keyword(keyword);

    let mut flags = Vec::new();
    let mut args_range = (lead + trimmed.len(), lead + trimmed.len());
    if kw_len < trimmed.len() {
        let after_kw = &trimmed[kw_len..];
        let rest_off = lead + kw_len + (after_kw.len() - after_kw.trim_start_matches(is_ws).len());
        let rest = &line[rest_off..lead + trimmed.len()];
        let (args_at, raw_flags) = extract_builder_flags(rest, rest_off);
        flags = raw_flags.into_iter().map(|f| make_flag(f, ctx)).collect();
        if let Some(at) = args_at {
            let a = &line[at..lead + trimmed.len()];
            let a_lead = a.len() - a.trim_start_matches(is_space).len();
            let a_trim = a.trim_matches(is_space);
            args_range = (at + a_lead, at + a_lead + a_trim.len());
        }
    }
    let (a0, a1) = args_range;
    let rest = &line[a0..a1];
    use InstructionKind::*;
    let args = match kind {
        Add | Copy | Volume => maybe_json_to_list(rest, a0, ctx)?,
        Arg => name_or_name_val(rest, a0, ctx),
        Cmd | Entrypoint | Run | Shell => maybe_json(rest, a0, ctx)?,
        Env => name_val(rest, a0, "ENV", ctx)?,
        Label => name_val(rest, a0, "LABEL", ctx)?,
        Expose | From => whitespace_delimited(rest, a0, ctx),
        Healthcheck => health_config(rest, a0, ctx)?,
        Maintainer | Stopsignal | User | Workdir => {
            if rest.is_empty() {
                Args::None
            } else {
                Args::Text(ctx.word(rest, a0, a1))
            }
        }
        Onbuild => {
            if rest.is_empty() {
                Args::None
            } else if depth >= MAX_ONBUILD_NESTING {
                return Err(ErrorKind::NestedOnbuild(MAX_ONBUILD_NESTING));
            } else {
                let map = ctx.map.shifted(a0);
                let sub = Ctx {
                    index: ctx.index,
                    map: &map,
                    escape: ctx.escape,
                };
                Args::Onbuild(Box::new(parse_line_nested(rest, &sub, depth + 1)?))
            }
        }
        Unknown => Args::Ignored(ctx.word(rest, a0, a1)),
    };
    let span = ctx.span(lead, lead + trimmed.len());
    Ok(Instruction {
        kind,
        keyword: keyword_word,
        flags,
        args,
        heredocs: Vec::new(),
        comments: Vec::new(),
        original: line.to_string(),
        span,
    })
}

/// A flag word with the logical range it spans.
struct RawFlag {
    word: Tracked,
    start: usize,
    end: usize,
}

fn make_flag(f: RawFlag, ctx: &Ctx<'_>) -> Flag {
    let text = f.word.text.clone();
    let body = text.strip_prefix("--").unwrap_or(&text);
    let (name, value, value_offsets) = match body.split_once('=') {
        Some((n, v)) => {
            let skip = 2 + n.chars().count() + 1;
            let offs: Vec<Span> = f.word.offs[skip.min(f.word.offs.len())..]
                .iter()
                .map(|&(a, b)| ctx.span(a, b))
                .collect();
            (n.to_string(), Some(v.to_string()), offs)
        }
        None => (body.to_string(), None, Vec::new()),
    };
    let value_span = value.as_ref().map(|_| {
        if let (Some(first), Some(last)) = (value_offsets.first(), value_offsets.last()) {
            Span {
                end: last.end,
                end_line: last.end_line,
                end_col: last.end_col,
                ..*first
            }
        } else {
            // Empty value: just after the `=`.
            let eq_chars = 2 + name.chars().count();
            let at = f.word.offs.get(eq_chars).map_or(f.end, |&(_, b)| b);
            let s = ctx.map.end(at);
            ctx.index.span(s, s)
        }
    });
    Flag {
        name,
        value,
        text,
        span: ctx.span(f.start, f.end),
        value_span,
        value_chars: value_offsets,
    }
}

/// BuildKit's `extractBuilderFlags`: leading `--flag[=value]` words (quotes and
/// `\` escapes processed, `--` ends the flags). Returns the logical offset where the
/// arguments start (`None` when nothing follows) and the flags.
fn extract_builder_flags(line: &str, base: usize) -> (Option<usize>, Vec<RawFlag>) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let n = chars.len();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = Tracked::default();
    let mut start = 0;
    let mut end = 0;
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut pos = 0;
    let byte_at = |p: usize| if p < n { chars[p].0 } else { line.len() };
    while pos <= n {
        let ch = if pos < n { chars[pos].1 } else { '\0' };
        if phase == Phase::Spaces {
            if pos == n {
                break;
            }
            if is_space(ch) {
                pos += 1;
                continue;
            }
            if ch != '-' || pos + 1 == n || chars[pos + 1].1 != '-' {
                return (Some(base + byte_at(pos)), words);
            }
            phase = Phase::Word;
            start = base + byte_at(pos);
        }
        if pos == n {
            if word.text != "--" && (blank_ok || !word.is_empty()) {
                words.push(RawFlag { word, start, end });
            }
            break;
        }
        let at = base + chars[pos].0;
        if phase == Phase::Word {
            if is_space(ch) {
                phase = Phase::Spaces;
                if word.text == "--" {
                    return (Some(base + byte_at(pos)), words);
                }
                if blank_ok || !word.is_empty() {
                    words.push(RawFlag {
                        word: std::mem::take(&mut word),
                        start,
                        end,
                    });
                }
                word = Tracked::default();
                blank_ok = false;
                pos += 1;
                continue;
            }
            end = at + ch.len_utf8();
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                pos += 1;
                continue;
            }
            let mut c = ch;
            let mut cat = at;
            if ch == '\\' {
                if pos + 1 == n {
                    pos += 1;
                    continue;
                }
                pos += 1;
                c = chars[pos].1;
                cat = base + chars[pos].0;
                end = cat + c.len_utf8();
            }
            word.push(c, cat);
            pos += 1;
            continue;
        }
        // Phase::Quote
        end = at + ch.len_utf8();
        if ch == quote {
            phase = Phase::Word;
            pos += 1;
            continue;
        }
        let mut c = ch;
        let mut cat = at;
        if ch == '\\' {
            if pos + 1 == n {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            c = chars[pos].1;
            cat = base + chars[pos].0;
            end = cat + c.len_utf8();
        }
        word.push(c, cat);
        pos += 1;
    }
    (None, words)
}

/// BuildKit's `parseWords`: words split on whitespace, quotes and escapes kept.
/// Returns each word with its logical offsets (relative to `base`).
fn parse_words(rest: &str, base: usize, escape: char) -> Vec<Tracked> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<(usize, char)> = rest.char_indices().collect();
    let n = chars.len();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut word = Tracked::default();
    let mut pos = 0;
    while pos <= n {
        let ch = if pos < n { chars[pos].1 } else { '\0' };
        if phase == Phase::Spaces {
            if pos == n {
                break;
            }
            if is_space(ch) {
                pos += 1;
                continue;
            }
            phase = Phase::Word;
        }
        if pos == n {
            if blank_ok || !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            break;
        }
        let at = base + chars[pos].0;
        if phase == Phase::Word {
            if is_space(ch) {
                phase = Phase::Spaces;
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                word = Tracked::default();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
            }
            if ch == escape {
                if pos + 1 == n {
                    pos += 1;
                    continue;
                }
                word.push(ch, at);
                pos += 1;
                word.push(chars[pos].1, base + chars[pos].0);
                pos += 1;
                continue;
            }
            word.push(ch, at);
            pos += 1;
            continue;
        }
        // Phase::Quote
        if ch == quote {
            phase = Phase::Word;
        }
        if ch == escape && quote != '\'' {
            if pos + 1 == n {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            word.push(ch, at);
            pos += 1;
            word.push(chars[pos].1, base + chars[pos].0);
            pos += 1;
            continue;
        }
        word.push(ch, at);
        pos += 1;
    }
    words
}

/// Word for the chars `from..to` (char indices) of a tracked word.
fn tracked_word(t: &Tracked, from: usize, to: usize, ctx: &Ctx<'_>) -> Word {
    let value: String = t.text.chars().skip(from).take(to - from).collect();
    let (a, b) = if from < to {
        (t.offs[from].0, t.offs[to - 1].1)
    } else if from < t.offs.len() {
        (t.offs[from].0, t.offs[from].0)
    } else {
        let e = t.offs.last().map_or(0, |o| o.1);
        (e, e)
    };
    ctx.word(&value, a, b)
}

/// ENV and LABEL (`parseNameVal`).
fn name_val(rest: &str, base: usize, key: &str, ctx: &Ctx<'_>) -> Result<Args, ErrorKind> {
    let words = parse_words(rest, base, ctx.escape);
    if words.is_empty() {
        return Ok(Args::None);
    }
    if !words[0].text.contains('=') {
        let Some(split) = rest.find(is_ws) else {
            return Err(ErrorKind::MissingValue(key.to_string()));
        };
        let after = &rest[split..];
        let value_off = split + (after.len() - after.trim_start_matches(is_ws).len());
        let k = &rest[..split];
        let v = &rest[value_off..];
        return Ok(Args::KeyValues(vec![KeyValue {
            key: ctx.word(k, base, base + split),
            value: ctx.word(v, base + value_off, base + rest.len()),
            legacy: true,
        }]));
    }
    let mut pairs = Vec::new();
    for w in &words {
        let Some(eq) = w.text.find('=') else {
            return Err(ErrorKind::MissingEquals(w.text.clone()));
        };
        let eq_char = w.text[..eq].chars().count();
        let total = w.text.chars().count();
        pairs.push(KeyValue {
            key: tracked_word(w, 0, eq_char, ctx),
            value: tracked_word(w, eq_char + 1, total, ctx),
            legacy: false,
        });
    }
    Ok(Args::KeyValues(pairs))
}

/// ARG (`parseNameOrNameVal`).
fn name_or_name_val(rest: &str, base: usize, ctx: &Ctx<'_>) -> Args {
    let words = parse_words(rest, base, ctx.escape);
    if words.is_empty() {
        return Args::None;
    }
    Args::Args(
        words
            .iter()
            .map(|w| {
                let total = w.text.chars().count();
                let raw = tracked_word(w, 0, total, ctx);
                match w.text.find('=') {
                    Some(eq) => {
                        let eq_char = w.text[..eq].chars().count();
                        ArgDecl {
                            raw,
                            name: tracked_word(w, 0, eq_char, ctx),
                            default: Some(tracked_word(w, eq_char + 1, total, ctx)),
                        }
                    }
                    None => ArgDecl {
                        name: raw.clone(),
                        raw,
                        default: None,
                    },
                }
            })
            .collect(),
    )
}

/// FROM and EXPOSE (`parseStringsWhitespaceDelimited`).
fn whitespace_delimited(rest: &str, base: usize, ctx: &Ctx<'_>) -> Args {
    if rest.is_empty() {
        return Args::None;
    }
    let mut words = Vec::new();
    let mut start = 0;
    let mut in_ws = false;
    for (i, c) in rest.char_indices() {
        if is_ws(c) {
            if !in_ws {
                words.push(ctx.word(&rest[start..i], base + start, base + i));
                in_ws = true;
            }
        } else if in_ws {
            start = i;
            in_ws = false;
        }
    }
    if in_ws {
        words.push(ctx.word("", base + rest.len(), base + rest.len()));
    } else {
        words.push(ctx.word(&rest[start..], base + start, base + rest.len()));
    }
    Args::List(words)
}

/// `parseJSON`: `Some` if `rest` is a JSON array of strings.
fn json_form(rest: &str, base: usize, ctx: &Ctx<'_>) -> Result<Option<Args>, ErrorKind> {
    let t = rest.trim_start_matches(is_space);
    let off = rest.len() - t.len();
    if !t.starts_with('[') {
        return Ok(None);
    }
    match json::parse_array(t) {
        JsonArray::Strings(items) => Ok(Some(Args::Exec(
            items
                .iter()
                .map(|s| ctx.word(&s.value, base + off + s.start, base + off + s.end))
                .collect(),
        ))),
        JsonArray::NotStringArray => Err(ErrorKind::NotStringArray),
        JsonArray::Invalid => Ok(None),
    }
}

/// RUN, CMD, ENTRYPOINT, SHELL (`parseMaybeJSON`).
fn maybe_json(rest: &str, base: usize, ctx: &Ctx<'_>) -> Result<Args, ErrorKind> {
    if rest.is_empty() {
        return Ok(Args::None);
    }
    Ok(match json_form(rest, base, ctx)? {
        Some(a) => a,
        None => Args::Shell(ctx.word(rest, base, base + rest.len())),
    })
}

/// COPY, ADD, VOLUME (`parseMaybeJSONToList`).
fn maybe_json_to_list(rest: &str, base: usize, ctx: &Ctx<'_>) -> Result<Args, ErrorKind> {
    Ok(match json_form(rest, base, ctx)? {
        Some(a) => a,
        None => whitespace_delimited(rest, base, ctx),
    })
}

/// HEALTHCHECK (`parseHealthConfig`).
fn health_config(rest: &str, base: usize, ctx: &Ctx<'_>) -> Result<Args, ErrorKind> {
    let sep = rest.find(is_space).unwrap_or(rest.len());
    if sep == 0 {
        return Ok(Args::None);
    }
    let after = &rest[sep..];
    let next = sep + (after.len() - after.trim_start_matches(is_space).len());
    let cmd = maybe_json(&rest[next..], base + next, ctx)?;
    Ok(Args::Healthcheck {
        kind: ctx.word(&rest[..sep], base, base + sep),
        cmd: Box::new(cmd),
    })
}
