//! BuildKit's shell lexer: variable expansion, quote removal and word splitting.
//!
//! This is a port of the behaviour of `frontend/dockerfile/shell/lex.go`, checked
//! against BuildKit's own `envVarTest` and `wordsTest` tables. Supported forms:
//! `$V`, `${V}`, `${V:-w}`, `${V-w}`, `${V:+w}`, `${V+w}`, `${V:?e}`, `${V?e}`,
//! `${V#p}`, `${V##p}`, `${V%p}`, `${V%%p}`, `${V/p/r}`, `${V//p/r}` (patterns are
//! shell globs: `*`, `?` and `\`-escapes), single and double quotes, and the escape
//! token (`\` or a backtick).
//!
//! Known divergence: variable names use Rust's `char::is_alphabetic` and
//! `char::is_numeric` where Go uses the Unicode categories L and Nd; the two only
//! differ for a few non-ASCII characters.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Why an expansion failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to process {word:?}: {message}")]
pub struct ShellError {
    /// The word being expanded.
    pub word: String,
    /// What went wrong, worded as BuildKit words it.
    pub message: String,
}

/// A source of variable values for expansion.
pub trait Env {
    /// Returns the value of `name`, or `None` if it is unset. An empty value is set.
    fn lookup(&self, name: &str) -> Option<&str>;

    /// Returns the value of `name` comparing names case-insensitively (Windows).
    fn lookup_case_insensitive(&self, name: &str) -> Option<&str> {
        self.lookup(name)
    }
}

impl<S: std::hash::BuildHasher> Env for HashMap<String, String, S> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
    fn lookup_case_insensitive(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name) || k.to_uppercase() == name.to_uppercase())
            .map(|(_, v)| v.as_str())
    }
}

impl Env for BTreeMap<String, String> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
    fn lookup_case_insensitive(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.to_uppercase() == name.to_uppercase())
            .map(|(_, v)| v.as_str())
    }
}

/// `KEY=value` strings as BuildKit's `BuildEnvs` reads them: a later entry wins,
/// an entry without `=` sets the key to the empty string.
impl Env for [String] {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.iter().rev().find_map(|e| match e.split_once('=') {
            Some((k, v)) if k == name => Some(v),
            None if e == name => Some(""),
            _ => None,
        })
    }
    fn lookup_case_insensitive(&self, name: &str) -> Option<&str> {
        let upper = name.to_uppercase();
        self.iter().rev().find_map(|e| match e.split_once('=') {
            Some((k, v)) if k.to_uppercase() == upper => Some(v),
            None if e.to_uppercase() == upper => Some(""),
            _ => None,
        })
    }
}

impl Env for Vec<String> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.as_slice().lookup(name)
    }
    fn lookup_case_insensitive(&self, name: &str) -> Option<&str> {
        self.as_slice().lookup_case_insensitive(name)
    }
}

impl Env for [(String, String)] {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn lookup_case_insensitive(&self, name: &str) -> Option<&str> {
        let upper = name.to_uppercase();
        self.iter()
            .rev()
            .find(|(k, _)| k.to_uppercase() == upper)
            .map(|(_, v)| v.as_str())
    }
}

/// What [`Lexer::process`] produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Processed {
    /// The expanded word (what `ProcessWord` returns).
    pub result: String,
    /// The expanded word split into words (what `ProcessWords` returns).
    pub words: Vec<String>,
    /// Variables that were referenced and set.
    pub matched: BTreeSet<String>,
    /// Variables that were referenced but unset.
    pub unmatched: BTreeSet<String>,
}

/// The shell lexer with BuildKit's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lexer {
    /// The escape token: `\` (default) or a backtick.
    pub escape: char,
    /// Keep quote characters in the output.
    pub raw_quotes: bool,
    /// Keep escape tokens in the output.
    pub raw_escapes: bool,
    /// Treat quotes as ordinary characters.
    pub skip_process_quotes: bool,
    /// Leave references to unset variables as written (`$X`, `${X:-w}`…).
    pub skip_unset_env: bool,
    /// Compare variable names case-insensitively, as BuildKit does on Windows.
    pub case_insensitive_env: bool,
}

