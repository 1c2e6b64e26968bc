//! Build semantics: stages, ARG scoping, platform ARGs and image references.
//!
//! The rules follow BuildKit's Dockerfile frontend:
//!
//! * ARGs declared before the first `FROM` are *global*: they are visible to the
//!   `FROM` lines (image and `--platform`), and inside a stage only when the stage
//!   redeclares them (`ARG NAME` without a default takes the global value).
//! * `TARGETPLATFORM`, `TARGETOS`, `TARGETARCH`, `TARGETVARIANT`, `BUILDPLATFORM`,
//!   `BUILDOS`, `BUILDARCH` and `BUILDVARIANT` are defined automatically in the
//!   global scope; a stage sees them after `ARG TARGETARCH` and so on.
//! * A `--build-arg` overrides the default of a declared ARG (global or in a stage);
//!   build args for undeclared names have no effect.
//! * Defaults are expanded with what is visible at their declaration.
//! * An ARG declared without default and not given as build arg is unset.
//!
//! The base image's own `ENV` is unknown here, so a stage starts empty.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ast::{Args, Dockerfile, Flag, Instruction, InstructionKind, Word};
use crate::shell::{Env, Lexer};
use crate::span::Span;

/// An `os/arch[/variant]` platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Platform {
    /// Operating system, e.g. `linux`.
    pub os: String,
    /// CPU architecture, e.g. `amd64`.
    pub arch: String,
    /// Variant, e.g. `v7`; empty when none.
    pub variant: String,
}

impl Platform {
    /// `linux/amd64`, BuildKit's default here.
    pub fn linux_amd64() -> Self {
        Platform {
            os: "linux".into(),
            arch: "amd64".into(),
            variant: String::new(),
        }
    }

    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.split('/');
        let os = parts.next().filter(|p| !p.is_empty())?;
        let arch = parts.next().filter(|p| !p.is_empty())?;
        let variant = parts.next().unwrap_or("");
        if parts.next().is_some() {
            return None;
        }
        Some(Platform {
            os: os.into(),
            arch: arch.into(),
            variant: variant.into(),
        })
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

/// What the caller knows about the build.
#[derive(Debug, Clone, Default)]
pub struct ExpandOptions {
    /// `--build-arg NAME=value` pairs.
    pub build_args: BTreeMap<String, String>,
    /// The platform being built for (`TARGET*` ARGs); `linux/amd64` when `None`.
    pub target_platform: Option<Platform>,
    /// The platform building (`BUILD*` ARGs); `linux/amd64` when `None`.
    pub build_platform: Option<Platform>,
}

/// A build stage: a `FROM` and the instructions up to the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stage {
    /// 0-based position among stages (what `COPY --from=0` names).
    pub index: usize,
    /// `AS name`, lowercased as BuildKit does.
    pub name: Option<String>,
    /// The name word as written.
    pub name_span: Option<Span>,
    /// The base image word as written (before ARG expansion), with its span.
    pub base: Word,
    /// The `--platform` flag, if any (raw value and spans).
    pub platform: Option<Flag>,
    /// Index of the `FROM` in [`Dockerfile::instructions`].
    pub from_instruction: usize,
    /// Indices of the stage's instructions after the `FROM`.
    pub instructions: std::ops::Range<usize>,
    /// The `FROM` instruction's span.
    pub span: Span,
}

/// Where an image reference was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefSource {
    /// `FROM image`.
    From,
    /// `COPY --from=…` or `ADD --from=…`.
    CopyFrom,
    /// `RUN --mount=…,from=…`.
    MountFrom,
}

/// What a reference resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RefKind {
    /// An image from a registry.
    Image,
    /// An earlier build stage (by name or index).
    Stage {
        /// The stage's index.
        index: usize,
    },
    /// `scratch`, the empty image.
    Scratch,
}

/// Where a value visible during expansion came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgSource {
    /// The declaration's default.
    Default,
    /// A `--build-arg` given by the caller.
    BuildArg,
    /// One of BuildKit's automatic platform ARGs.
    Platform,
    /// A stage's `ARG NAME` inheriting a global value.
    Global,
    /// An `ENV` instruction.
    Env,
    /// Declared without default and not given: unset.
    Unset,
}

