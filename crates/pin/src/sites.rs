//! Image references in files, with where they are and how to rewrite them.
//!
//! A [`Site`] is one place a file names an image: a `FROM`, `COPY --from`, `RUN --mount
//! from=`, a compose service's `image:` or a Kubernetes container's `image:`. It keeps the
//! text as written, the reference after `ARG` expansion, and — for rewriting — the bytes that
//! hold the *end* of the reference: the reference text itself when it is literal, or the
//! default of the `ARG` it ends with (`FROM python:${VER}` is pinned at `ARG VER=…`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plinth_dockerfile::{ArgDep, ArgSource, ExpandOptions, RefKind, RefSource, Span};
use plinth_reference::Reference;
use serde::Serialize;

use crate::discover::{Candidate, FileKind};
use crate::error::{PinError, Result};
use crate::text::Edit;
use crate::yaml;

/// Where in its file a reference was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// `FROM image`.
    From,
    /// `COPY --from=image` or `ADD --from=image`.
    CopyFrom,
    /// `RUN --mount=…,from=image`.
    MountFrom,
    /// `services.NAME.image` of a compose file.
    Compose,
    /// A container's `image:` in a Kubernetes manifest.
    Kubernetes,
}

/// What a reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An image from a registry.
    Image,
    /// An earlier build stage.
    Stage,
    /// `scratch`, the empty image.
    Scratch,
}

/// One image reference in a file.
#[derive(Debug, Clone, Serialize)]
pub struct Site {
    /// Which form it came from.
    pub origin: Origin,
    /// Where the text is (1-based line and column; byte offsets).
    pub span: Span,
    /// The text as written (`${BASE}`, `python:${VER}`, `python:3.12-slim`).
    pub text: String,
    /// The reference after `ARG` expansion (with `--build-arg` applied).
    pub resolved: String,
    /// What it names.
    pub kind: Kind,
    /// For [`Kind::Stage`], the stage's index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<usize>,
    /// `--platform` after expansion (FROM only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// True when `--platform` depends on BuildKit's automatic platform ARGs
    /// (`$BUILDPLATFORM`, `$TARGETPLATFORM`…): it is not a fixed platform.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub platform_automatic: bool,
    /// The normalized reference (`docker.io/library/python:3.12-slim`), for images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<Reference>,
    /// Why the resolved text is not a valid reference, for images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid: Option<String>,
    /// True when the text uses variables.
    pub uses_args: bool,
    /// True inside an `ONBUILD` trigger.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub onbuild: bool,
    /// Where and how the reference can be rewritten, or why it cannot.
    #[serde(skip)]
    pub(crate) target: std::result::Result<Target, String>,
}

impl Site {
    /// True when the reference carries a digest.
    pub fn pinned(&self) -> bool {
        self.reference
            .as_ref()
            .is_some_and(|r| r.digest().is_some())
    }

    /// True for a registry image with a valid reference (what lookups are about).
    pub fn is_image(&self) -> bool {
        self.kind == Kind::Image && self.reference.is_some()
    }

    /// The resolved text with its digest removed: the name and tag as the user spells them
    /// (`python:3.12-slim`, never `docker.io/library/…`).
    pub fn written_name_and_tag(&self) -> (&str, Option<&str>) {
        let no_digest = self
            .resolved
            .split_once('@')
            .map_or(self.resolved.as_str(), |(n, _)| n);
        match no_digest.rfind(':') {
            Some(i) if !no_digest[i..].contains('/') => {
                (&no_digest[..i], Some(&no_digest[i + 1..]))
            }
            _ => (no_digest, None),
        }
    }

    /// The reference written with the user's spelling of the name, `tag` and `digest`.
    pub fn spelled(&self, tag: Option<&str>, digest: Option<&str>) -> String {
        let (name, _) = self.written_name_and_tag();
        let mut s = name.to_string();
        if let Some(t) = tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// The edit that makes the reference read `desired`, or why it cannot be made.
    pub(crate) fn edit_to(&self, desired: &str) -> std::result::Result<Edit, String> {
        let t = self.target.as_ref().map_err(Clone::clone)?;
        let rest = desired.strip_prefix(t.prefix.as_str()).ok_or_else(|| match &t.via {
            Some(arg) => format!(
                "cannot rewrite {} to {desired}: the change reaches outside ARG {arg}'s default",
                self.resolved
            ),
            None => format!(
                "cannot rewrite {} to {desired}: the change reaches into text from variables",
                self.resolved
            ),
        })?;
        Ok(Edit {
            start: t.start,
            end: t.end,
            text: rest.to_string(),
        })
    }

    /// Where the rewrite happens: the ARG whose default ends the reference, if any.
    pub fn rewrite_via(&self) -> Option<&str> {
        self.target.as_ref().ok().and_then(|t| t.via.as_deref())
    }
}

/// The bytes that end a reference: replacing `start..end` with `X` makes the reference read
/// `prefix + X`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub start: usize,
    pub end: usize,
    pub prefix: String,
    /// The ARG whose default holds the bytes, when not the reference text itself.
    pub via: Option<String>,
}