impl Default for Lexer {
    fn default() -> Self {
        Self::new('\\')
    }
}

/// Expands `word` with `\` as escape token (BuildKit's `ProcessWord`).
pub fn process_word<E: Env + ?Sized>(word: &str, env: &E) -> Result<String, ShellError> {
    Lexer::new('\\').process_word(word, env)
}

/// Expands `word` and splits it into words (BuildKit's `ProcessWords`).
pub fn process_words<E: Env + ?Sized>(word: &str, env: &E) -> Result<Vec<String>, ShellError> {
    Lexer::new('\\').process_words(word, env)
}

impl Lexer {
    /// A lexer with the given escape token and every option off.
    pub fn new(escape: char) -> Self {
        Lexer {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_process_quotes: false,
            skip_unset_env: false,
            case_insensitive_env: false,
        }
    }

    /// Expands variables and removes quotes; the result is one word.
    pub fn process_word<E: Env + ?Sized>(&self, word: &str, env: &E) -> Result<String, ShellError> {
        self.process(word, env).map(|p| p.result)
    }

    /// Expands variables, then splits into words on unquoted whitespace.
    pub fn process_words<E: Env + ?Sized>(
        &self,
        word: &str,
        env: &E,
    ) -> Result<Vec<String>, ShellError> {
        self.process(word, env).map(|p| p.words)
    }

    /// Expands `word` and reports both forms plus the variables it used.
    pub fn process<E: Env + ?Sized>(&self, word: &str, env: &E) -> Result<Processed, ShellError> {
        let mut sw = ShellWord {
            depth: 0,
            lex: *self,
            chars: word.chars().collect(),
            pos: 0,
            env,
            raw_escapes: self.raw_escapes,
            matched: BTreeSet::new(),
            unmatched: BTreeSet::new(),
        };
        match sw.process_stop_on(None, self.raw_escapes) {
            Ok((result, words)) => Ok(Processed {
                result,
                words,
                matched: sw.matched,
                unmatched: sw.unmatched,
            }),
            Err(message) => Err(ShellError {
                word: word.to_string(),
                message,
            }),
        }
    }
}

/// How deeply `${…}` may nest. Go's growable stacks have no such limit; this
/// bound keeps a hostile input from overflowing the thread's stack.
const MAX_NESTING: usize = 64;

struct ShellWord<'e, E: Env + ?Sized> {
    depth: usize,
    lex: Lexer,
    chars: Vec<char>,
    pos: usize,
    env: &'e E,
    raw_escapes: bool,
    matched: BTreeSet<String>,
    unmatched: BTreeSet<String>,
}

#[derive(Default)]
struct Words {
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() && self.in_word {
            if !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else if !ch.is_whitespace() {
            self.add_raw_char(ch);
        }
    }
    fn add_raw_char(&mut self, ch: char) {
        self.word.push(ch);
        self.in_word = true;
    }
    fn add_string(&mut self, s: &str) {
        for ch in s.chars() {
            self.add_char(ch);
        }
    }
    fn add_raw_string(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }
    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(std::mem::take(&mut self.word));
        }
        self.words
    }
}

type Res<T> = Result<T, String>;

