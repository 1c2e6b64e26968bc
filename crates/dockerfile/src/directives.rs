//! Parser directives at the top of a Dockerfile: `# syntax=`, `# escape=`, `# check=`.

use crate::error::ErrorKind;

/// The directive names BuildKit accepts.
pub const KNOWN_DIRECTIVES: [&str; 3] = ["syntax", "escape", "check"];

/// A directive found on a line: name (lowercased), value, and the value's byte
/// range within the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub name: String,
    pub value: String,
    pub value_range: (usize, usize),
}

/// BuildKit's `DirectiveParser`: directives are recognised only until the first
/// line that is not one (an empty line, an ordinary comment or an instruction).
#[derive(Debug, Default)]
pub(crate) struct DirectiveParser {
    done: bool,
    seen: Vec<String>,
}

/// Go's regexp `\s`: `[\t\n\f\r ]`.
fn is_re_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

impl DirectiveParser {
    /// Looks at one line (newline and leading whitespace already removed).
    pub(crate) fn parse_line(&mut self, line: &str) -> Result<Option<Found>, ErrorKind> {
        if self.done {
            return Ok(None);
        }
        let Some(after_hash) = line.strip_prefix('#') else {
            self.done = true;
            return Ok(None);
        };
        let body = after_hash.trim_start_matches(crate::lexer::is_space);
        let body_off = line.len() - body.len();
        let Some(found) = match_directive(body) else {
            self.done = true;
            return Ok(None);
        };
        if !KNOWN_DIRECTIVES.contains(&found.name.as_str()) {
            self.done = true;
            return Ok(None);
        }
        if self.seen.contains(&found.name) {
            return Err(ErrorKind::DuplicateDirective(found.name));
        }
        self.seen.push(found.name.clone());
        Ok(Some(Found {
            value_range: (
                found.value_range.0 + body_off,
                found.value_range.1 + body_off,
            ),
            ..found
        }))
    }
}

/// `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` with Go's leftmost-first preference.
fn match_directive(s: &str) -> Option<Found> {
    let name_len = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(s.len(), |(i, _)| i);
    if name_len == 0 {
        return None;
    }
    let name = &s[..name_len];
    let rest = &s[name_len..];
    let after_ws = rest.trim_start_matches(is_re_space);
    let after_eq = after_ws.strip_prefix('=')?;
    if after_eq.contains('\n') || after_eq.is_empty() {
        return None;
    }
    let eq_end = s.len() - after_eq.len();
    // `\s*` is greedy but must leave at least one character for `(.+?)`.
    let lead = after_eq.len() - after_eq.trim_start_matches(is_re_space).len();
    let lead = if lead == after_eq.len() {
        after_eq.len() - after_eq.chars().next_back().map_or(0, char::len_utf8)
    } else {
        lead
    };
    let value_all = &after_eq[lead..];
    let trimmed = value_all.trim_end_matches(is_re_space);
    let value = if trimmed.is_empty() {
        &value_all[..value_all.chars().next().map_or(0, char::len_utf8)]
    } else {
        trimmed
    };
    let start = eq_end + lead;
    Some(Found {
        name: name.to_ascii_lowercase(),
        value: value.to_string(),
        value_range: (start, start + value.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directive_regex() {
        let f = match_directive("escape = `").unwrap();
        assert_eq!((f.name.as_str(), f.value.as_str()), ("escape", "`"));
        let f = match_directive("Syntax=docker/dockerfile:1  ").unwrap();
        assert_eq!(
            (f.name.as_str(), f.value.as_str(), f.value_range),
            ("syntax", "docker/dockerfile:1", (7, 26))
        );
        assert_eq!(match_directive("escape=   ").unwrap().value, " ");
        assert!(match_directive("escape").is_none());
        assert!(match_directive("1x=y").is_none());
        assert!(match_directive("x y=z").is_none());
        let f = match_directive("check=skip=all;error=true").unwrap();
        assert_eq!(f.value, "skip=all;error=true");
    }

    #[test]
    fn duplicates_and_end() {
        let mut p = DirectiveParser::default();
        assert!(p.parse_line("# syntax=a").unwrap().is_some());
        assert_eq!(
            p.parse_line("#syntax=b"),
            Err(ErrorKind::DuplicateDirective("syntax".into()))
        );
        assert!(p.parse_line("# unknown=1").unwrap().is_none());
        assert!(p.parse_line("# escape=`").unwrap().is_none());
    }
}
