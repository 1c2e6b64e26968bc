//! `plinth.lock`: every base image reference of a repository and the digests it resolved to.
//!
//! The file is TOML, sorted, with one `[[image]]` table per distinct reference:
//!
//! ```toml
//! # plinth.lock: base image digests, written by `plinth lock`. Do not edit by hand.
//! version = 1
//!
//! [[image]]
//! reference = "docker.io/library/debian:bookworm"   # normalized, as the files name it
//! digest = "sha256:…"             # what it resolved to: the index digest for multi-platform images
//! media-type = "application/vnd.oci.image.index.v1+json"
//! files = ["Dockerfile", "deploy/app.yaml"]          # relative to the lockfile's directory
//!
//! [image.platforms]                                   # each platform's manifest digest
//! "linux/amd64" = "sha256:…"
//! "linux/arm64/v8" = "sha256:…"
//! ```
//!
//! * `reference` is the normalized reference after ARG expansion, with its digest when the
//!   file pins one (so a pinned and an unpinned use of one tag are two entries).
//! * `platforms` lists an index's image manifests (attestations left out); a single-platform
//!   image lists the platform its config names.
//! * `files` are the files that use the reference.
//!
//! `plinth check --locked` compares files with the lock without any network request: a
//! reference missing from the lock, a file the lock does not list for a reference, and a
//! lock entry whose file no longer uses it are findings (rule PL009).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use futures::future::join_all;
use serde::{Deserialize, Serialize};

use crate::check::{Finding, RuleId};
use crate::error::{PinError, Result};
use crate::resolve::Resolver;
use crate::sites::{FileRefs, Kind};

/// The lockfile's current format version.
pub const VERSION: u32 = 1;

/// The default file name.
pub const FILE_NAME: &str = "plinth.lock";

const HEADER: &str =
    "# plinth.lock: base image digests, written by `plinth lock`. Do not edit by hand.\n";

/// A whole lockfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockfile {
    /// Format version, [`VERSION`].
    pub version: u32,
    /// One entry per distinct reference, sorted by reference.
    #[serde(default, rename = "image")]
    pub images: Vec<LockedImage>,
}

/// One reference and what it resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LockedImage {
    /// The normalized reference (`docker.io/library/python:3.12-slim`).
    pub reference: String,
    /// The digest it resolved to (the index's, for a multi-platform image).
    pub digest: String,
    /// The media type of what `digest` names.
    pub media_type: String,
    /// Files using it, relative to the lockfile's directory, `/`-separated.
    pub files: Vec<String>,
    /// Platform (`os/arch[/variant]`) → that platform's manifest digest.
    #[serde(default)]
    pub platforms: BTreeMap<String, String>,
}