/// An ARG (or ENV) that an expanded value depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArgDep {
    /// The variable name.
    pub name: String,
    /// Its value, `None` when unset.
    pub value: Option<String>,
    /// Where the value came from.
    pub source: ArgSource,
    /// Index of the declaring instruction, if declared.
    pub instruction: Option<usize>,
    /// The declaration word (`NAME=default`), if declared.
    pub decl_span: Option<Span>,
    /// The default as written (quotes kept), if any.
    pub default: Option<String>,
    /// Span of the default value: the bytes a pinning tool rewrites.
    pub default_span: Option<Span>,
    /// True when referenced directly by the expanded text; false when reached
    /// through another ARG's default.
    pub direct: bool,
}

/// An image reference a Dockerfile uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRef {
    /// Which instruction form it came from.
    pub source: RefSource,
    /// Index of the instruction in [`Dockerfile::instructions`] (the `ONBUILD` for
    /// a trigger).
    pub instruction: usize,
    /// Index of the stage it belongs to.
    pub stage: usize,
    /// True inside an `ONBUILD` trigger: it applies to images built *from* this one.
    pub onbuild: bool,
    /// The text as written.
    pub text: String,
    /// Span of the text as written.
    pub span: Span,
    /// The text after ARG expansion.
    pub resolved: String,
    /// What the resolved text names.
    #[serde(flatten)]
    pub kind: RefKind,
    /// `--platform` as written (FROM only).
    pub platform: Option<String>,
    /// `--platform` value span.
    pub platform_span: Option<Span>,
    /// `--platform` after expansion.
    pub platform_resolved: Option<String>,
    /// ARGs the text depends on (direct first, then through other defaults).
    pub arg_deps: Vec<ArgDep>,
    /// Variables referenced but unset (expanded to empty).
    pub unset_args: Vec<String>,
}

impl ImageRef {
    /// True if the text came (in part) from ARGs, so a pinning tool should
    /// consider rewriting an ARG default instead of the text.
    pub fn uses_args(&self) -> bool {
        !self.arg_deps.is_empty() || !self.unset_args.is_empty()
    }
}

/// A finding of the semantic pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Index of the instruction.
    pub instruction: usize,
    /// Where.
    pub span: Span,
    /// What.
    pub message: String,
}

/// An unset ARG used in a `FROM` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnsetArg {
    /// The variable.
    pub name: String,
    /// Index of the `FROM`.
    pub instruction: usize,
    /// Span of the text that uses it.
    pub span: Span,
    /// True if declared (without default) before the `FROM`.
    pub declared: bool,
}

/// Everything [`Dockerfile::analyze`] finds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Analysis {
    /// The stages.
    pub stages: Vec<Stage>,
    /// Every image reference, in file order.
    pub refs: Vec<ImageRef>,
    /// Unset or undeclared ARGs used in `FROM` lines.
    pub unset_args: Vec<UnsetArg>,
    /// Errors BuildKit would report at build time (bad stage names, blank base
    /// names, invalid expansions…).
    pub problems: Vec<Problem>,
}

/// One visible variable.
#[derive(Debug, Clone)]
struct Binding {
    value: Option<String>,
    source: ArgSource,
    instruction: Option<usize>,
    decl_span: Option<Span>,
    default: Option<Word>,
    deps: Vec<ArgDep>,
}

