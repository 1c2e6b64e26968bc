//! Physical lines, comments and line continuations, as BuildKit's `Parse` reads them.
//!
//! Why an own lexer rather than the `parse-dockerfile` crate: plinth needs byte
//! spans that stay exact after a UTF-8 BOM and through continuation lines,
//! BuildKit's exact quirks (continuation regex, comment and empty lines inside
//! continuations, directive rules) to match its AST byte for byte, and variable
//! expansion, which that crate lacks. Reproducing BuildKit's line loop directly is
//! smaller than adapting another model.

use crate::span::SourceMap;

/// Go's `unicode.IsSpace`.
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// One line of the source, line terminator included.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PhysLine<'a> {
    /// The text, line terminator included; a BOM on line 1 is not part of it.
    pub text: &'a str,
    /// Byte offset of `text` in the source.
    pub start: usize,
}

impl PhysLine<'_> {
    /// Source offset of the end of the line's content (before `\r\n`).
    pub(crate) fn content_end(&self) -> usize {
        self.start + trim_newline(self.text).len()
    }
}

/// Splits the source into lines on `\n`, keeping terminators (BuildKit's `scanLines`).
pub(crate) struct Lines<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        let pos = if src.starts_with('\u{feff}') { 3 } else { 0 };
        Lines { src, pos }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = PhysLine<'a>;

    fn next(&mut self) -> Option<PhysLine<'a>> {
        if self.pos >= self.src.len() {
            return None;
        }
        let rest = &self.src[self.pos..];
        let len = rest.find('\n').map_or(rest.len(), |i| i + 1);
        let line = PhysLine {
            text: &rest[..len],
            start: self.pos,
        };
        self.pos += len;
        Some(line)
    }
}

/// Removes every trailing `\r` and `\n`.
pub(crate) fn trim_newline(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

/// Removes leading whitespace; returns the rest and how many bytes were removed.
pub(crate) fn trim_leading_space(s: &str) -> (&str, usize) {
    let t = s.trim_start_matches(is_space);
    (t, s.len() - t.len())
}

/// True if the line is a comment: `#` after optional whitespace.
pub(crate) fn is_comment(line: &str) -> bool {
    trim_leading_space(trim_newline(line)).0.starts_with('#')
}

/// True if the line holds only whitespace.
pub(crate) fn is_empty_continuation(line: &str) -> bool {
    trim_leading_space(trim_newline(line)).0.is_empty()
}

/// BuildKit's line continuation rule: the escape token as the last
/// non-blank character (spaces and tabs after it are allowed), unless it is
/// itself escaped. Returns the line without the token and whether the
/// instruction ends here.
pub(crate) fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let t = line.trim_end_matches([' ', '\t']);
    let Some(before) = t.strip_suffix(escape) else {
        return (line, true);
    };
    if before.is_empty() {
        return ("", false);
    }
    if before.ends_with(escape) {
        return (line, true);
    }
    (before, false)
}

/// A logical line: an instruction's physical lines joined.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogicalLine {
    pub text: String,
    pub map: SourceMap,
}

impl LogicalLine {
    pub(crate) fn push(&mut self, piece: &str, source: usize) {
        self.text.push_str(piece);
        self.map.push(source, piece.len());
    }
}
