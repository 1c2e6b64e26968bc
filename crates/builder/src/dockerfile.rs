//! A Dockerfile executor for stages that need no container runtime.
//!
//! Supported: `FROM` (image, earlier stage, `scratch`, `--platform`, ARG-expanded), `ENV`,
//! `ARG` with build args, `LABEL`, `USER`, `WORKDIR`, `ENTRYPOINT`, `CMD` (shell and JSON
//! forms, with `SHELL`), `EXPOSE`, `VOLUME`, `STOPSIGNAL`, `HEALTHCHECK`, `ONBUILD` (recorded in
//! the config), `MAINTAINER`, and multi-stage builds with a target. Only the stages the target
//! needs are built, as BuildKit does.
//!
//! `COPY` and `ADD` (see the `copy` submodule), with BuildKit's semantics:
//! - sources from the build context filtered by `.dockerignore`, or `--from` a stage or an
//!   image (symlinks along a source path followed, as BuildKit does); wildcards; `--chown`,
//!   `--chmod`, `--link`, `--exclude`;
//! - here-documents (`COPY <<EOF /etc/conf`, several per line, `<<-` strips leading tabs):
//!   files of mode 0644 (or `--chmod`) named by the delimiter when the destination is a
//!   directory; `$VARS` in the body are expanded unless the delimiter is quoted (`<<"EOF"`),
//!   quotes kept and unset variables left as written, as BuildKit does for COPY;
//! - `--parents`: sources keep their path relative to the context (or to the `--from` root),
//!   or to a `/./` pivot in the source (`COPY --parents ./src/./app/*.go /dest/`); `**`
//!   matches any number of directories;
//! - `ADD` only: local tar archives extracted (unless `--unpack=false`); http(s) URLs
//!   downloaded (mode 0600, mtime from `Last-Modified`, named by the URL's last path segment
//!   when the destination is a directory, not extracted unless `--unpack=true`, verified
//!   against `--checksum=sha256:…`); git repositories (`https://host/repo.git#ref:subdir`,
//!   `git@host:repo.git`, `git://`, `ssh://`) fetched with the `git` command, shallow where the
//!   server allows, `.git` kept only with `--keep-git-dir`, `--checksum` a commit prefix.
//!
//! `RUN` is refused with an error naming `file:line`: it needs a container runtime, which this
//! executor does not have. So are base images with `ONBUILD` triggers.
//!
//! Every `COPY`/`ADD` makes one layer (as BuildKit does); every other instruction adds an
//! empty-layer history entry. Files keep their permission bits; owners are root unless
//! `--chown` (files copied `--from` a stage or image keep theirs); mtimes are clamped to the
//! epoch, so builds are reproducible. Files the build makes (here-documents, git checkouts,
//! downloads without `Last-Modified`) are dated at the epoch.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use plinth_dockerfile::shell::Lexer;
use plinth_dockerfile::{Args, Dockerfile, Instruction, InstructionKind};
use plinth_oci::Platform;
use plinth_oci::source::Source;
use serde_json::{Value, json};

use crate::dockerignore::{Matcher, has_glob};
use crate::error::{BuildError, Result};
use crate::flags::{port_key, set_env};
use crate::imagefs;
use crate::layer::{Entry, Kind, LayerOptions, Tree, clean_path, write_layer};
use crate::mutate::{Base, Finished, Image, LayerRef};
use crate::preflight::{self, BaseKind};
use crate::remote;

mod copy;

/// Opens the images a Dockerfile names.
#[async_trait]
pub trait Resolver: Send + Sync {
    /// The image `name` refers to, and the name to record in the base annotation.
    async fn open(&self, name: &str) -> Result<(Arc<dyn Source>, Option<String>)>;
}

/// How to build.
#[derive(Clone, Debug)]
pub struct Options {
    /// The Dockerfile's name for messages (`Dockerfile`).
    pub file_name: String,
    /// The build context directory.
    pub context: PathBuf,
    /// `--build-arg NAME=value`.
    pub build_args: BTreeMap<String, String>,
    /// `--target`: the stage to build (default: the last).
    pub target: Option<String>,
    /// The platform to build for.
    pub platform: Platform,
    /// Layer writing.
    pub layer: LayerOptions,
    /// Allow dynamically linked binaries on scratch.
    pub allow_dynamic: bool,
}