impl Binding {
    fn dep(&self, name: &str, direct: bool) -> ArgDep {
        ArgDep {
            name: name.to_string(),
            value: self.value.clone(),
            source: self.source,
            instruction: self.instruction,
            decl_span: self.decl_span,
            default: self.default.as_ref().map(|w| w.value.clone()),
            default_span: self.default.as_ref().map(|w| w.span),
            direct,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Scope {
    vars: BTreeMap<String, Binding>,
}

impl Env for Scope {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.vars.get(name).and_then(|b| b.value.as_deref())
    }
}

/// Result of expanding one word in a scope.
struct Expanded {
    value: String,
    deps: Vec<ArgDep>,
    unset: Vec<String>,
    error: Option<String>,
}

impl Scope {
    fn expand(&self, lexer: &Lexer, text: &str) -> Expanded {
        match lexer.process(text, self) {
            Ok(p) => {
                let mut deps = Vec::new();
                for name in &p.matched {
                    if let Some(b) = self.vars.get(name) {
                        deps.push(b.dep(name, true));
                    }
                }
                for name in &p.unmatched {
                    if let Some(b) = self.vars.get(name) {
                        deps.push(b.dep(name, true));
                    }
                }
                let direct: Vec<ArgDep> = deps.clone();
                for d in &direct {
                    if let Some(b) = self.vars.get(&d.name) {
                        for t in &b.deps {
                            if !deps
                                .iter()
                                .any(|x| x.name == t.name && x.decl_span == t.decl_span)
                            {
                                deps.push(ArgDep {
                                    direct: false,
                                    ..t.clone()
                                });
                            }
                        }
                    }
                }
                Expanded {
                    value: p.result,
                    deps,
                    unset: p.unmatched.into_iter().collect(),
                    error: None,
                }
            }
            Err(e) => Expanded {
                value: text.to_string(),
                deps: Vec::new(),
                unset: Vec::new(),
                error: Some(e.to_string()),
            },
        }
    }
}

fn platform_scope(opts: &ExpandOptions) -> Scope {
    let mut s = Scope::default();
    let target = opts
        .target_platform
        .clone()
        .unwrap_or_else(Platform::linux_amd64);
    let build = opts
        .build_platform
        .clone()
        .unwrap_or_else(Platform::linux_amd64);
    for (prefix, p) in [("TARGET", &target), ("BUILD", &build)] {
        for (suffix, v) in [
            ("PLATFORM", p.to_string()),
            ("OS", p.os.clone()),
            ("ARCH", p.arch.clone()),
            ("VARIANT", p.variant.clone()),
        ] {
            s.vars.insert(
                format!("{prefix}{suffix}"),
                Binding {
                    value: Some(v),
                    source: ArgSource::Platform,
                    instruction: None,
                    decl_span: None,
                    default: None,
                    deps: Vec::new(),
                },
            );
        }
    }
    s
}

/// Is `name` a valid stage name (`^[a-z][a-z0-9-_\.]*$` after lowercasing)?
fn valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-' | '_' | '.'))
}

impl Dockerfile {
    /// The stages, in order. A `FROM` that is not `FROM image [AS name]` still
    /// starts a stage (BuildKit refuses it at build time; see [`Dockerfile::analyze`]).
    pub fn stages(&self) -> Vec<Stage> {
        let froms: Vec<usize> = self
            .instructions
            .iter()
            .enumerate()
            .filter(|(_, i)| i.kind == InstructionKind::From)
            .map(|(n, _)| n)
            .collect();
        let mut out = Vec::new();
        for (index, &at) in froms.iter().enumerate() {
            let ins = &self.instructions[at];
            let end = froms
                .get(index + 1)
                .copied()
                .unwrap_or(self.instructions.len());
            let words: &[Word] = match &ins.args {
                Args::List(w) => w,
                _ => &[],
            };
            let base = words.first().cloned().unwrap_or_else(|| Word {
                value: String::new(),
                span: ins.span,
            });
            let (name, name_span) = match words {
                [_, as_kw, name] if as_kw.value.eq_ignore_ascii_case("as") => {
                    (Some(name.value.to_lowercase()), Some(name.span))
                }
                _ => (None, None),
            };
            out.push(Stage {
                index,
                name,
                name_span,
                base,
                platform: ins.flag("platform").cloned(),
                from_instruction: at,
                instructions: at + 1..end,
                span: ins.span,
            });
        }
        out
    }

    /// The ARG instructions before the first `FROM` (indices into `instructions`).
    pub fn global_arg_instructions(&self) -> Vec<usize> {
        self.instructions
            .iter()
            .take_while(|i| i.kind != InstructionKind::From)
            .enumerate()
            .filter(|(_, i)| i.kind == InstructionKind::Arg)
            .map(|(n, _)| n)
            .collect()
    }

    /// Every image reference the Dockerfile uses, in file order. Shorthand for
    /// `self.analyze(opts).refs`.
    pub fn image_refs(&self, opts: &ExpandOptions) -> Vec<ImageRef> {
        self.analyze(opts).refs
    }

