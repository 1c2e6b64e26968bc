//! Parse errors with location and a human rendering.

use crate::span::Span;

/// What went wrong while parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file holds no instruction (empty, or only comments).
    #[error("file with no instructions")]
    NoInstructions,
    /// A parser directive appears twice.
    #[error("only one {0} parser directive can be used")]
    DuplicateDirective(String),
    /// `# escape=` names something else than `\` or a backtick.
    #[error("invalid escape token '{0}' does not match ` or \\")]
    InvalidEscape(String),
    /// `ENV key` or `LABEL key` without a value.
    #[error("{0} must have two arguments")]
    MissingValue(String),
    /// A word without `=` among `key=value` pairs.
    #[error("Syntax error - can't find = in {0:?}. Must be of the form: name=value")]
    MissingEquals(String),
    /// A JSON array holding something other than strings.
    #[error("when using JSON array syntax, arrays must be comprised of strings only")]
    NotStringArray,
    /// A here-document without its terminator line.
    #[error("unterminated heredoc {0:?}")]
    UnterminatedHeredoc(String),
    /// `ONBUILD ONBUILD …` nested beyond the parser's bound.
    #[error("ONBUILD nested deeper than {0} levels")]
    NestedOnbuild(usize),
    /// A here-document delimiter that the shell lexer rejects.
    #[error("invalid heredoc delimiter: {0}")]
    HeredocDelimiter(String),
}

impl ErrorKind {
    /// What the parser expected instead, for people.
    pub fn expected(&self) -> &'static str {
        match self {
            ErrorKind::NoInstructions => "at least one instruction, such as `FROM image`",
            ErrorKind::DuplicateDirective(_) => {
                "each parser directive at most once, at the top of the file"
            }
            ErrorKind::InvalidEscape(_) => "`# escape=\\` or `# escape=`` (a backtick)",
            ErrorKind::MissingValue(_) => "`KEY=value` or `KEY value`",
            ErrorKind::MissingEquals(_) => "every word of the form `name=value`",
            ErrorKind::NotStringArray => {
                "a JSON array of strings, such as [\"executable\", \"arg\"]"
            }
            ErrorKind::UnterminatedHeredoc(_) => "a line holding only the heredoc delimiter",
            ErrorKind::NestedOnbuild(_) => {
                "one trigger instruction after ONBUILD (chaining ONBUILD isn't allowed)"
            }
            ErrorKind::HeredocDelimiter(_) => {
                "a single word after `<<`, such as `<<EOF` or `<<\"EOF\"`"
            }
        }
    }
}

/// A Dockerfile that BuildKit would refuse.
///
/// `Display` gives `line:col: message`; [`ParseError::render`] adds the file name,
/// the offending line with a caret, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{}: {kind}", span.line, span.col)]
pub struct ParseError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Where (for whole-instruction errors, the instruction).
    pub span: Span,
}

impl ParseError {
    /// Line (1-based).
    pub fn line(&self) -> usize {
        self.span.line
    }

    /// Column (1-based, in characters).
    pub fn col(&self) -> usize {
        self.span.col
    }

    /// Renders the error for people:
    ///
    /// ```text
    /// Dockerfile:3:1: ENV must have two arguments
    ///   3 | ENV PATH
    ///     | ^^^^^^^^
    ///   = expected: `KEY=value` or `KEY value`
    /// ```
    pub fn render(&self, file_name: &str, source: &str) -> String {
        let mut out = format!(
            "{file_name}:{}:{}: {}\n",
            self.span.line, self.span.col, self.kind
        );
        let index = crate::span::LineIndex::new(source);
        let text = index.line_text(self.span.line);
        if !text.is_empty() || self.span.line > 0 {
            let num = self.span.line.to_string();
            let pad = " ".repeat(num.len());
            out.push_str(&format!("  {num} | {text}\n"));
            let col = self.span.col.max(1);
            let width = if self.span.end_line == self.span.line {
                self.span.end_col.saturating_sub(col).max(1)
            } else {
                text.chars().count().saturating_sub(col - 1).max(1)
            };
            out.push_str(&format!(
                "  {pad} | {}{}\n",
                " ".repeat(col - 1),
                "^".repeat(width)
            ));
        }
        out.push_str(&format!("  = expected: {}\n", self.kind.expected()));
        out
    }
}