/// The result.
pub struct Output {
    /// The image of the target stage.
    pub image: Finished,
    /// Pre-flight warnings and notes.
    pub warnings: Vec<String>,
}

/// A built stage.
#[derive(Clone)]
struct StageOut {
    image: Image,
    /// The layers of the stage's root base image (for reading its files).
    base_layers: Vec<LayerRef>,
    /// Files added by this stage (and the stages it is built on).
    added: Tree,
    base_kind: BaseKind,
    /// Data files backing `added` entries.
    keep: Vec<Arc<tempfile::TempPath>>,
    /// Whether this stage set CMD (an ENTRYPOINT then keeps it).
    cmd_set: bool,
    /// Directories WORKDIR created, written with the next layer.
    pending: Tree,
}

struct Exec<'a> {
    df: Dockerfile,
    opts: &'a Options,
    resolver: &'a dyn Resolver,
    lexer: Lexer,
    stages: Vec<plinth_dockerfile::Stage>,
    names: HashMap<String, usize>,
    built: HashMap<usize, StageOut>,
    global: Vec<(String, String)>,
    ignore: Matcher,
    images: HashMap<String, (Vec<LayerRef>, Arc<tempfile::TempPath>, Tree)>,
    /// Git work trees `ADD` read; their files back entries until the build ends.
    checkouts: Vec<remote::Checkout>,
    warnings: Vec<String>,
}

fn platform_args(prefix: &str, p: &Platform) -> Vec<(String, String)> {
    vec![
        (format!("{prefix}PLATFORM"), p.to_string()),
        (format!("{prefix}OS"), p.os.clone()),
        (format!("{prefix}ARCH"), p.architecture.clone()),
        (
            format!("{prefix}VARIANT"),
            p.variant.clone().unwrap_or_default(),
        ),
    ]
}