impl<E: Env + ?Sized> ShellWord<'_, E> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn process_stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Res<(String, Vec<String>)> {
        if self.depth >= MAX_NESTING {
            return Err(format!(
                "syntax error: substitutions nested deeper than {MAX_NESTING} levels"
            ));
        }
        self.depth += 1;
        let saved = self.raw_escapes;
        self.raw_escapes = raw_escapes;
        let r = self.process_stop_on_inner(stop);
        self.raw_escapes = saved;
        self.depth -= 1;
        r
    }

    fn process_stop_on_inner(&mut self, stop: Option<char>) -> Res<(String, Vec<String>)> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(ch) = self.peek() {
            if stop == Some(ch) {
                self.next();
                return Ok((result, words.finish()));
            }
            let special = ch == '$' || (!self.lex.skip_process_quotes && (ch == '\'' || ch == '"'));
            if special {
                let tmp = match ch {
                    '$' => self.process_dollar()?,
                    '\'' => self.process_single_quote()?,
                    _ => self.process_double_quote()?,
                };
                result.push_str(&tmp);
                if ch == '$' {
                    words.add_string(&tmp);
                } else {
                    words.add_raw_string(&tmp);
                }
            } else {
                let mut ch = self.next().unwrap_or_default();
                if ch == self.lex.escape {
                    if self.raw_escapes {
                        words.add_raw_char(ch);
                        result.push(ch);
                    }
                    match self.next() {
                        None => break,
                        Some(c) => ch = c,
                    }
                    words.add_raw_char(ch);
                } else {
                    words.add_char(ch);
                }
                result.push(ch);
            }
        }
        if let Some(stop) = stop {
            return Err(format!(
                "unexpected end of statement while looking for matching {stop}"
            ));
        }
        Ok((result, words.finish()))
    }

    fn process_single_quote(&mut self) -> Res<String> {
        let mut result = String::new();
        let open = self.next().unwrap_or('\'');
        if self.lex.raw_quotes {
            result.push(open);
        }
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    );
                }
                Some('\'') => {
                    if self.lex.raw_quotes {
                        result.push('\'');
                    }
                    return Ok(result);
                }
                Some(c) => result.push(c),
            }
        }
    }

    fn process_double_quote(&mut self) -> Res<String> {
        let mut result = String::new();
        let open = self.next().unwrap_or('"');
        if self.lex.raw_quotes {
            result.push(open);
        }
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    );
                }
                Some('"') => {
                    self.next();
                    if self.lex.raw_quotes {
                        result.push('"');
                    }
                    return Ok(result);
                }
                Some('$') => {
                    let v = self.process_dollar()?;
                    result.push_str(&v);
                }
                Some(_) => {
                    let mut ch = self.next().unwrap_or_default();
                    if ch == self.lex.escape {
                        if self.raw_escapes {
                            result.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            Some(c) if c == '"' || c == '$' || c == self.lex.escape => {
                                ch = c;
                                self.next();
                            }
                            Some(_) => {}
                        }
                    }
                    result.push(ch);
                }
            }
        }
    }

    fn get_env(&mut self, name: &str) -> Option<String> {
        let v = if self.lex.case_insensitive_env {
            self.env.lookup_case_insensitive(name)
        } else {
            self.env.lookup(name)
        };
        match v {
            Some(v) => {
                self.matched.insert(name.to_string());
                Some(v.to_string())
            }
            None => {
                self.unmatched.insert(name.to_string());
                None
            }
        }
    }

    fn process_dollar(&mut self) -> Res<String> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(match self.get_env(&name) {
                Some(v) => v,
                None if self.lex.skip_unset_env => format!("${name}"),
                None => String::new(),
            });
        }
        self.next();
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            _ => {}
        }
        let name = self.process_name();
        let mut ch = self.next();
        // Go renders EOF (-1) as U+FFFD in this string.
        let mut chs = ch.unwrap_or('\u{fffd}').to_string();
        let mut null_is_unset = false;
        match ch {
            Some('}') => Ok(match self.get_env(&name) {
                Some(v) => v,
                None if self.lex.skip_unset_env => format!("${{{name}}}"),
                None => String::new(),
            }),
            Some(':' | '+' | '-' | '?' | '#' | '%') => {
                if ch == Some(':') {
                    null_is_unset = true;
                    ch = self.next();
                    chs.push(ch.unwrap_or('\u{fffd}'));
                }
                let raw = matches!(ch, Some('#' | '%'));
                let mut word = match self.process_stop_on(Some('}'), raw) {
                    Ok((w, _)) => w,
                    Err(e) => {
                        if self.peek().is_none() {
                            return Err("syntax error: missing '}'".into());
                        }
                        return Err(e);
                    }
                };
                let value = self.get_env(&name);
                if self.lex.skip_unset_env && value.is_none() {
                    return Ok(format!("${{{name}{chs}{word}}}"));
                }
                let unset_or_null =
                    value.is_none() || (null_is_unset && value.as_deref() == Some(""));
                match ch {
                    Some('-') => Ok(if unset_or_null {
                        word
                    } else {
                        value.unwrap_or_default()
                    }),
                    Some('+') => Ok(if unset_or_null { String::new() } else { word }),
                    Some('?') => {
                        let message = |default: &str| {
                            if word.is_empty() {
                                default.to_string()
                            } else {
                                word.clone()
                            }
                        };
                        match value {
                            None => {
                                Err(format!("{name}: {}", message("is not allowed to be unset")))
                            }
                            Some(v) if null_is_unset && v.is_empty() => {
                                Err(format!("{name}: {}", message("is not allowed to be empty")))
                            }
                            Some(v) => Ok(v),
                        }
                    }
                    Some(op @ ('%' | '#')) => {
                        let mut greedy = false;
                        if word.starts_with(op) {
                            greedy = true;
                            word.remove(0);
                        }
                        let value = value.unwrap_or_default();
                        if op == '%' {
                            trim_suffix(&word, &value, greedy)
                        } else {
                            trim_prefix(&word, &value, greedy)
                        }
                    }
                    _ => Err(format!("unsupported modifier ({chs}) in substitution")),
                }
            }
            Some('/') => {
                let replace_all = self.peek() == Some('/');
                if replace_all {
                    self.next();
                }
                let pattern = match self.process_stop_on(Some('/'), true) {
                    Ok((p, _)) => p,
                    Err(e) => {
                        if self.peek().is_none() {
                            return Err("syntax error: missing '/' in ${}".into());
                        }
                        return Err(e);
                    }
                };
                let replacement = match self.process_stop_on(Some('}'), true) {
                    Ok((r, _)) => r,
                    Err(e) => {
                        if self.peek().is_none() {
                            return Err("syntax error: missing '}'".into());
                        }
                        return Err(e);
                    }
                };
                let value = self.get_env(&name);
                if self.lex.skip_unset_env && value.is_none() {
                    return Ok(format!("${{{name}/{pattern}/{replacement}}}"));
                }
                let value: Vec<char> = value.unwrap_or_default().chars().collect();
                let pat = Pattern::compile(&pattern, true)
                    .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
                if replace_all {
                    Ok(replace_all_go(&pat, &value, &replacement))
                } else {
                    let mut out: String = value.iter().collect();
                    if let Some((a, b)) = pat.find(&value, false) {
                        out = value[..a].iter().collect::<String>()
                            + &replacement
                            + &value[b..].iter().collect::<String>();
                    }
                    Ok(out)
                }
            }
            _ => Err(format!("unsupported modifier ({chs}) in substitution")),
        }
    }

    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && is_digit(ch) {
                while let Some(c) = self.peek() {
                    if !is_digit(c) {
                        break;
                    }
                    self.next();
                    name.push(c);
                }
                return name;
            }
            if name.is_empty() && is_special_param(ch) {
                self.next();
                return ch.to_string();
            }
            if !is_letter(ch) && !is_digit(ch) && ch != '_' {
                break;
            }
            self.next();
            name.push(ch);
        }
        name
    }
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric())
}