/// An ARG used in a `FROM` line that has no value.
#[derive(Debug, Clone, Serialize)]
pub struct UnsetArg {
    /// The variable.
    pub name: String,
    /// Where it is used.
    pub span: Span,
    /// True when declared (without a default), false when never declared.
    pub declared: bool,
}

/// A file read, with its references.
#[derive(Debug, Clone)]
pub struct FileRefs {
    /// The path as found.
    pub path: PathBuf,
    /// The kind of file.
    pub kind: FileKind,
    /// The text, exactly as read.
    pub text: String,
    /// The references, in file order.
    pub sites: Vec<Site>,
    /// ARGs without a value used in `FROM` lines.
    pub unset_args: Vec<UnsetArg>,
}

impl FileRefs {
    /// `path:line:col` of a span, for messages.
    pub fn location(&self, span: &Span) -> String {
        format!("{}:{}:{}", self.path.display(), span.line, span.col)
    }
}

/// Reads the files of `candidates` and finds their references. A YAML file found in a walk
/// that does not parse, or holds no Kubernetes object, is skipped; one named explicitly is
/// an error when it does not parse.
pub fn read_files(candidates: &[Candidate], opts: &ExpandOptions) -> Result<Vec<FileRefs>> {
    let mut out = Vec::new();
    for c in candidates {
        let text = read_text(&c.path)?;
        match extract(&c.path, c.kind, text, opts) {
            Ok(Some(f)) => out.push(f),
            Ok(None) => {}
            Err(e @ PinError::Parse { .. }) if !c.explicit && c.kind != FileKind::Dockerfile => {
                tracing::debug!(error = %e, "skipping YAML file");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Reads a file as UTF-8.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| PinError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    String::from_utf8(bytes).map_err(|_| PinError::Parse {
        path: path.to_path_buf(),
        message: format!("{}: not UTF-8 text", path.display()),
    })
}

/// Finds the references of one file's text. `Ok(None)` for YAML without Kubernetes objects.
pub fn extract(
    path: &Path,
    kind: FileKind,
    text: String,
    opts: &ExpandOptions,
) -> Result<Option<FileRefs>> {
    let (sites, unset_args) = match kind {
        FileKind::Dockerfile => dockerfile_sites(path, &text, opts)?,
        FileKind::Compose => {
            let imgs = yaml::compose_images(&text).map_err(|m| yaml_error(path, m))?;
            // Not a Parse error: a compose file found in a walk is skipped when its YAML does
            // not parse, but a broken `.env` beside it must be said.
            let env = crate::compose_env::ComposeEnv::for_file(path).map_err(PinError::Config)?;
            (yaml_sites(Origin::Compose, imgs, Some(&env)), Vec::new())
        }
        FileKind::Kubernetes => {
            match yaml::kubernetes_images(&text).map_err(|m| yaml_error(path, m))? {
                Some(imgs) => (yaml_sites(Origin::Kubernetes, imgs, None), Vec::new()),
                None => return Ok(None),
            }
        }
    };
    Ok(Some(FileRefs {
        path: path.to_path_buf(),
        kind,
        text,
        sites,
        unset_args,
    }))
}

fn yaml_error(path: &Path, m: String) -> PinError {
    PinError::Parse {
        path: path.to_path_buf(),
        message: format!("{}:{m}", path.display()),
    }
}

fn parse_reference(s: &str) -> (Option<Reference>, Option<String>) {
    if s.is_empty() {
        return (None, Some("the reference is empty".into()));
    }
    match Reference::parse_normalized(s) {
        Ok(r) => (Some(r), None),
        Err(e) => (None, Some(e.to_string())),
    }
}

/// Sites of YAML `image:` values. Compose files pass their variables (`env`), and an
/// interpolated value is resolved as Compose would; Kubernetes does not interpolate.
fn yaml_sites(
    origin: Origin,
    imgs: Vec<yaml::Scalar>,
    env: Option<&crate::compose_env::ComposeEnv>,
) -> Vec<Site> {
    imgs.into_iter()
        .map(|s| {
            let uses_args = s.value.contains('$');
            let (resolved, (reference, invalid)) = match (uses_args, env) {
                (false, _) => (s.value.clone(), parse_reference(&s.value)),
                (true, Some(env)) => match env.interpolate(&s.value) {
                    Ok(v) => (v.clone(), parse_reference(&v)),
                    Err(m) => (s.value.clone(), (None, Some(m))),
                },
                (true, None) => (
                    s.value.clone(),
                    (
                        None,
                        Some("uses $ variables, which Kubernetes does not interpolate".into()),
                    ),
                ),
            };
            let target = match (&s.value_span, uses_args) {
                (_, true) => Err(
                    "the value uses variable interpolation; pin the variables' values instead"
                        .to_string(),
                ),
                (None, _) => Err("the YAML scalar uses escapes or block style".to_string()),
                (Some(v), false) => Ok(Target {
                    start: v.start,
                    end: v.end,
                    prefix: String::new(),
                    via: None,
                }),
            };
            Site {
                origin,
                span: s.value_span.unwrap_or(s.span),
                text: s.value.clone(),
                resolved,
                kind: Kind::Image,
                stage: None,
                platform: None,
                platform_automatic: false,
                reference,
                invalid,
                uses_args,
                onbuild: false,
                target,
            }
        })
        .collect()
}

fn dockerfile_sites(
    path: &Path,
    src: &str,
    opts: &ExpandOptions,
) -> Result<(Vec<Site>, Vec<UnsetArg>)> {
    let df = plinth_dockerfile::parse(src).map_err(|e| PinError::Parse {
        path: path.to_path_buf(),
        message: e
            .render(&path.display().to_string(), src)
            .trim_end()
            .to_string(),
    })?;
    let analysis = df.analyze(opts);
    let mut sites = Vec::new();
    for r in &analysis.refs {
        let (kind, stage) = match r.kind {
            RefKind::Image => (Kind::Image, None),
            RefKind::Stage { index } => (Kind::Stage, Some(index)),
            RefKind::Scratch => (Kind::Scratch, None),
        };
        let (reference, invalid) = if kind == Kind::Image {
            parse_reference(&r.resolved)
        } else {
            (None, None)
        };
        let raw = r.span.text(src);
        let target = if kind == Kind::Image {
            tail_target(src, raw, r.span.start, &r.resolved, &r.arg_deps, df.escape)
        } else {
            Err("not an image".into())
        };
        let platform_automatic = r.platform.as_deref().is_some_and(|p| p.contains('$'))
            && (r.platform_resolved.as_deref().is_none_or(str::is_empty)
                || r.arg_deps.iter().any(|d| d.source == ArgSource::Platform)
                || platform_uses_automatic(r.platform.as_deref().unwrap_or("")));
        sites.push(Site {
            origin: match r.source {
                RefSource::From => Origin::From,
                RefSource::CopyFrom => Origin::CopyFrom,
                RefSource::MountFrom => Origin::MountFrom,
            },
            span: r.span,
            text: r.text.clone(),
            resolved: r.resolved.clone(),
            kind,
            stage,
            platform: r.platform_resolved.clone(),
            platform_automatic,
            reference,
            invalid,
            uses_args: r.uses_args(),
            onbuild: r.onbuild,
            target,
        });
    }
    let unset_args = analysis
        .unset_args
        .iter()
        .map(|u| UnsetArg {
            name: u.name.clone(),
            span: u.span,
            declared: u.declared,
        })
        .collect();
    Ok((sites, unset_args))
}

/// True when a `--platform` value names one of BuildKit's automatic platform ARGs.
fn platform_uses_automatic(raw: &str) -> bool {
    ["TARGET", "BUILD"].iter().any(|p| {
        ["PLATFORM", "OS", "ARCH", "VARIANT"]
            .iter()
            .any(|s| raw.contains(&format!("{p}{s}")))
    })
}

/// A piece of a word as BuildKit's shell lexer sees it.
#[derive(Debug, PartialEq, Eq)]
enum Piece {
    /// Literal characters: their byte range in the word and their value (escapes and
    /// quotes removed).
    Lit {
        start: usize,
        end: usize,
        value: String,
    },
    /// A variable: `$NAME` or `${NAME}` (`simple`), or `${NAME…}` with a modifier.
    Var { name: String, simple: bool },
}

/// Splits a word into literal runs and variables. Quote characters end a literal run (they
/// are not part of the value); the escape character makes the next character literal.
fn pieces(word: &str, escape: char) -> Vec<Piece> {
    let chars: Vec<(usize, char)> = word.char_indices().collect();
    let mut out = Vec::new();
    let mut lit: Option<(usize, usize, String)> = None;
    let mut quote: Option<char> = None;
    let mut i = 0;
    let flush = |lit: &mut Option<(usize, usize, String)>, out: &mut Vec<Piece>| {
        if let Some((start, end, value)) = lit.take() {
            out.push(Piece::Lit { start, end, value });
        }
    };
    let push = |lit: &mut Option<(usize, usize, String)>, at: usize, end: usize, c: char| {
        let l = lit.get_or_insert((at, at, String::new()));
        l.1 = end;
        l.2.push(c);
    };
    while i < chars.len() {
        let (at, c) = chars[i];
        let next_at = chars.get(i + 1).map_or(word.len(), |&(a, _)| a);
        if c == escape && quote != Some('\'') && i + 1 < chars.len() {
            let (_, n) = chars[i + 1];
            let end = chars.get(i + 2).map_or(word.len(), |&(a, _)| a);
            push(&mut lit, at, end, n);
            i += 2;
            continue;
        }
        if (c == '\'' && quote != Some('"')) || (c == '"' && quote != Some('\'')) {
            flush(&mut lit, &mut out);
            quote = if quote == Some(c) { None } else { Some(c) };
            i += 1;
            continue;
        }
        if c == '$' && quote != Some('\'') {
            match chars.get(i + 1).map(|&(_, n)| n) {
                Some('{') => {
                    let mut depth = 0;
                    let mut j = i + 1;
                    while j < chars.len() {
                        match chars[j].1 {
                            '{' => depth += 1,
                            '}' => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                        j += 1;
                    }
                    let inner: String = chars[(i + 2).min(chars.len())..j.min(chars.len())]
                        .iter()
                        .map(|&(_, c)| c)
                        .collect();
                    let name: String = inner
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    let simple = name.len() == inner.len() && !name.is_empty();
                    flush(&mut lit, &mut out);
                    out.push(Piece::Var { name, simple });
                    i = j + 1;
                    continue;
                }
                Some(n) if n.is_alphabetic() || n == '_' => {
                    let mut j = i + 1;
                    let mut name = String::new();
                    while j < chars.len() && (chars[j].1.is_alphanumeric() || chars[j].1 == '_') {
                        name.push(chars[j].1);
                        j += 1;
                    }
                    flush(&mut lit, &mut out);
                    out.push(Piece::Var { name, simple: true });
                    i = j;
                    continue;
                }
                _ => {}
            }
        }
        push(&mut lit, at, next_at, c);
        i += 1;
    }
    flush(&mut lit, &mut out);
    out
}

/// Finds the bytes that end the reference `resolved`, written as `raw` at byte `raw_start`
/// of `src`: the last literal run of the word, or — when the word ends with `${NAME}` — the
/// last literal run of NAME's default, followed down a chain of ARGs.
fn tail_target(
    src: &str,
    raw: &str,
    raw_start: usize,
    resolved: &str,
    deps: &[ArgDep],
    escape: char,
) -> std::result::Result<Target, String> {
    let mut word = raw.to_string();
    let mut start = raw_start;
    let mut via: Option<String> = None;
    for _ in 0..16 {
        match pieces(&word, escape).pop() {
            None => return Err("the reference is empty".into()),
            Some(Piece::Lit {
                start: a,
                end: b,
                value,
            }) => {
                let prefix = resolved
                    .strip_suffix(value.as_str())
                    .ok_or_else(|| format!("cannot locate the end of {resolved} in the file"))?;
                return Ok(Target {
                    start: start + a,
                    end: start + b,
                    prefix: prefix.to_string(),
                    via,
                });
            }
            Some(Piece::Var {
                name,
                simple: false,
            }) => {
                return Err(format!(
                    "the reference ends with a ${{{name}…}} expansion, which plinth does not rewrite"
                ));
            }
            Some(Piece::Var { name, simple: true }) => {
                let dep = deps
                    .iter()
                    .find(|d| d.name == name)
                    .ok_or_else(|| format!("${name} is not declared"))?;
                match (dep.source, dep.default_span) {
                    (ArgSource::BuildArg, _) => {
                        return Err(format!(
                            "the value of {name} comes from --build-arg, not from the file"
                        ));
                    }
                    (ArgSource::Unset, _) => {
                        return Err(format!("ARG {name} has no default to rewrite"));
                    }
                    (ArgSource::Platform, _) => {
                        return Err(format!("{name} is one of BuildKit's platform ARGs"));
                    }
                    (_, None) => return Err(format!("{name} has no default to rewrite")),
                    (_, Some(span)) => {
                        word = span.text(src).to_string();
                        start = span.start;
                        via = Some(name);
                    }
                }
            }
        }
    }
    Err("too many nested ARGs".into())
}

/// Re-reads `text` (the file after edits) and checks that every reference that was to change
/// now reads as wanted, and that no other reference changed. `wanted` maps a site's index to
/// its new resolved text.
pub(crate) fn verify_rewrite(
    before: &FileRefs,
    text: &str,
    wanted: &BTreeMap<usize, String>,
    opts: &ExpandOptions,
) -> Result<()> {
    let after = extract(&before.path, before.kind, text.to_string(), opts)?
        .map(|f| f.sites)
        .unwrap_or_default();
    if after.len() != before.sites.len() {
        return Err(PinError::Rewrite {
            location: before.path.display().to_string(),
            message: "internal error: the rewrite changed the number of references".into(),
        });
    }
    for (i, (old, new)) in before.sites.iter().zip(&after).enumerate() {
        let expect = wanted.get(&i).unwrap_or(&old.resolved);
        if &new.resolved != expect {
            return Err(PinError::Rewrite {
                location: before.location(&old.span),
                message: format!(
                    "rewriting would make this reference {} instead of {expect} (an ARG it \
                     shares with another reference?); the file is left as it is",
                    new.resolved
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn df(src: &str) -> FileRefs {
        extract(
            Path::new("Dockerfile"),
            FileKind::Dockerfile,
            src.into(),
            &ExpandOptions::default(),
        )
        .unwrap()
        .unwrap()
    }

    fn rewrite(src: &str, i: usize, desired: &str) -> String {
        let f = df(src);
        let e = f.sites[i].edit_to(desired).unwrap();
        crate::text::apply(src, &[e])
    }

    #[test]
    fn pieces_of_words() {
        assert_eq!(
            pieces("a${B}\"c\"$D\\$e", '\\'),
            vec![
                Piece::Lit {
                    start: 0,
                    end: 1,
                    value: "a".into()
                },
                Piece::Var {
                    name: "B".into(),
                    simple: true
                },
                Piece::Lit {
                    start: 6,
                    end: 7,
                    value: "c".into()
                },
                Piece::Var {
                    name: "D".into(),
                    simple: true
                },
                Piece::Lit {
                    start: 10,
                    end: 13,
                    value: "$e".into()
                },
            ]
        );
        assert_eq!(
            pieces("${V:-x}", '\\'),
            vec![Piece::Var {
                name: "V".into(),
                simple: false
            }]
        );
    }

    #[test]
    fn literal_reference() {
        let src =
            "\u{feff}# c\r\nFROM python:3.12-slim AS app  \r\nCOPY --from=busybox:1 /a /b\r\n";
        let f = df(src);
        assert_eq!(f.sites.len(), 2);
        assert_eq!((f.sites[0].span.line, f.sites[0].span.col), (2, 6));
        assert_eq!(
            f.sites[0].written_name_and_tag(),
            ("python", Some("3.12-slim"))
        );
        let out = rewrite(src, 0, "python:3.12-slim@sha256:abc");
        assert_eq!(
            out,
            "\u{feff}# c\r\nFROM python:3.12-slim@sha256:abc AS app  \r\nCOPY --from=busybox:1 /a /b\r\n"
        );
        let out = rewrite(src, 1, "busybox:1@sha256:def");
        assert!(out.contains("COPY --from=busybox:1@sha256:def /a /b\r\n"));
    }

    #[test]
    fn arg_defaults() {
        let src = "ARG BASE=\"python:3.12\"\nARG VER=3.11-slim\nFROM ${BASE}\nFROM python:$VER\nFROM ${BASE}@sha256:x\n";
        let f = df(src);
        let out = rewrite(src, 0, "python:3.12@sha256:a");
        assert!(
            out.starts_with("ARG BASE=\"python:3.12@sha256:a\"\n"),
            "{out}"
        );
        assert_eq!(f.sites[0].rewrite_via(), Some("BASE"));
        let out = rewrite(src, 1, "python:3.11.2-slim@sha256:b");
        assert!(out.contains("ARG VER=3.11.2-slim@sha256:b\n"), "{out}");
        // The name from the ARG cannot change when only the digest is literal.
        assert!(f.sites[2].edit_to("node:1@sha256:y").is_err());
        assert!(f.sites[2].edit_to("python:3.12@sha256:y").is_ok());
    }

    #[test]
    fn unrewritable() {
        let src = "ARG A\nARG B=x\nFROM $A\nFROM ${B:-y}\nFROM scratch\n";
        let f = df(src);
        assert!(
            f.sites[0]
                .target
                .as_ref()
                .unwrap_err()
                .contains("no default")
        );
        assert!(
            f.sites[1]
                .target
                .as_ref()
                .unwrap_err()
                .contains("expansion")
        );
        assert_eq!(f.sites[2].kind, Kind::Scratch);
        let opts = ExpandOptions {
            build_args: [("B".to_string(), "z".to_string())].into(),
            ..Default::default()
        };
        let src2 = "ARG B=x\nFROM $B\n";
        let f = extract(Path::new("D"), FileKind::Dockerfile, src2.into(), &opts)
            .unwrap()
            .unwrap();
        assert_eq!(f.sites[0].resolved, "z");
        assert!(
            f.sites[0]
                .target
                .as_ref()
                .unwrap_err()
                .contains("--build-arg")
        );
    }

    #[test]
    fn compose_and_kubernetes_rewrites() {
        let src = "services:\r\n  a:\r\n    image: \"redis:7\"  # cache\r\n  b:\r\n    image: nginx\r\n  c:\r\n    image: ${IMG}\r\n";
        let f = extract(
            Path::new("compose.yaml"),
            FileKind::Compose,
            src.into(),
            &ExpandOptions::default(),
        )
        .unwrap()
        .unwrap();
        let e1 = f.sites[0].edit_to("redis:7@sha256:r").unwrap();
        let e2 = f.sites[1].edit_to("nginx:latest@sha256:n").unwrap();
        assert!(f.sites[2].edit_to("x").is_err());
        let out = crate::text::apply(src, &[e1, e2]);
        assert_eq!(
            out,
            "services:\r\n  a:\r\n    image: \"redis:7@sha256:r\"  # cache\r\n  b:\r\n    image: nginx:latest@sha256:n\r\n  c:\r\n    image: ${IMG}\r\n"
        );
        let wanted = [
            (0, "redis:7@sha256:r".to_string()),
            (1, "nginx:latest@sha256:n".to_string()),
        ]
        .into_iter()
        .collect();
        verify_rewrite(&f, &out, &wanted, &ExpandOptions::default()).unwrap();
        // A rewrite that changed something else is refused.
        assert!(verify_rewrite(&f, src, &wanted, &ExpandOptions::default()).is_err());

        let k8s = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: 'busybox:1.36'\n";
        let f = extract(
            Path::new("pod.yaml"),
            FileKind::Kubernetes,
            k8s.into(),
            &ExpandOptions::default(),
        )
        .unwrap()
        .unwrap();
        let e = f.sites[0].edit_to("busybox:1.36@sha256:b").unwrap();
        assert_eq!(
            crate::text::apply(k8s, &[e]),
            "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: 'busybox:1.36@sha256:b'\n"
        );
    }

    #[test]
    fn shared_arg_defaults_must_agree() {
        // Two references end in the same ARG default; a rewrite that would make them differ
        // is caught when the file is read again.
        let src = "ARG V=3.12\nFROM python:$V\nFROM node:$V\n";
        let f = df(src);
        let e = f.sites[0].edit_to("python:3.12@sha256:p").unwrap();
        let out = crate::text::apply(src, &[e]);
        let wanted = [(0, "python:3.12@sha256:p".to_string())]
            .into_iter()
            .collect();
        let err = verify_rewrite(&f, &out, &wanted, &ExpandOptions::default()).unwrap_err();
        assert!(err.to_string().contains("Dockerfile:3:6"), "{err}");
    }

    #[test]
    fn mount_from_and_backtick_escape() {
        let src = "# escape=`\nFROM a:1\nRUN --mount=type=bind,from=tool:2,target=/t `\n  true\n";
        let out = rewrite(src, 1, "tool:2@sha256:c");
        assert!(out.contains("from=tool:2@sha256:c,target=/t"), "{out}");
    }
}