/// Builds the target stage of `text` (a Dockerfile).
pub async fn build(text: &str, opts: &Options, resolver: &dyn Resolver) -> Result<Output> {
    let df = plinth_dockerfile::parse(text)
        .map_err(|e| BuildError::Invalid(e.render(&opts.file_name, text)))?;
    let stages = df.stages();
    if stages.is_empty() {
        return Err(BuildError::Invalid(format!(
            "{}: no FROM instruction",
            opts.file_name
        )));
    }
    let mut names = HashMap::new();
    for s in &stages {
        if let Some(n) = &s.name {
            names.entry(n.clone()).or_insert(s.index);
        }
    }
    let ignore_path = opts.context.join(".dockerignore");
    let ignore = match std::fs::read_to_string(&ignore_path) {
        Ok(t) => Matcher::parse(&t)
            .map_err(|e| BuildError::Invalid(format!("{}: {e}", ignore_path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Matcher::default(),
        Err(e) => return Err(BuildError::io(&ignore_path, e)),
    };
    let lexer = Lexer::new(df.escape);
    let mut exec = Exec {
        opts,
        resolver,
        lexer,
        names,
        built: HashMap::new(),
        global: Vec::new(),
        ignore,
        images: HashMap::new(),
        checkouts: Vec::new(),
        warnings: Vec::new(),
        stages,
        df,
    };
    exec.global_args()?;
    let target = match &opts.target {
        Some(t) => *exec.names.get(&t.to_lowercase()).ok_or_else(|| {
            BuildError::Invalid(format!(
                "{}: target stage {t:?} could not be found",
                opts.file_name
            ))
        })?,
        None => exec.stages.len() - 1,
    };
    let out = exec.stage(target).await?;
    let base_kind = out.base_kind;
    let user = out
        .image
        .config
        .config
        .as_ref()
        .and_then(|c| c.user.clone());
    let added = out.added.clone();
    let allow = opts.allow_dynamic;
    let report = tokio::task::spawn_blocking(move || {
        preflight::check(&added, base_kind, user.as_deref(), allow)
    })
    .await
    .map_err(|e| BuildError::Invalid(format!("pre-flight failed: {e}")))??;
    exec.warnings.extend(report.warnings);
    Ok(Output {
        image: out.image.finish()?,
        warnings: exec.warnings,
    })
}

fn loc(opts: &Options, ins: &Instruction) -> String {
    format!("{}:{}", opts.file_name, ins.span.line)
}

impl Exec<'_> {
    fn err(&self, ins: &Instruction, msg: impl std::fmt::Display) -> BuildError {
        BuildError::Invalid(format!("{}: {}: {msg}", loc(self.opts, ins), ins.original))
    }

    fn global_args(&mut self) -> Result<()> {
        let mut scope = platform_args("TARGET", &self.opts.platform);
        scope.extend(platform_args("BUILD", &Platform::host()));
        let first = self.stages[0].from_instruction;
        for n in 0..first {
            let ins = self.df.instructions[n].clone();
            if ins.kind == InstructionKind::Arg {
                self.declare_args(&ins, &mut scope, None)?;
            }
        }
        self.global = scope;
        Ok(())
    }

    fn vars(scope: &[(String, String)]) -> Vec<String> {
        scope.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    fn expand(&self, ins: &Instruction, word: &str, vars: &[String]) -> Result<String> {
        self.lexer
            .process_word(word, vars)
            .map_err(|e| self.err(ins, e))
    }

    /// Declares the ARGs of `ins` into `scope` (`env` is the stage's ENV, for defaults).
    fn declare_args(
        &self,
        ins: &Instruction,
        scope: &mut Vec<(String, String)>,
        env: Option<&[String]>,
    ) -> Result<()> {
        let Args::Args(decls) = &ins.args else {
            return Err(self.err(ins, "ARG requires at least one argument"));
        };
        for d in decls {
            let name = d.name.value.clone();
            let mut vars = Self::vars(scope);
            if let Some(env) = env {
                vars.extend(env.iter().cloned());
            }
            let value = if let Some(v) = self.opts.build_args.get(&name) {
                Some(v.clone())
            } else if let Some(def) = &d.default {
                Some(self.expand(ins, &def.value, &vars)?)
            } else if env.is_some() {
                self.global
                    .iter()
                    .rev()
                    .find(|(k, _)| k == &name)
                    .map(|(_, v)| v.clone())
            } else {
                None
            };
            scope.retain(|(k, _)| k != &name);
            if let Some(v) = value {
                scope.push((name, v));
            }
        }
        Ok(())
    }

    fn stage(
        &mut self,
        index: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<StageOut>> + Send + '_>> {
        Box::pin(async move {
            if let Some(s) = self.built.get(&index) {
                return Ok(s.clone());
            }
            let out = self.run_stage(index).await?;
            self.built.insert(index, out.clone());
            Ok(out)
        })
    }

    async fn open_image(
        &mut self,
        ins: &Instruction,
        name: &str,
        platform: &Platform,
    ) -> Result<Base> {
        let (source, annotation) = self
            .resolver
            .open(name)
            .await
            .map_err(|e| self.err(ins, e))?;
        Base::resolve(source, annotation, Some(platform))
            .await
            .map_err(|e| self.err(ins, e))
    }

    async fn run_stage(&mut self, index: usize) -> Result<StageOut> {
        let stage = self.stages[index].clone();
        let from = self.df.instructions[stage.from_instruction].clone();
        let gvars = Self::vars(&self.global);
        let base_name = self.expand(&from, &stage.base.value, &gvars)?;
        let platform = match &stage.platform {
            Some(f) => {
                let v = self.expand(&from, f.value.as_deref().unwrap_or(""), &gvars)?;
                Platform::parse(&v).map_err(|e| self.err(&from, e))?
            }
            None => self.opts.platform.clone(),
        };
        let epoch = self.opts.layer.epoch;
        let mut out = if base_name.eq_ignore_ascii_case("scratch") {
            StageOut {
                image: Image::on(&Base::scratch(&platform), epoch),
                base_layers: vec![],
                added: Tree::new(),
                base_kind: BaseKind::Scratch,
                keep: vec![],
                cmd_set: false,
                pending: Tree::new(),
            }
        } else if let Some(&i) = self.names.get(&base_name.to_lowercase())
            && i < index
        {
            self.stage(i).await?
        } else {
            let base = self.open_image(&from, &base_name, &platform).await?;
            let mut image = Image::on(&base, epoch);
            if let Some(c) = image.config.config.as_mut()
                && let Some(triggers) = c.extra.remove("OnBuild")
                && triggers.as_array().is_some_and(|a| !a.is_empty())
            {
                return Err(self.err(
                    &from,
                    format!("{base_name} has ONBUILD triggers ({triggers}); running them is not supported yet"),
                ));
            }
            StageOut {
                base_layers: base.layers.clone(),
                image,
                added: Tree::new(),
                base_kind: if base.layers.is_empty() {
                    BaseKind::Scratch
                } else {
                    BaseKind::Image
                },
                keep: vec![],
                cmd_set: false,
                pending: Tree::new(),
            }
        };
        out.cmd_set = false;
        // Stage scope: ARGs declared in the stage only (global ones by redeclaration).
        let mut args: Vec<(String, String)> = Vec::new();
        for n in stage.instructions.clone() {
            let ins = self.df.instructions[n].clone();
            self.instruction(&ins, &mut out, &mut args).await?;
        }
        if !out.pending.is_empty() {
            let tree = std::mem::take(&mut out.pending);
            self.add_layer(&mut out, tree, "WORKDIR # plinth").await?;
        }
        Ok(out)
    }

    fn env_of(out: &StageOut) -> Vec<String> {
        out.image
            .config
            .config
            .as_ref()
            .and_then(|c| c.env.clone())
            .unwrap_or_default()
    }

    fn shell_of(out: &StageOut) -> Vec<String> {
        out.image
            .config
            .config
            .as_ref()
            .and_then(|c| c.extra.get("Shell"))
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_else(|| vec!["/bin/sh".to_string(), "-c".to_string()])
    }

    async fn instruction(
        &mut self,
        ins: &Instruction,
        out: &mut StageOut,
        args: &mut Vec<(String, String)>,
    ) -> Result<()> {
        let env = Self::env_of(out);
        let mut vars = Self::vars(args);
        vars.extend(env.iter().cloned());
        let vars = vars;
        let history = format!("{} # plinth", ins.original);
        match ins.kind {
            InstructionKind::Run => {
                return Err(BuildError::Unsupported(format!(
                    "{}: RUN needs a container runtime; not supported yet ({})",
                    loc(self.opts, ins),
                    ins.original
                )));
            }
            InstructionKind::Copy | InstructionKind::Add => {
                let copied = self.copy(ins, out, &vars).await?;
                let mut tree = std::mem::take(&mut out.pending);
                tree.merge(&copied);
                self.add_layer(out, tree, &history).await?;
                return Ok(());
            }
            InstructionKind::Arg => {
                self.declare_args(ins, args, Some(&env))?;
            }
            InstructionKind::Env | InstructionKind::Label => {
                let Args::KeyValues(kvs) = &ins.args else {
                    return Err(self.err(ins, "expected KEY=VALUE pairs"));
                };
                // Every pair is expanded with the values from before the instruction, as in
                // BuildKit (`ENV a=1 b=$a` gives b the old a).
                for kv in kvs {
                    let k = self.expand(ins, &kv.key.value, &vars)?;
                    let v = self.expand(ins, &kv.value.value, &vars)?;
                    let rt = out.image.runtime();
                    if ins.kind == InstructionKind::Env {
                        set_env(rt.env.get_or_insert_with(Vec::new), &k, &v);
                    } else {
                        rt.labels.get_or_insert_with(Default::default).insert(k, v);
                    }
                }
            }
            InstructionKind::User => {
                let v = self.text(ins, &vars)?;
                out.image.runtime().user = Some(v);
            }
            InstructionKind::Workdir => {
                let v = self.text(ins, &vars)?;
                let rt = out.image.runtime();
                let base = rt.working_dir.clone().unwrap_or_else(|| "/".into());
                let joined = if v.starts_with('/') {
                    v
                } else {
                    format!("{base}/{v}")
                };
                let wd = format!("/{}", clean_path(&joined));
                rt.working_dir = Some(wd.clone());
                // WORKDIR creates the directory (root-owned) when the build made none there.
                if out.added.get(&wd).is_none() && wd != "/" {
                    out.pending.insert(&wd, Entry::dir(0o755));
                }
            }
            InstructionKind::Stopsignal => {
                let v = self.text(ins, &vars)?;
                out.image.runtime().stop_signal = Some(v);
            }
            InstructionKind::Maintainer => {
                let v = self.text(ins, &vars)?;
                out.image.config.author = Some(v);
            }
            InstructionKind::Cmd | InstructionKind::Entrypoint => {
                let cmd = match &ins.args {
                    Args::Exec(words) => words.iter().map(|w| w.value.clone()).collect(),
                    Args::Shell(w) => {
                        let mut s = Self::shell_of(out);
                        s.push(w.value.clone());
                        s
                    }
                    Args::None => vec![],
                    _ => return Err(self.err(ins, "expected a command")),
                };
                let rt = out.image.runtime();
                if ins.kind == InstructionKind::Cmd {
                    rt.cmd = Some(cmd);
                    out.cmd_set = true;
                } else {
                    rt.entrypoint = Some(cmd);
                    // An ENTRYPOINT resets a CMD inherited from the base (not one of this stage).
                    if !out.cmd_set {
                        out.image.runtime().cmd = None;
                    }
                }
            }
            InstructionKind::Shell => {
                let Args::Exec(words) = &ins.args else {
                    return Err(self.err(
                        ins,
                        "SHELL requires the JSON form, e.g. [\"/bin/bash\", \"-c\"]",
                    ));
                };
                let s: Vec<String> = words.iter().map(|w| w.value.clone()).collect();
                out.image.runtime().extra.insert("Shell".into(), json!(s));
            }
            InstructionKind::Expose => {
                let words = self.list(ins, &vars)?;
                let rt = out.image.runtime();
                for w in words {
                    for key in port_key(&w).map_err(|e| self.err(ins, e))? {
                        rt.exposed_ports
                            .get_or_insert_with(Default::default)
                            .insert(key, json!({}));
                    }
                }
            }
            InstructionKind::Volume => {
                let words = self.list(ins, &vars)?;
                let rt = out.image.runtime();
                for w in words {
                    rt.volumes
                        .get_or_insert_with(Default::default)
                        .insert(w, json!({}));
                }
            }
            InstructionKind::Healthcheck => {
                let hc = self.healthcheck(ins)?;
                out.image.runtime().extra.insert("Healthcheck".into(), hc);
            }
            InstructionKind::Onbuild => {
                let Some(inner) = ins.onbuild_inner() else {
                    return Err(self.err(ins, "ONBUILD requires an instruction"));
                };
                let rt = out.image.runtime();
                let list = rt.extra.entry("OnBuild").or_insert_with(|| json!([]));
                if let Some(a) = list.as_array_mut() {
                    a.push(Value::String(inner.original.clone()));
                }
            }
            InstructionKind::From => unreachable!("FROM starts a stage"),
            InstructionKind::Unknown => {
                return Err(self.err(ins, format!("unknown instruction {}", ins.keyword.value)));
            }
        }
        out.image.history(&history, true);
        Ok(())
    }

    async fn add_layer(&self, out: &mut StageOut, tree: Tree, history: &str) -> Result<()> {
        let opts = self.opts.layer.clone();
        let t = tree.clone();
        let built = tokio::task::spawn_blocking(move || write_layer(&t, &opts))
            .await
            .map_err(|e| BuildError::Invalid(format!("layer writer failed: {e}")))??;
        out.added.merge(&tree);
        out.image.append(LayerRef::built(built), history);
        Ok(())
    }

    fn text(&self, ins: &Instruction, vars: &[String]) -> Result<String> {
        match &ins.args {
            Args::Text(w) | Args::Shell(w) => self.expand(ins, &w.value, vars),
            Args::List(ws) => {
                let v: Vec<String> = ws.iter().map(|w| w.value.clone()).collect();
                self.expand(ins, &v.join(" "), vars)
            }
            _ => Err(self.err(ins, "expected one argument")),
        }
    }

    fn list(&self, ins: &Instruction, vars: &[String]) -> Result<Vec<String>> {
        let words: Vec<&str> = match &ins.args {
            Args::List(ws) | Args::Exec(ws) => ws.iter().map(|w| w.value.as_str()).collect(),
            Args::Text(w) | Args::Shell(w) => vec![w.value.as_str()],
            _ => vec![],
        };
        let mut out = Vec::new();
        for w in words {
            if matches!(ins.args, Args::Exec(_)) {
                out.push(w.to_string());
            } else {
                let words = self
                    .lexer
                    .process_words(w, vars)
                    .map_err(|e| self.err(ins, e))?;
                out.extend(words);
            }
        }
        Ok(out)
    }

    fn healthcheck(&self, ins: &Instruction) -> Result<Value> {
        let Args::Healthcheck { kind, cmd } = &ins.args else {
            return Err(self.err(ins, "HEALTHCHECK requires NONE or CMD"));
        };
        let mut hc = serde_json::Map::new();
        match kind.value.to_ascii_uppercase().as_str() {
            "NONE" => {
                hc.insert("Test".into(), json!(["NONE"]));
                return Ok(Value::Object(hc));
            }
            "CMD" => {}
            other => return Err(self.err(ins, format!("unknown HEALTHCHECK type {other:?}"))),
        }
        let test = match &**cmd {
            Args::Exec(ws) => {
                let mut t = vec!["CMD".to_string()];
                t.extend(ws.iter().map(|w| w.value.clone()));
                t
            }
            Args::Shell(w) => vec!["CMD-SHELL".to_string(), w.value.clone()],
            _ => return Err(self.err(ins, "HEALTHCHECK CMD requires a command")),
        };
        hc.insert("Test".into(), json!(test));
        for (flag, key) in [
            ("interval", "Interval"),
            ("timeout", "Timeout"),
            ("start-period", "StartPeriod"),
            ("start-interval", "StartInterval"),
        ] {
            if let Some(v) = ins.flag(flag).and_then(|f| f.value.clone()) {
                let ns = parse_duration(&v)
                    .ok_or_else(|| self.err(ins, format!("--{flag}={v}: invalid duration")))?;
                if ns != 0 {
                    hc.insert(key.into(), json!(ns));
                }
            }
        }
        if let Some(v) = ins.flag("retries").and_then(|f| f.value.clone()) {
            let n: i64 = v
                .parse()
                .map_err(|_| self.err(ins, format!("--retries={v}: not a number")))?;
            if n != 0 {
                hc.insert("Retries".into(), json!(n));
            }
        }
        Ok(Value::Object(hc))
    }

    /// Files of a stage or image for `COPY --from`, limited to `want`.
    async fn source_tree(
        &mut self,
        ins: &Instruction,
        from: &str,
        want: &[String],
    ) -> Result<(Tree, Vec<Arc<tempfile::TempPath>>)> {
        let stage_index = self.names.get(&from.to_lowercase()).copied().or_else(|| {
            from.parse::<usize>()
                .ok()
                .filter(|i| *i < self.stages.len())
        });
        if let Some(i) = stage_index {
            let current = self
                .stages
                .iter()
                .position(|s| {
                    s.instructions.contains(
                        &self
                            .df
                            .instructions
                            .iter()
                            .position(|x| x == ins)
                            .unwrap_or(0),
                    )
                })
                .unwrap_or(usize::MAX);
            if i >= current {
                return Err(self.err(
                    ins,
                    format!("--from={from} names this stage or a later one"),
                ));
            }
            let st = self.stage(i).await?;
            let mut keep = st.keep.clone();
            let mut tree = Tree::new();
            if !st.base_layers.is_empty() {
                let (t, k) =
                    imagefs::extract(&st.base_layers, imagefs::want_paths(want), &self.temp_dir())
                        .await
                        .map_err(|e| self.err(ins, e))?;
                tree = t;
                keep.push(k);
            }
            tree.merge(&st.added);
            return Ok((tree, keep));
        }
        // An image: only the wanted paths are kept (each layer is still streamed once).
        let key = format!("{from}\n{}", want.join("\n"));
        if !self.images.contains_key(&key) {
            let platform = self.opts.platform.clone();
            let base = self.open_image(ins, from, &platform).await?;
            let (t, k) =
                imagefs::extract(&base.layers, imagefs::want_paths(want), &self.temp_dir())
                    .await
                    .map_err(|e| self.err(ins, e))?;
            self.images.insert(key.clone(), (base.layers, k, t));
        }
        let (_, k, t) = &self.images[&key];
        Ok((t.clone(), vec![k.clone()]))
    }

    fn temp_dir(&self) -> PathBuf {
        self.opts
            .layer
            .temp_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir)
    }

    async fn owner(&mut self, ins: &Instruction, spec: &str, out: &StageOut) -> Result<(u64, u64)> {
        let (u, g) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec, None),
        };
        let numeric = |s: &str| s.parse::<u64>().ok();
        let need_names = numeric(u).is_none() || g.is_some_and(|g| numeric(g).is_none());
        let (passwd, group) = if need_names {
            let mut tree = Tree::new();
            if !out.base_layers.is_empty() {
                let (t, _k) = imagefs::extract(
                    &out.base_layers,
                    imagefs::want_paths(&["etc/passwd".into(), "etc/group".into()]),
                    &self.temp_dir(),
                )
                .await?;
                tree = t;
                tree.merge(&out.added);
                let p = file_text(&tree, "etc/passwd");
                let g = file_text(&tree, "etc/group");
                (p, g)
            } else {
                tree.merge(&out.added);
                (
                    file_text(&tree, "etc/passwd"),
                    file_text(&tree, "etc/group"),
                )
            }
        } else {
            (String::new(), String::new())
        };
        let lookup = |db: &str, name: &str, field: usize| -> Option<u64> {
            db.lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.first() == Some(&name))
                .and_then(|f| f.get(field).and_then(|v| v.parse().ok()))
        };
        let uid = match numeric(u) {
            Some(n) => n,
            None => lookup(&passwd, u, 2).ok_or_else(|| {
                self.err(ins, format!("--chown: user {u:?} not found in /etc/passwd"))
            })?,
        };
        let gid = match g {
            None if numeric(u).is_some() => uid,
            None => lookup(&passwd, u, 3).unwrap_or(uid),
            Some(g) => match numeric(g) {
                Some(n) => n,
                None => lookup(&group, g, 2).ok_or_else(|| {
                    self.err(ins, format!("--chown: group {g:?} not found in /etc/group"))
                })?,
            },
        };
        Ok((uid, gid))
    }
}