fn is_letter(c: char) -> bool {
    c.is_ascii_alphabetic() || (!c.is_ascii() && c.is_alphabetic())
}

fn is_special_param(c: char) -> bool {
    matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0')
}

/// One element of a shell pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    /// `*`: any run of characters other than a newline.
    Star,
    /// `?`: one character other than a newline.
    Any,
    Lit(char),
}

/// A compiled shell pattern (`*`, `?`, escapes; no bracket expressions), matched
/// with the leftmost-first preference of Go's `regexp` (which BuildKit converts
/// patterns to): a greedy `*` prefers the longest run, a lazy one the shortest.
#[derive(Debug, Clone)]
struct Pattern {
    toks: Vec<Tok>,
    greedy: bool,
}

impl Pattern {
    fn compile(pattern: &str, greedy: bool) -> Result<Pattern, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut toks = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '*' => toks.push(Tok::Star),
                '?' => toks.push(Tok::Any),
                '\\' => {
                    // `}` and `/` are escaped only to get them through `${}`.
                    if matches!(chars.get(i), Some('}' | '/')) {
                        continue;
                    }
                    match chars.get(i) {
                        Some(&n @ ('*' | '?' | '\\')) => {
                            toks.push(Tok::Lit(n));
                            i += 1;
                        }
                        Some(&n) => return Err(format!("invalid escape '\\{n}'")),
                        None => return Err("invalid escape '\\\u{fffd}'".into()),
                    }
                }
                c => toks.push(Tok::Lit(c)),
            }
        }
        Ok(Pattern { toks, greedy })
    }

    /// `can[i * (n + 1) + p]`: tokens `i..` match some prefix of `s[p..]`.
    fn table(&self, s: &[char]) -> Vec<bool> {
        let n = s.len();
        let m = self.toks.len();
        let width = n + 1;
        let mut can = vec![false; (m + 1) * width];
        for p in 0..=n {
            can[m * width + p] = true;
        }
        for i in (0..m).rev() {
            for p in (0..=n).rev() {
                can[i * width + p] = match self.toks[i] {
                    Tok::Lit(c) => p < n && s[p] == c && can[(i + 1) * width + p + 1],
                    Tok::Any => p < n && s[p] != '\n' && can[(i + 1) * width + p + 1],
                    Tok::Star => {
                        can[(i + 1) * width + p]
                            || (p < n && s[p] != '\n' && can[i * width + p + 1])
                    }
                };
            }
        }
        can
    }

    /// The preferred match starting exactly at `start`; returns its end.
    fn match_at(&self, can: &[bool], s: &[char], start: usize) -> Option<usize> {
        let n = s.len();
        let width = n + 1;
        if !can[start] {
            return None;
        }
        let mut p = start;
        for (i, tok) in self.toks.iter().enumerate() {
            match tok {
                Tok::Lit(_) | Tok::Any => p += 1,
                Tok::Star => {
                    // Longest (greedy) or shortest run after which the rest matches.
                    let mut max = p;
                    while max < n && s[max] != '\n' {
                        max += 1;
                    }
                    let next = |q: usize| can[(i + 1) * width + q];
                    p = if self.greedy {
                        (p..=max).rev().find(|&q| next(q)).unwrap_or(p)
                    } else {
                        (p..=max).find(|&q| next(q)).unwrap_or(p)
                    };
                }
            }
        }
        Some(p)
    }

    /// Leftmost match at or after `from` (or only at `from` when `anchored`).
    fn find_from(
        &self,
        can: &[bool],
        s: &[char],
        from: usize,
        anchored: bool,
    ) -> Option<(usize, usize)> {
        if anchored {
            return self.match_at(can, s, from).map(|e| (from, e));
        }
        (from..=s.len()).find_map(|a| self.match_at(can, s, a).map(|e| (a, e)))
    }

    fn find(&self, s: &[char], anchored: bool) -> Option<(usize, usize)> {
        let can = self.table(s);
        self.find_from(&can, s, 0, anchored)
    }
}