impl Lockfile {
    /// Reads a lockfile.
    pub fn read(path: &Path) -> Result<Lockfile> {
        let text = std::fs::read_to_string(path).map_err(|e| PinError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Lockfile::parse(&text).map_err(|e| PinError::Config(format!("{}: {e}", path.display())))
    }

    /// Parses lockfile text.
    pub fn parse(text: &str) -> std::result::Result<Lockfile, String> {
        let lock: Lockfile = toml::from_str(text).map_err(|e| e.to_string())?;
        if lock.version != VERSION {
            return Err(format!(
                "lockfile version {} is not supported (this plinth writes version {VERSION})",
                lock.version
            ));
        }
        Ok(lock)
    }

    /// The file's text: the header comment, then the TOML.
    pub fn to_text(&self) -> String {
        let body = toml::to_string(self).expect("a lockfile always serializes");
        let nl = if body.ends_with('\n') { "" } else { "\n" };
        format!("{HEADER}{body}{nl}")
    }

    /// Writes the lockfile (temp file and rename).
    pub fn write(&self, path: &Path) -> Result<()> {
        crate::text::write_atomic(path, &self.to_text()).map_err(|e| PinError::Io {
            path: path.to_path_buf(),
            message: format!("cannot write: {e}"),
        })
    }
}

/// `path` relative to `base` with `/` separators when it is below `base`, else absolute.
/// Neither path needs to exist; `.` and `..` are resolved lexically.
pub fn relative_uri(base: &Path, path: &Path) -> String {
    let abs = lexical(path);
    let base = lexical(base);
    let p = abs
        .strip_prefix(&base)
        .map(Path::to_path_buf)
        .unwrap_or(abs);
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::RootDir => Some(String::new()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn lexical(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Resolves every image reference of `files` (each once, concurrently) and builds the
/// lockfile for a lock in directory `base`. Failed lookups are returned with the first
/// location that uses the reference; the lock is only complete when there are none.
pub async fn build(
    files: &[FileRefs],
    resolver: &Resolver,
    base: &Path,
) -> (Lockfile, Vec<PinError>) {
    // reference → (the parsed reference, first location, files)
    let mut wanted: BTreeMap<String, (plinth_reference::Reference, String, BTreeSet<String>)> =
        BTreeMap::new();
    for f in files {
        let rel = relative_uri(base, &f.path);
        for s in &f.sites {
            if s.kind != Kind::Image {
                continue;
            }
            let Some(r) = &s.reference else { continue };
            wanted
                .entry(r.to_string())
                .or_insert_with(|| (r.clone(), f.location(&s.span), BTreeSet::new()))
                .2
                .insert(rel.clone());
        }
    }
    let jobs = wanted.iter().map(|(key, (r, location, files))| async move {
        let head = resolver.head(r).await;
        let head = match head {
            Ok(h) => h,
            Err(error) => {
                return Err(PinError::Lookup {
                    location: location.clone(),
                    reference: key.clone(),
                    error,
                });
            }
        };
        let platforms = resolver
            .platforms(r, &head)
            .await
            .map_err(|error| PinError::Lookup {
                location: location.clone(),
                reference: key.clone(),
                error,
            })?;
        Ok(LockedImage {
            reference: key.clone(),
            digest: head.digest.to_string(),
            media_type: head.media_type.clone(),
            files: files.iter().cloned().collect(),
            platforms: platforms
                .into_iter()
                .map(|(p, d)| (p.to_string(), d.to_string()))
                .collect(),
        })
    });
    let mut images = Vec::new();
    let mut errors = Vec::new();
    for r in join_all(jobs).await {
        match r {
            Ok(i) => images.push(i),
            Err(e) => errors.push(e),
        }
    }
    (
        Lockfile {
            version: VERSION,
            images,
        },
        errors,
    )
}

/// PL009 findings: where `files` and `lock` (read from `lock_path`) disagree.
pub fn compare(files: &[FileRefs], lock: &Lockfile, lock_path: &Path) -> Vec<Finding> {
    let base = lock_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let rule = RuleId::PL009.rule();
    let mk = |path: PathBuf,
              span: Option<&plinth_dockerfile::Span>,
              reference: Option<String>,
              message: String| {
        Finding {
            rule: RuleId::PL009,
            severity: rule.severity,
            path,
            line: span.map_or(1, |s| s.line),
            col: span.map_or(1, |s| s.col),
            end_line: span.map_or(1, |s| s.end_line),
            end_col: span.map_or(1, |s| s.end_col),
            reference,
            message,
            hint: rule.help.to_string(),
        }
    };
    let by_ref: BTreeMap<&str, &LockedImage> = lock
        .images
        .iter()
        .map(|i| (i.reference.as_str(), i))
        .collect();
    let mut out = Vec::new();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut scanned: BTreeMap<String, &FileRefs> = BTreeMap::new();
    for f in files {
        let rel = relative_uri(base, &f.path);
        scanned.insert(rel.clone(), f);
        for s in &f.sites {
            if s.kind != Kind::Image {
                continue;
            }
            let Some(r) = &s.reference else { continue };
            let key = r.to_string();
            seen.insert((key.clone(), rel.clone()));
            match by_ref.get(key.as_str()) {
                None => {
                    let hint = match r.digest() {
                        Some(_) => String::new(),
                        None => lock
                            .images
                            .iter()
                            .find(|i| {
                                i.files.contains(&rel)
                                    && i.reference.split('@').next() != Some(key.as_str())
                                    && same_repository(&i.reference, &key)
                            })
                            .map(|i| format!(" (the lock has {})", i.reference))
                            .unwrap_or_default(),
                    };
                    out.push(mk(
                        f.path.clone(),
                        Some(&s.span),
                        Some(s.text.clone()),
                        format!("{key} is not in {}{hint}", lock_path.display()),
                    ));
                }
                Some(entry) if !entry.files.contains(&rel) => out.push(mk(
                    f.path.clone(),
                    Some(&s.span),
                    Some(s.text.clone()),
                    format!(
                        "{key} is locked, but {} does not list {rel} among its files",
                        lock_path.display()
                    ),
                )),
                Some(_) => {}
            }
        }
    }
    let lock_text = std::fs::read_to_string(lock_path).unwrap_or_default();
    for entry in &lock.images {
        for file in &entry.files {
            if seen.contains(&(entry.reference.clone(), file.clone())) {
                continue;
            }
            let exists = base.join(file).exists();
            if scanned.contains_key(file) || !exists {
                let line = lock_text
                    .lines()
                    .position(|l| l.contains(&format!("\"{}\"", entry.reference)))
                    .map_or(1, |n| n + 1);
                let span = plinth_dockerfile::Span {
                    start: 0,
                    end: 0,
                    line,
                    col: 1,
                    end_line: line,
                    end_col: 1,
                };
                let why = if exists {
                    "no longer uses it"
                } else {
                    "no longer exists"
                };
                out.push(mk(
                    lock_path.to_path_buf(),
                    Some(&span),
                    Some(entry.reference.clone()),
                    format!(
                        "the lock records {} for {file}, which {why}",
                        entry.reference
                    ),
                ));
            }
        }
    }
    out
}

fn same_repository(a: &str, b: &str) -> bool {
    let repo = |s: &str| {
        let s = s.split('@').next().unwrap_or(s);
        match s.rfind(':') {
            Some(i) if !s[i..].contains('/') => s[..i].to_string(),
            _ => s.to_string(),
        }
    };
    repo(a) == repo(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let lock = Lockfile {
            version: VERSION,
            images: vec![LockedImage {
                reference: "docker.io/library/debian:bookworm".into(),
                digest: "sha256:aa".into(),
                media_type: "application/vnd.oci.image.index.v1+json".into(),
                files: vec!["Dockerfile".into(), "k8s/app.yaml".into()],
                platforms: [("linux/amd64".to_string(), "sha256:bb".to_string())].into(),
            }],
        };
        let text = lock.to_text();
        assert!(text.starts_with("# plinth.lock"));
        assert!(text.ends_with("\"sha256:bb\"\n"), "{text}");
        assert!(
            text.contains("[[image]]\nreference = \"docker.io/library/debian:bookworm\""),
            "{text}"
        );
        assert!(
            text.contains("[image.platforms]\n\"linux/amd64\" = \"sha256:bb\""),
            "{text}"
        );
        assert_eq!(Lockfile::parse(&text).unwrap(), lock);
        assert!(Lockfile::parse("version = 2\n").is_err());
    }

    #[test]
    fn relative_paths() {
        let base = Path::new("/repo");
        assert_eq!(
            relative_uri(base, Path::new("/repo/a/../b/Dockerfile")),
            "b/Dockerfile"
        );
        assert_eq!(relative_uri(base, Path::new("/other/x")), "/other/x");
    }
}