    /// Applies build semantics: stages, ARG scopes, references, problems.
    pub fn analyze(&self, opts: &ExpandOptions) -> Analysis {
        let lexer = Lexer::new(self.escape);
        let stages = self.stages();
        let mut refs = Vec::new();
        let mut unset_args = Vec::new();
        let mut problems = Vec::new();

        // Global scope: platform ARGs, then ARGs before the first FROM.
        let mut global = platform_scope(opts);
        let first_from = stages
            .first()
            .map_or(self.instructions.len(), |s| s.from_instruction);
        for (n, ins) in self.instructions[..first_from].iter().enumerate() {
            match ins.kind {
                InstructionKind::Arg => {
                    declare_args(ins, n, &mut global, None, opts, &lexer, &mut problems)
                }
                InstructionKind::From => {}
                _ => {}
            }
        }

        let mut names = StageNames::new();
        for st in &stages {
            if let Some(n) = &st.name {
                names.entry(n.clone()).or_insert(st.index);
            }
        }
        let names = &names;
        for stage in &stages {
            let from = &self.instructions[stage.from_instruction];
            // FROM validation as BuildKit's parseBuildStageName.
            if let Args::List(words) = &from.args {
                let ok = words.len() == 1
                    || (words.len() == 3 && words[1].value.eq_ignore_ascii_case("as"));
                if !ok {
                    problems.push(Problem {
                        instruction: stage.from_instruction,
                        span: from.span,
                        message: "FROM requires either one or three arguments".into(),
                    });
                }
            } else {
                problems.push(Problem {
                    instruction: stage.from_instruction,
                    span: from.span,
                    message: "FROM requires either one or three arguments".into(),
                });
            }
            if let (Some(name), Some(span)) = (&stage.name, stage.name_span)
                && !valid_stage_name(name)
            {
                problems.push(Problem {
                    instruction: stage.from_instruction,
                    span,
                    message: format!("invalid name for build stage: {name:?}, name can't start with a number or contain symbols"),
                });
            }

            let ex = global.expand(&lexer, &stage.base.value);
            if let Some(e) = &ex.error {
                problems.push(Problem {
                    instruction: stage.from_instruction,
                    span: stage.base.span,
                    message: e.clone(),
                });
            } else if ex.value.is_empty() {
                problems.push(Problem {
                    instruction: stage.from_instruction,
                    span: stage.base.span,
                    message: format!("base name ({}) should not be blank", stage.base.value),
                });
            }
            for name in &ex.unset {
                unset_args.push(UnsetArg {
                    name: name.clone(),
                    instruction: stage.from_instruction,
                    span: stage.base.span,
                    declared: global.vars.contains_key(name),
                });
            }
            let (platform, platform_span, platform_resolved) = match &stage.platform {
                Some(f) => {
                    let raw = f.value.clone().unwrap_or_default();
                    let pe = global.expand(&lexer, &raw);
                    if let Some(e) = &pe.error {
                        problems.push(Problem {
                            instruction: stage.from_instruction,
                            span: f.span,
                            message: e.clone(),
                        });
                    }
                    for name in &pe.unset {
                        unset_args.push(UnsetArg {
                            name: name.clone(),
                            instruction: stage.from_instruction,
                            span: f.value_span.unwrap_or(f.span),
                            declared: global.vars.contains_key(name),
                        });
                    }
                    (Some(raw), f.value_span, Some(pe.value))
                }
                None => (None, None, None),
            };
            let kind = classify(&ex.value, names, stage.index, None);
            refs.push(ImageRef {
                source: RefSource::From,
                instruction: stage.from_instruction,
                stage: stage.index,
                onbuild: false,
                text: stage.base.value.clone(),
                span: stage.base.span,
                resolved: ex.value,
                kind,
                platform,
                platform_span,
                platform_resolved,
                arg_deps: ex.deps,
                unset_args: ex.unset,
            });

            // Inside the stage.
            let mut scope = Scope::default();
            for n in stage.instructions.clone() {
                let ins = &self.instructions[n];
                self.stage_instruction(
                    ins,
                    n,
                    stage,
                    names,
                    &global,
                    &mut scope,
                    opts,
                    &lexer,
                    &mut refs,
                    &mut problems,
                    false,
                );
            }
        }
        Analysis {
            stages,
            refs,
            unset_args,
            problems,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn stage_instruction(
        &self,
        ins: &Instruction,
        n: usize,
        stage: &Stage,
        names: &StageNames,
        global: &Scope,
        scope: &mut Scope,
        opts: &ExpandOptions,
        lexer: &Lexer,
        refs: &mut Vec<ImageRef>,
        problems: &mut Vec<Problem>,
        onbuild: bool,
    ) {
        match ins.kind {
            InstructionKind::Arg if !onbuild => {
                declare_args(ins, n, scope, Some(global), opts, lexer, problems)
            }
            InstructionKind::Env if !onbuild => {
                if let Args::KeyValues(kvs) = &ins.args {
                    for kv in kvs {
                        let ex = scope.expand(lexer, &kv.value.value);
                        scope.vars.insert(
                            kv.key.value.clone(),
                            Binding {
                                value: Some(ex.value),
                                source: ArgSource::Env,
                                instruction: Some(n),
                                decl_span: Some(kv.key.span),
                                default: Some(kv.value.clone()),
                                deps: ex.deps,
                            },
                        );
                    }
                }
            }
            InstructionKind::Copy | InstructionKind::Add => {
                for f in ins.flags_named("from") {
                    let Some(v) = &f.value else { continue };
                    let span = f.value_span.unwrap_or(f.span);
                    refs.push(self.flag_ref(
                        RefSource::CopyFrom,
                        v,
                        span,
                        n,
                        stage,
                        names,
                        scope,
                        lexer,
                        problems,
                        onbuild,
                    ));
                }
            }
            InstructionKind::Run => {
                for f in ins.flags_named("mount") {
                    let Some(v) = &f.value else { continue };
                    for field in csv_fields(v) {
                        let Some(eq) = field.text.find('=') else {
                            continue;
                        };
                        if !field.text[..eq].eq_ignore_ascii_case("from") {
                            continue;
                        }
                        let eq_chars = field.text[..eq].chars().count();
                        let value = &field.text[eq + 1..];
                        let span = f
                            .value_subspan(
                                field.chars.get(eq_chars + 1).copied().unwrap_or(usize::MAX),
                                field.chars.last().map_or(0, |&c| c + 1),
                            )
                            .unwrap_or_else(|| f.value_span.unwrap_or(f.span));
                        refs.push(self.flag_ref(
                            RefSource::MountFrom,
                            value,
                            span,
                            n,
                            stage,
                            names,
                            scope,
                            lexer,
                            problems,
                            onbuild,
                        ));
                    }
                }
            }
            InstructionKind::Onbuild => {
                if let Some(inner) = ins.onbuild_inner() {
                    let trigger = match inner.kind {
                        InstructionKind::Onbuild => {
                            Some("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".to_string())
                        }
                        InstructionKind::From | InstructionKind::Maintainer => Some(format!(
                            "{} isn't allowed as an ONBUILD trigger",
                            inner.keyword.value.to_uppercase()
                        )),
                        _ => None,
                    };
                    if let Some(message) = trigger {
                        problems.push(Problem {
                            instruction: n,
                            span: inner.span,
                            message,
                        });
                        return;
                    }
                    self.stage_instruction(
                        inner, n, stage, names, global, scope, opts, lexer, refs, problems, true,
                    );
                }
            }
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn flag_ref(
        &self,
        source: RefSource,
        text: &str,
        span: Span,
        n: usize,
        stage: &Stage,
        names: &StageNames,
        scope: &Scope,
        lexer: &Lexer,
        problems: &mut Vec<Problem>,
        onbuild: bool,
    ) -> ImageRef {
        let ex = scope.expand(lexer, text);
        if let Some(e) = &ex.error {
            problems.push(Problem {
                instruction: n,
                span,
                message: e.clone(),
            });
        }
        let kind = classify(&ex.value, names, usize::MAX, Some(stage.index));
        if let RefKind::Stage { index } = kind
            && index >= stage.index
            && !onbuild
            && ex.value.bytes().all(|b| b.is_ascii_digit())
        {
            problems.push(Problem {
                instruction: n,
                span,
                message: format!("invalid stage index {index}: not an earlier stage"),
            });
        }
        ImageRef {
            source,
            instruction: n,
            stage: stage.index,
            onbuild,
            text: text.to_string(),
            span,
            resolved: ex.value,
            kind,
            platform: None,
            platform_span: None,
            platform_resolved: None,
            arg_deps: ex.deps,
            unset_args: ex.unset,
        }
    }
}

/// Stage names (lowercased) to the index of the first stage with that name.
type StageNames = BTreeMap<String, usize>;

/// Classifies a resolved reference: `scratch`, a stage (by name, or by index for
/// `--from`), or an image. `FROM` (`current == None`) sees only stages before
/// `before`.
fn classify(resolved: &str, names: &StageNames, before: usize, current: Option<usize>) -> RefKind {
    if resolved == "scratch" {
        return RefKind::Scratch;
    }
    if current.is_some()
        && !resolved.is_empty()
        && resolved.bytes().all(|b| b.is_ascii_digit())
        && let Ok(index) = resolved.parse::<usize>()
    {
        return RefKind::Stage { index };
    }
    match names.get(&resolved.to_lowercase()) {
        Some(&index) if current.map_or(index < before, |c| index != c) => RefKind::Stage { index },
        _ => RefKind::Image,
    }
}

/// Declares the names of an ARG instruction in `scope` (BuildKit's `dispatchArg`;
/// `global` is the global scope when inside a stage).
fn declare_args(
    ins: &Instruction,
    n: usize,
    scope: &mut Scope,
    global: Option<&Scope>,
    opts: &ExpandOptions,
    lexer: &Lexer,
    problems: &mut Vec<Problem>,
) {
    let Args::Args(decls) = &ins.args else { return };
    for d in decls {
        let name = d.name.value.clone();
        let mut b = Binding {
            value: None,
            source: ArgSource::Unset,
            instruction: Some(n),
            decl_span: Some(d.raw.span),
            default: d.default.clone(),
            deps: Vec::new(),
        };
        if let Some(v) = opts.build_args.get(&name) {
            b.value = Some(v.clone());
            b.source = ArgSource::BuildArg;
        } else if let Some(def) = &d.default {
            let ex = scope.expand(lexer, &def.value);
            if let Some(e) = ex.error {
                problems.push(Problem {
                    instruction: n,
                    span: def.span,
                    message: e,
                });
            }
            b.value = Some(ex.value);
            b.source = ArgSource::Default;
            b.deps = ex.deps;
        } else if let Some(g) = global.and_then(|g| g.vars.get(&name)) {
            // Redeclared global: inherits value and provenance.
            b = Binding {
                source: if g.value.is_some() {
                    ArgSource::Global
                } else {
                    ArgSource::Unset
                },
                ..g.clone()
            };
            if g.source == ArgSource::Platform {
                b.source = ArgSource::Platform;
            }
        }
        scope.vars.insert(name, b);
    }
}

/// One field of a CSV record with the index of each of its characters in the
/// input (Go's `encoding/csv`: `"` quoting, `""` for a quote).
struct CsvField {
    text: String,
    chars: Vec<usize>,
}

fn csv_fields(s: &str) -> Vec<CsvField> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let mut f = CsvField {
            text: String::new(),
            chars: Vec::new(),
        };
        if chars.get(i) == Some(&'"') {
            i += 1;
            while i < chars.len() {
                if chars[i] == '"' {
                    if chars.get(i + 1) == Some(&'"') {
                        f.text.push('"');
                        f.chars.push(i + 1);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                f.text.push(chars[i]);
                f.chars.push(i);
                i += 1;
            }
            while i < chars.len() && chars[i] != ',' {
                i += 1;
            }
        } else {
            while i < chars.len() && chars[i] != ',' {
                f.text.push(chars[i]);
                f.chars.push(i);
                i += 1;
            }
        }
        out.push(f);
        if i >= chars.len() {
            break;
        }
        i += 1;
    }
    out
}
