//! The top-level loop: BuildKit's `parser.Parse`, with spans.

use crate::ast::{Directive, Dockerfile, Heredoc, Instruction, Warning};
use crate::directives::DirectiveParser;
use crate::error::{ErrorKind, ParseError};
use crate::heredoc;
use crate::instructions::{self, Ctx};
use crate::lexer::{self, Lines, LogicalLine, PhysLine};
use crate::span::{LineIndex, Span};

/// Parses a Dockerfile the way BuildKit's parser does.
///
/// Fails on what BuildKit's parser refuses: no instruction at all, duplicate or
/// invalid directives, `ENV`/`LABEL` without value, JSON arrays of non-strings,
/// unterminated heredocs. Unknown instructions are kept as
/// [`crate::InstructionKind::Unknown`] (BuildKit refuses them later, when it
/// builds).
pub fn parse(src: &str) -> Result<Dockerfile, ParseError> {
    Parser::new(src).run()
}

struct Parser<'a> {
    src: &'a str,
    index: LineIndex<'a>,
    lines: std::iter::Peekable<Lines<'a>>,
    directives: DirectiveParser,
    escape: char,
    found_directives: Vec<Directive>,
    last_line: Option<PhysLine<'a>>,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Parser {
            src,
            index: LineIndex::new(src),
            lines: Lines::new(src).peekable(),
            directives: DirectiveParser::default(),
            escape: '\\',
            found_directives: Vec::new(),
            last_line: None,
        }
    }

    fn error_at_line(&self, kind: ErrorKind, line: &PhysLine<'_>) -> ParseError {
        let (t, lead) = lexer::trim_leading_space(lexer::trim_newline(line.text));
        let start = line.start + lead;
        ParseError {
            kind,
            span: self.index.span(start, start + t.len()),
        }
    }

    fn next_line(&mut self) -> Option<PhysLine<'a>> {
        let l = self.lines.next();
        if l.is_some() {
            self.last_line = l;
        }
        l
    }

    /// BuildKit's `processLine`: newline (and optionally leading space) removed,
    /// directives recognised, a line starting with `#` emptied. Returns the token
    /// and its source offset.
    fn process_line(
        &mut self,
        line: &PhysLine<'a>,
        strip_left: bool,
    ) -> Result<(&'a str, usize), ParseError> {
        let mut token = lexer::trim_newline(line.text);
        let mut start = line.start;
        if strip_left {
            let (t, lead) = lexer::trim_leading_space(token);
            token = t;
            start += lead;
        }
        match self.directives.parse_line(token) {
            Err(kind) => return Err(self.error_at_line(kind, line)),
            Ok(Some(found)) => {
                if found.name == "escape" {
                    if found.value != "`" && found.value != "\\" {
                        return Err(self.error_at_line(ErrorKind::InvalidEscape(found.value), line));
                    }
                    self.escape = found.value.chars().next().unwrap_or('\\');
                }
                let (a, b) = found.value_range;
                self.found_directives.push(Directive {
                    name: found.name,
                    value: found.value,
                    span: self.index.span(start, start + token.len()),
                    value_span: self.index.span(start + a, start + b),
                });
            }
            Ok(None) => {}
        }
        if token.starts_with('#') {
            token = "";
        }
        Ok((token, start))
    }

    fn run(mut self) -> Result<Dockerfile, ParseError> {
        let mut instructions: Vec<Instruction> = Vec::new();
        let mut warnings = Vec::new();
        let mut comments: Vec<String> = Vec::new();
        while let Some(first) = self.next_line() {
            if lexer::is_comment(first.text) {
                let c = first
                    .text
                    .get(1..)
                    .unwrap_or("")
                    .trim_matches(lexer::is_space);
                if c.is_empty() {
                    comments.clear();
                } else {
                    comments.push(c.to_string());
                }
            }
            let (token, token_start) = self.process_line(&first, true)?;
            let (piece, mut is_end) = lexer::trim_continuation(token, self.escape);
            if is_end && piece.is_empty() {
                continue;
            }
            let mut logical = LogicalLine::default();
            logical.push(piece, token_start);
            let mut last_end = first.content_end();
            let mut empty_continuation = false;
            while !is_end {
                let Some(next) = self.next_line() else { break };
                let (token, start) = self.process_line(&next, false)?;
                last_end = next.content_end();
                if lexer::is_comment(next.text) {
                    continue;
                }
                if lexer::is_empty_continuation(token) {
                    empty_continuation = true;
                    continue;
                }
                let (piece, end) = lexer::trim_continuation(token, self.escape);
                is_end = end;
                logical.push(piece, start);
            }
            let start = token_start;
            let ctx = Ctx {
                index: &self.index,
                map: &logical.map,
                escape: self.escape,
            };
            let mut ins =
                instructions::parse_line(&logical.text, &ctx).map_err(|kind| ParseError {
                    kind,
                    span: self.index.span(start, last_end.max(start)),
                })?;
            if empty_continuation {
                warnings.push(Warning {
                    message: format!("Empty continuation line found in: {}", logical.text),
                    span: self.index.span(start, last_end.max(start)),
                });
            }
            if heredoc::can_contain_heredoc(&ins) && logical.text.contains("<<") {
                let markers =
                    heredoc::markers_from_line(&logical.text).map_err(|kind| ParseError {
                        kind,
                        span: self.index.span(start, last_end.max(start)),
                    })?;
                for m in markers {
                    let body_start = self.lines.peek().map_or(self.src.len(), |l| l.start);
                    let mut content = String::new();
                    let mut terminator = None;
                    while let Some(line) = self.next_line() {
                        let mut candidate = lexer::trim_newline(line.text);
                        if m.chomp {
                            candidate = candidate.trim_start_matches('\t');
                        }
                        if candidate == m.name {
                            terminator = Some(line);
                            break;
                        }
                        content.push_str(line.text);
                    }
                    let Some(term) = terminator else {
                        return Err(ParseError {
                            kind: ErrorKind::UnterminatedHeredoc(m.name),
                            span: self.index.span(start, start + ins.keyword.span.len()),
                        });
                    };
                    last_end = term.content_end();
                    ins.heredocs.push(Heredoc {
                        name: m.name,
                        fd: m.fd,
                        expand: m.expand,
                        chomp: m.chomp,
                        content,
                        body_span: self.index.span(body_start, term.start),
                        terminator_span: self.index.span(term.start, term.content_end()),
                    });
                }
            }
            ins.span = self.index.span(start, last_end.max(start));
            ins.comments = std::mem::take(&mut comments);
            instructions.push(ins);
        }
        if instructions.is_empty() {
            let end = self.src.len();
            let span = match self.last_line {
                Some(l) => self.index.span(l.start, l.content_end()),
                None => Span {
                    start: end,
                    end,
                    line: 1,
                    col: 1,
                    end_line: 1,
                    end_col: 1,
                },
            };
            return Err(ParseError {
                kind: ErrorKind::NoInstructions,
                span,
            });
        }
        Ok(Dockerfile {
            directives: self.found_directives,
            escape: self.escape,
            instructions,
            warnings,
        })
    }
}