fn file_text(tree: &Tree, path: &str) -> String {
    use crate::layer::Content;
    let Some(Entry {
        kind: Kind::File { content, .. },
        ..
    }) = tree.get(path)
    else {
        return String::new();
    };
    match content {
        Content::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Content::Host(p) => std::fs::read_to_string(p).unwrap_or_default(),
        Content::Range { file, offset, len } => {
            use std::io::{Read, Seek, SeekFrom};
            let mut s = String::new();
            if let Ok(mut f) = std::fs::File::open(&**file)
                && f.seek(SeekFrom::Start(*offset)).is_ok()
            {
                let _ = f.take(*len).read_to_string(&mut s);
            }
            s
        }
    }
}

fn glob_prefix(p: &str) -> String {
    let mut out = Vec::new();
    for c in p.split('/') {
        if has_glob(c) {
            break;
        }
        out.push(c);
    }
    out.join("/")
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}/{b}"),
    }
}

fn base_name(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// Parses a Go duration (`30s`, `1m30s`, `500ms`, `1h`) into nanoseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * mult;
        rest = &rest[unit_end..];
    }
    Some(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(30_000_000_000));
        assert_eq!(parse_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_duration("500ms"), Some(500_000_000));
        assert_eq!(parse_duration("x"), None);
    }

    #[test]
    fn helpers() {
        assert_eq!(glob_prefix("a/b*/c"), "a");
        assert_eq!(join("", "x"), "x");
        assert_eq!(base_name("a/b"), "b");
    }
}
