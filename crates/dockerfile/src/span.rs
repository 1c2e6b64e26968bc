//! Byte spans into the original source, with line and column.

use serde::Serialize;

/// A range of bytes in the original Dockerfile text, `start..end`, with the line
/// and column of both ends.
///
/// Offsets index the text exactly as given to [`crate::parse`], a UTF-8 byte
/// order mark included, so `&src[span.start..span.end]` is the spanned text and
/// replacing exactly those bytes changes nothing else. Lines are 1-based; columns
/// are 1-based and count Unicode scalar values from the start of the line (a BOM
/// on the first line is not counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Span {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset one past the last byte.
    pub end: usize,
    /// Line of `start` (1-based).
    pub line: usize,
    /// Column of `start` (1-based, in characters).
    pub col: usize,
    /// Line of `end`.
    pub end_line: usize,
    /// Column of `end` (1-based, in characters; one past the last character).
    pub end_col: usize,
}

impl Span {
    /// The spanned text of `src`, or `""` if `src` is not the parsed text.
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        src.get(self.start..self.end).unwrap_or("")
    }

    /// Number of bytes covered.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// True if the span covers no bytes.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// Maps byte offsets to 1-based lines and columns (columns count characters; a BOM on the
/// first line is not counted), as every [`Span`] of this crate has them. Other parsers of the
/// same files (YAML scalars in `plinth-pin`) use it so their spans agree.
#[derive(Debug, Clone)]
pub struct LineIndex<'a> {
    src: &'a str,
    /// Byte offset where each line's content starts (after a BOM on line 1).
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    /// The index of `src`.
    pub fn new(src: &'a str) -> Self {
        let mut starts = vec![if src.starts_with('\u{feff}') { 3 } else { 0 }];
        for (i, b) in src.bytes().enumerate() {
            if b == b'\n' {
                starts.push(i + 1);
            }
        }
        LineIndex { src, starts }
    }

    /// 1-based line and column of `offset`.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.src.len());
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.starts[line].min(offset);
        let col = self
            .src
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        (line + 1, col)
    }

    /// The span of bytes `start..end`.
    pub fn span(&self, start: usize, end: usize) -> Span {
        let (line, col) = self.position(start);
        let (end_line, end_col) = self.position(end);
        Span {
            start,
            end,
            line,
            col,
            end_line,
            end_col,
        }
    }

    /// Byte range of line `line` (1-based) without its line terminator.
    pub(crate) fn line_text(&self, line: usize) -> &'a str {
        let Some(&start) = self.starts.get(line.wrapping_sub(1)) else {
            return "";
        };
        let rest = &self.src[start..];
        let end = rest.find('\n').unwrap_or(rest.len());
        rest[..end].trim_end_matches('\r')
    }
}

/// Maps offsets in a logical line (continuation lines joined) back to the source.
#[derive(Debug, Clone, Default)]
pub(crate) struct SourceMap {
    /// `(logical offset, source offset, length)` of each contiguous piece.
    pieces: Vec<(usize, usize, usize)>,
    len: usize,
}

impl SourceMap {
    pub(crate) fn push(&mut self, source: usize, len: usize) {
        if len == 0 {
            return;
        }
        self.pieces.push((self.len, source, len));
        self.len += len;
    }

    /// A map for a substring starting at logical offset `from`.
    pub(crate) fn shifted(&self, from: usize) -> SourceMap {
        let mut m = SourceMap::default();
        for &(l, s, n) in &self.pieces {
            if l + n <= from {
                continue;
            }
            if l >= from {
                m.push(s, n);
            } else {
                let skip = from - l;
                m.push(s + skip, n - skip);
            }
        }
        m
    }

    /// Source offset of the character at logical offset `off`.
    pub(crate) fn start(&self, off: usize) -> usize {
        for &(l, s, n) in &self.pieces {
            if off < l + n {
                return s + off.saturating_sub(l);
            }
        }
        self.pieces.last().map_or(0, |&(_, s, n)| s + n)
    }

    /// Source offset just past the character ending at logical offset `off`.
    pub(crate) fn end(&self, off: usize) -> usize {
        for &(l, s, n) in &self.pieces {
            if off > l && off <= l + n {
                return s + (off - l);
            }
        }
        self.start(off)
    }

    /// Source byte range of logical range `a..b`.
    pub(crate) fn range(&self, a: usize, b: usize) -> (usize, usize) {
        if a >= b {
            let s = self.start(a);
            return (s, s);
        }
        (self.start(a), self.end(b))
    }
}
