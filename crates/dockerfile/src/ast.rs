//! The syntax tree: what the parser returns.

use serde::Serialize;

use crate::span::Span;

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dockerfile {
    /// Parser directives from the top of the file (`# syntax=`, `# escape=`, `# check=`).
    pub directives: Vec<Directive>,
    /// The escape token in force: `\` or a backtick.
    pub escape: char,
    /// The instructions in file order.
    pub instructions: Vec<Instruction>,
    /// Non-fatal findings, e.g. empty continuation lines.
    pub warnings: Vec<Warning>,
}

impl Dockerfile {
    /// The value of directive `name` (lowercase), if present.
    pub fn directive(&self, name: &str) -> Option<&str> {
        self.directives
            .iter()
            .find(|d| d.name == name)
            .map(|d| d.value.as_str())
    }
}

/// A parser directive such as `# syntax=docker/dockerfile:1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Directive {
    /// Lowercased name: `syntax`, `escape` or `check`.
    pub name: String,
    /// The value as written, surrounding whitespace removed.
    pub value: String,
    /// The whole directive line (without its line terminator).
    pub span: Span,
    /// The value alone.
    pub value_span: Span,
}

/// A non-fatal finding of the parser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// What was found.
    pub message: String,
    /// Where.
    pub span: Span,
}

/// The instruction keywords BuildKit knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
#[allow(missing_docs)]
pub enum InstructionKind {
    Add,
    Arg,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    Label,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    Stopsignal,
    User,
    Volume,
    Workdir,
    /// Anything else; BuildKit's parser accepts it and ignores its arguments.
    Unknown,
}

impl InstructionKind {
    /// Classifies a keyword, case-insensitively.
    pub fn from_keyword(keyword: &str) -> Self {
        use InstructionKind::*;
        match keyword.to_ascii_lowercase().as_str() {
            "add" => Add,
            "arg" => Arg,
            "cmd" => Cmd,
            "copy" => Copy,
            "entrypoint" => Entrypoint,
            "env" => Env,
            "expose" => Expose,
            "from" => From,
            "healthcheck" => Healthcheck,
            "label" => Label,
            "maintainer" => Maintainer,
            "onbuild" => Onbuild,
            "run" => Run,
            "shell" => Shell,
            "stopsignal" => Stopsignal,
            "user" => User,
            "volume" => Volume,
            "workdir" => Workdir,
            _ => Unknown,
        }
    }
}

/// One instruction, continuation lines joined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instruction {
    /// What instruction this is.
    pub kind: InstructionKind,
    /// The keyword as written (`FROM`, `from`…).
    pub keyword: Word,
    /// Flags (`--name[=value]`) before the arguments, in order.
    pub flags: Vec<Flag>,
    /// The arguments.
    pub args: Args,
    /// Here-documents that follow the instruction line, in order.
    pub heredocs: Vec<Heredoc>,
    /// Comment lines directly above the instruction (text after `#`, trimmed).
    pub comments: Vec<String>,
    /// The logical line: continuation lines joined, comments and escapes at line
    /// ends removed (BuildKit's `Original`).
    pub original: String,
    /// From the keyword to the end of the instruction's last line (heredoc
    /// terminators included), without the final line terminator.
    pub span: Span,
}

impl Flag {
    /// Span of the characters `from..to` (char indices) of `value`, or `None` if
    /// the range is empty or out of bounds.
    pub fn value_subspan(&self, from: usize, to: usize) -> Option<Span> {
        if from >= to {
            return None;
        }
        let a = self.value_chars.get(from)?;
        let b = self.value_chars.get(to - 1)?;
        Some(Span {
            start: a.start,
            end: b.end,
            line: a.line,
            col: a.col,
            end_line: b.end_line,
            end_col: b.end_col,
        })
    }
}

impl Instruction {
    /// The flag named `name` (without `--`), last one wins as in BuildKit.
    pub fn flag(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().rev().find(|f| f.name == name)
    }

    /// All flags named `name` (for repeatable flags like `--mount`).
    pub fn flags_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Flag> + 'a {
        self.flags.iter().filter(move |f| f.name == name)
    }

    /// The instruction an `ONBUILD` wraps.
    pub fn onbuild_inner(&self) -> Option<&Instruction> {
        match &self.args {
            Args::Onbuild(i) => Some(i),
            _ => None,
        }
    }

    /// True if the arguments are in JSON (exec) form.
    pub fn is_json(&self) -> bool {
        match &self.args {
            Args::Exec(_) => true,
            Args::Healthcheck { cmd, .. } => matches!(**cmd, Args::Exec(_)),
            _ => false,
        }
    }
}

