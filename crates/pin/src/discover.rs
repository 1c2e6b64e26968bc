//! Finding the files that name base images.
//!
//! Directories are walked with the `ignore` crate, so `.gitignore`, `.ignore` and git's
//! exclude files are respected (also outside a git checkout). Hidden directories are walked
//! (`.devcontainer/Dockerfile` is a real base image), `.git` is not. A file named on the
//! command line is always read, whatever its name.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{PinError, Result};

/// What kind of file names the images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A Dockerfile or Containerfile.
    Dockerfile,
    /// A compose file (`services.*.image`).
    Compose,
    /// A YAML file that may hold Kubernetes manifests (`image:` of containers).
    Kubernetes,
}

/// A file to read, with the kind its name suggests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The path, as given or as found under a given directory.
    pub path: PathBuf,
    /// The kind.
    pub kind: FileKind,
    /// True when the file was named explicitly (parse errors are then reported; in a walk a
    /// YAML file that does not parse is skipped).
    pub explicit: bool,
}

/// The kind a file name suggests, `None` for files plinth does not read in a walk.
///
/// Dockerfiles: `Dockerfile`, `Containerfile`, `*.Dockerfile`, `*.Containerfile`,
/// `Dockerfile.*`, `Containerfile.*` (case-insensitive). Compose files: `compose*.yaml`,
/// `compose*.yml`, `docker-compose*.y*ml`. Other `*.yaml` / `*.yml` files are read as
/// possible Kubernetes manifests (only documents with `apiVersion` and `kind` count).
pub fn classify(name: &str) -> Option<FileKind> {
    let lower = name.to_ascii_lowercase();
    for base in ["dockerfile", "containerfile"] {
        if lower == base
            || lower.ends_with(&format!(".{base}"))
            || lower.starts_with(&format!("{base}."))
        {
            return Some(FileKind::Dockerfile);
        }
    }
    let is_yaml = lower.ends_with(".yaml") || lower.ends_with(".yml");
    if !is_yaml {
        return None;
    }
    if lower.starts_with("compose") || lower.starts_with("docker-compose") {
        return Some(FileKind::Compose);
    }
    Some(FileKind::Kubernetes)
}

/// The kind of an explicitly named file: by name, else YAML by extension, else Dockerfile.
fn classify_explicit(path: &Path) -> FileKind {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    classify(&name).unwrap_or(FileKind::Dockerfile)
}

/// Every file under `paths` (files or directories) that may name base images, in a stable
/// order (sorted per directory). No paths means the current directory.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<Candidate>> {
    let default = [PathBuf::from(".")];
    let paths = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    let mut out: Vec<Candidate> = Vec::new();
    for root in paths {
        let meta = std::fs::metadata(root).map_err(|e| PinError::Io {
            path: root.clone(),
            message: e.to_string(),
        })?;
        if !meta.is_dir() {
            out.push(Candidate {
                path: root.clone(),
                kind: classify_explicit(root),
                explicit: true,
            });
            continue;
        }
        let walker = ignore::WalkBuilder::new(root)
            .hidden(false)
            .require_git(false)
            .filter_entry(|e| e.file_name() != ".git")
            .sort_by_file_name(|a, b| a.cmp(b))
            .build();
        for entry in walker {
            let entry = entry.map_err(|e| PinError::Io {
                path: root.clone(),
                message: e.to_string(),
            })?;
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let name = entry.file_name().to_string_lossy();
            if let Some(kind) = classify(&name) {
                out.push(Candidate {
                    path: clean(entry.path()),
                    kind,
                    explicit: false,
                });
            }
        }
    }
    // A file reached twice (named and inside a named directory) is read once.
    let mut seen = std::collections::HashSet::new();
    out.retain(|c| seen.insert(std::path::absolute(&c.path).unwrap_or(c.path.clone())));
    Ok(out)
}

/// `./a/b` → `a/b`, for shorter names in output.
fn clean(p: &Path) -> PathBuf {
    p.strip_prefix(".")
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for n in [
            "Dockerfile",
            "dockerfile",
            "Containerfile",
            "app.Dockerfile",
            "Dockerfile.dev",
            "base.containerfile",
        ] {
            assert_eq!(classify(n), Some(FileKind::Dockerfile), "{n}");
        }
        for n in [
            "compose.yaml",
            "compose.override.yml",
            "docker-compose.yml",
            "docker-compose.prod.yaml",
        ] {
            assert_eq!(classify(n), Some(FileKind::Compose), "{n}");
        }
        assert_eq!(classify("deploy.yaml"), Some(FileKind::Kubernetes));
        assert_eq!(classify("pod.yml"), Some(FileKind::Kubernetes));
        for n in ["README.md", "Dockerfiles", "main.rs", "x.json"] {
            assert_eq!(classify(n), None, "{n}");
        }
    }

    #[test]
    fn walk_respects_gitignore() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir_all(p.join("svc/.devcontainer")).unwrap();
        std::fs::create_dir_all(p.join("vendor")).unwrap();
        std::fs::write(p.join(".gitignore"), "vendor/\n").unwrap();
        std::fs::write(p.join("Dockerfile"), "FROM a\n").unwrap();
        std::fs::write(p.join("svc/.devcontainer/Dockerfile"), "FROM b\n").unwrap();
        std::fs::write(p.join("vendor/Dockerfile"), "FROM c\n").unwrap();
        std::fs::write(p.join("svc/compose.yaml"), "services: {}\n").unwrap();
        std::fs::write(p.join("notes.txt"), "x").unwrap();
        let found = discover(&[p.to_path_buf()]).unwrap();
        let rel: Vec<String> = found
            .iter()
            .map(|c| {
                c.path
                    .strip_prefix(p)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(
            rel,
            [
                "Dockerfile",
                "svc/.devcontainer/Dockerfile",
                "svc/compose.yaml"
            ]
        );
        // Explicit files are read whatever their name.
        let one = discover(&[p.join("notes.txt")]).unwrap();
        assert_eq!(one[0].kind, FileKind::Dockerfile);
        assert!(one[0].explicit);
    }
}
