//! Dockerfile parsing for plinth, with BuildKit's semantics.
//!
//! * [`parse`] reads a Dockerfile exactly as BuildKit's parser does (directives,
//!   comments, continuations with `\` or a backtick, heredocs, JSON and shell
//!   forms, flags) and keeps a byte [`Span`] on every node, so a tool can rewrite
//!   precisely the bytes of an image reference or an ARG default.
//! * [`dump_buildkit`] renders the tree in BuildKit's test-dump format.
//! * [`shell`] is BuildKit's shell lexer: variable expansion and word splitting.
//! * [`Dockerfile::stages`], [`Dockerfile::analyze`] and [`Dockerfile::image_refs`]
//!   apply the build semantics: stages, ARG scoping, automatic platform ARGs,
//!   `--build-arg` overrides, and every image reference with the ARGs it depends on.
//!
//! # Fidelity
//!
//! The parser reproduces BuildKit's AST dump byte for byte on BuildKit's own test
//! corpus, and the shell lexer passes BuildKit's `envVarTest` and `wordsTest`.
//! Deliberate differences, all on inputs BuildKit mishandles or refuses anyway:
//!
//! * flags are read per character; BuildKit reads them per byte, which mangles
//!   non-ASCII text in flag values;
//! * BuildKit refuses lines longer than 64 KiB (a `bufio.Scanner` limit); this
//!   parser does not;
//! * `${…}` nests at most 64 levels and `ONBUILD` at most 16, so hostile input
//!   cannot overflow the stack (Go's stacks grow);
//! * Go's `strconv.IsPrint` table comes from Unicode 14 here, Go uses a newer
//!   Unicode: a handful of recently assigned characters quote differently;
//! * variable names accept Rust's alphabetic/numeric characters where Go uses the
//!   Unicode categories L and Nd (identical for ASCII).
//!
//! ```
//! let src = "ARG BASE=python:3.12\nFROM ${BASE} AS app\n";
//! let df = plinth_dockerfile::parse(src).unwrap();
//! let refs = df.image_refs(&plinth_dockerfile::ExpandOptions::default());
//! assert_eq!(refs[0].resolved, "python:3.12");
//! let default = &refs[0].arg_deps[0].default_span.unwrap();
//! assert_eq!(default.text(src), "python:3.12");
//! ```

#![warn(missing_docs)]

mod ast;
mod directives;
mod dump;
mod error;
mod heredoc;
mod instructions;
mod json;
mod lexer;
mod parser;
mod quote;
mod semantics;
pub mod shell;
mod span;

pub use ast::{
    ArgDecl, Args, Directive, Dockerfile, Flag, Heredoc, Instruction, InstructionKind, KeyValue,
    Warning, Word,
};
pub use directives::KNOWN_DIRECTIVES;
pub use dump::{dump_buildkit, dump_instruction};
pub use error::{ErrorKind, ParseError};
pub use parser::parse;
pub use quote::{go_quote, go_quote_list};
pub use semantics::*;
pub use span::{LineIndex, Span};