/// A piece of text with its span. `value` is the text after the parser's own
/// processing (for flags, the quotes and escapes removed as BuildKit removes them;
/// for arguments, as BuildKit stores them: quotes kept, no expansion).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Word {
    /// The text.
    pub value: String,
    /// Where it is in the source.
    pub span: Span,
}

/// A flag like `--from=builder` or `--link`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flag {
    /// Name without the leading `--`.
    pub name: String,
    /// Value after the first `=`, quotes and `\` escapes removed; `None` for `--flag`.
    pub value: Option<String>,
    /// The whole flag as BuildKit stores it (`--from=builder`).
    pub text: String,
    /// The whole flag in the source.
    pub span: Span,
    /// The value's characters in the source (inside any quotes).
    pub value_span: Option<Span>,
    /// For each character of `value`, its span in the source; locates a part of
    /// the value (such as `from=` inside `--mount=`).
    #[serde(skip)]
    pub(crate) value_chars: Vec<Span>,
}

/// Arguments of an instruction, in the shape BuildKit's line parsers give them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "form", content = "value", rename_all = "snake_case")]
pub enum Args {
    /// Nothing after the keyword and flags.
    None,
    /// JSON (exec) form: `["a", "b"]`, each string decoded.
    Exec(Vec<Word>),
    /// Shell form of RUN, CMD, ENTRYPOINT, SHELL (and invalid JSON): the rest of
    /// the line as one string.
    Shell(Word),
    /// The rest of the line as one string: MAINTAINER, USER, WORKDIR, STOPSIGNAL.
    Text(Word),
    /// Whitespace-separated words: FROM, EXPOSE, and COPY/ADD/VOLUME outside JSON.
    List(Vec<Word>),
    /// ENV and LABEL pairs.
    KeyValues(Vec<KeyValue>),
    /// ARG declarations.
    Args(Vec<ArgDecl>),
    /// HEALTHCHECK: the type word (`CMD`, `NONE`…) and the command.
    Healthcheck {
        /// `CMD`, `NONE` or whatever word comes first.
        kind: Word,
        /// The command after the type.
        cmd: Box<Args>,
    },
    /// ONBUILD: the wrapped instruction.
    Onbuild(Box<Instruction>),
    /// An unknown instruction's arguments, kept but not interpreted.
    Ignored(Word),
}

/// A `key=value` pair of ENV or LABEL (or the legacy `ENV key value`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyValue {
    /// The key as written.
    pub key: Word,
    /// The value as written (quotes and escapes kept, not expanded).
    pub value: Word,
    /// True for the legacy form `ENV key value` (no `=`).
    pub legacy: bool,
}

/// One name of an ARG instruction, with or without a default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArgDecl {
    /// The whole word as written (`NAME=default`).
    pub raw: Word,
    /// The name.
    pub name: Word,
    /// The default as written after `=` (quotes kept, not expanded). Its span is
    /// what a pinning tool rewrites.
    pub default: Option<Word>,
}

/// A here-document body attached to RUN, COPY or ADD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heredoc {
    /// The delimiter word, quotes removed (`EOF`).
    pub name: String,
    /// File descriptor prefix (`3<<EOF`), 0 when absent.
    pub fd: u64,
    /// True unless the delimiter was quoted (`<<"EOF"`, `<<'EOF'`).
    pub expand: bool,
    /// True for `<<-`: leading tabs are stripped from the body.
    pub chomp: bool,
    /// The body as written, every line with its line terminator.
    pub content: String,
    /// The body lines in the source.
    pub body_span: Span,
    /// The terminator line in the source.
    pub terminator_span: Span,
}

impl Heredoc {
    /// The body as the build sees it: leading tabs removed from each line for `<<-`.
    pub fn effective_content(&self) -> String {
        if !self.chomp {
            return self.content.clone();
        }
        let mut out = String::with_capacity(self.content.len());
        for line in self.content.split_inclusive('\n') {
            out.push_str(line.trim_start_matches('\t'));
        }
        out
    }
}