/// Go's `Regexp.ReplaceAllString`: empty matches right after a match are skipped
/// and `$` in the replacement is a template (`$0`/`${0}` is the match, other
/// names are empty, `$$` is a dollar).
fn replace_all_go(pat: &Pattern, value: &[char], replacement: &str) -> String {
    let mut out = String::new();
    let mut last_end = 0;
    let mut search = 0;
    let can = pat.table(value);
    while search <= value.len() {
        let Some((a, b)) = pat.find_from(&can, value, search, false) else {
            break;
        };
        out.extend(&value[last_end..a]);
        if b > last_end || a == 0 {
            expand_template(&mut out, replacement, &value[a..b]);
        }
        last_end = b;
        if search + 1 > b {
            search += 1;
        } else {
            search = b;
        }
    }
    if last_end <= value.len() {
        out.extend(&value[last_end..]);
    }
    out
}

fn expand_template(out: &mut String, template: &str, matched: &[char]) {
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        // extract(): `{name}` or the longest run of [A-Za-z0-9_].
        let (name, after) = if let Some(r) = rest.strip_prefix('{') {
            match r.find('}') {
                Some(end)
                    if end > 0
                        && r[..end]
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                {
                    (&r[..end], &r[end + 1..])
                }
                _ => {
                    out.push('$');
                    continue;
                }
            }
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if end == 0 {
                out.push('$');
                continue;
            }
            (&rest[..end], &rest[end..])
        };
        rest = after;
        let is_zero = name.bytes().all(|b| b.is_ascii_digit())
            && name.trim_start_matches('0').is_empty()
            && name.len() < 9;
        if is_zero {
            out.extend(matched);
        }
    }
    out.push_str(rest);
}

fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Res<String> {
    let pat = Pattern::compile(pattern, greedy)
        .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
    let chars: Vec<char> = value.chars().collect();
    Ok(match pat.find(&chars, true) {
        Some((_, end)) => chars[end..].iter().collect(),
        None => value.to_string(),
    })
}

fn reverse_pattern(pattern: &str) -> String {
    let p: Vec<char> = pattern.chars().collect();
    let mut out = vec!['\0'; p.len()];
    let last = p.len().saturating_sub(1);
    let mut i = 0;
    while i < p.len() {
        let tok = p[i];
        let out_idx = last - i;
        if tok == '\\' && i != last {
            out[out_idx - 1] = tok;
            out[out_idx] = p[i + 1];
            i += 2;
        } else {
            out[out_idx] = tok;
            i += 1;
        }
    }
    out.into_iter().collect()
}

fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Res<String> {
    let pattern = reverse_pattern(pattern);
    let value: String = value.chars().rev().collect();
    let r = trim_prefix(&pattern, &value, greedy)?;
    Ok(r.chars().rev().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Vec<String> {
        vec!["V=foo/bar/baz.tar.gz".into(), "E=".into()]
    }

    #[test]
    fn patterns() {
        let e = env();
        let w = |s: &str| process_word(s, &e).unwrap();
        assert_eq!(w("${V#*/}"), "bar/baz.tar.gz");
        assert_eq!(w("${V##*/}"), "baz.tar.gz");
        assert_eq!(w("${V%.*}"), "foo/bar/baz.tar");
        assert_eq!(w("${V%%.*}"), "foo/bar/baz");
        assert_eq!(w("${V/a/X}"), "foo/bXr/baz.tar.gz");
        assert_eq!(w("${V//a/X}"), "foo/bXr/bXz.tXr.gz");
        assert_eq!(w("${V//?/.}"), "..................");
        assert_eq!(w("${V/\\//-}"), "foo-bar/baz.tar.gz");
        assert_eq!(w("${V//b*\\//}"), "foo/baz.tar.gz");
        assert_eq!(w("${E:-d}"), "d");
        assert_eq!(w("${E-d}"), "");
        assert_eq!(w("${E+x}"), "x");
        assert_eq!(w("${E:+x}"), "");
        assert!(
            process_word("${E:?boom}", &e)
                .unwrap_err()
                .message
                .contains("boom")
        );
        assert!(process_word("${V/\\x/y}", &e).is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let e = env();
        let deep = "${A:-".repeat(100_000) + &"}".repeat(100_000);
        assert!(
            process_word(&deep, &e)
                .unwrap_err()
                .message
                .contains("nested deeper")
        );
        let ok = "${A:-".repeat(60) + "x" + &"}".repeat(60);
        assert_eq!(process_word(&ok, &e).unwrap(), "x");
    }

    #[test]
    fn skip_unset_and_raw() {
        let mut lx = Lexer::new('\\');
        lx.skip_unset_env = true;
        lx.raw_quotes = true;
        let e: Vec<String> = vec![];
        assert_eq!(
            lx.process_word("$X ${Y} ${Z:-d} 'a'", &e).unwrap(),
            "$X ${Y} ${Z:-d} 'a'"
        );
    }
}
