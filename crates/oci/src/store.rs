//! The local content store: a cache of blobs by digest under the XDG cache directory
//! (`$PLINTH_CACHE_DIR`, else `$XDG_CACHE_HOME/plinth`, else `~/.cache/plinth`).
//!
//! Blobs are written by [`BlobDir`] (temp file, verify, rename), so two plinth processes can
//! share the store. A blob's modification time records its last use; `prune` removes blobs
//! unused for a while. Pruning while another process reads a blob is safe: an open file stays
//! readable after it is unlinked.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::blobs::BlobDir;
use crate::digest::Digest;
use crate::error::{Error, Result};

/// The content store.
#[derive(Clone, Debug)]
pub struct Store {
    blobs: BlobDir,
}

/// What `du` found.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    /// The store's directory.
    pub path: PathBuf,
    /// Number of blobs.
    pub blobs: u64,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// What `prune` removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pruned {
    /// Blobs removed.
    pub blobs: u64,
    /// Bytes freed.
    pub bytes: u64,
}

impl Store {
    /// The store at the default location.
    pub fn open_default() -> Store {
        Store::at(default_dir())
    }

    /// A store rooted at `dir`.
    pub fn at(dir: impl Into<PathBuf>) -> Store {
        Store {
            blobs: BlobDir::new(dir.into()),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        self.blobs.root()
    }

    /// The blob directory (for reads and verified writes).
    pub fn blobs(&self) -> &BlobDir {
        &self.blobs
    }

    /// Marks a blob as used now, so `prune --older-than` keeps it.
    pub fn touch(&self, digest: &Digest) {
        if let Ok(f) = std::fs::File::options()
            .write(true)
            .open(self.blobs.path(digest))
        {
            let _ = f.set_modified(SystemTime::now());
        }
    }

    fn each_blob(&self, mut f: impl FnMut(&Path, &std::fs::Metadata)) -> Result<()> {
        let top = self.dir().join("blobs");
        let algs = match std::fs::read_dir(&top) {
            Ok(a) => a,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(&top, e)),
        };
        for alg in algs {
            let alg = alg.map_err(|e| Error::io(&top, e))?.path();
            for entry in std::fs::read_dir(&alg).map_err(|e| Error::io(&alg, e))? {
                let path = entry.map_err(|e| Error::io(&alg, e))?.path();
                if let Ok(meta) = std::fs::symlink_metadata(&path)
                    && meta.is_file()
                {
                    f(&path, &meta);
                }
            }
        }
        Ok(())
    }

    /// Counts blobs and bytes.
    pub fn du(&self) -> Result<Usage> {
        let mut usage = Usage {
            path: self.dir().to_path_buf(),
            ..Usage::default()
        };
        self.each_blob(|_, meta| {
            usage.blobs += 1;
            usage.bytes += meta.len();
        })?;
        Ok(usage)
    }

    /// Removes blobs not used for `older_than` (everything when `None`), and abandoned
    /// temporary files older than an hour.
    pub fn prune(&self, older_than: Option<Duration>) -> Result<Pruned> {
        let now = SystemTime::now();
        let mut pruned = Pruned::default();
        let mut failed = None;
        self.each_blob(|path, meta| {
            let age = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default();
            let is_temp = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(".tmp-"));
            let remove = if is_temp {
                age > Duration::from_secs(3600)
            } else {
                older_than.is_none_or(|limit| age >= limit)
            };
            if remove {
                match std::fs::remove_file(path) {
                    Ok(()) => {
                        pruned.blobs += 1;
                        pruned.bytes += meta.len();
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => failed = Some(Error::io(path, e)),
                }
            }
        })?;
        match failed {
            Some(e) => Err(e),
            None => Ok(pruned),
        }
    }
}

/// The default store directory.
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PLINTH_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("plinth")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Descriptor;

    #[tokio::test]
    async fn du_and_prune() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        assert_eq!(store.du().unwrap().blobs, 0);
        for content in [&b"one"[..], b"three"] {
            let d = Descriptor::new("x", Digest::sha256(content), content.len() as u64);
            store.blobs().write_bytes(&d, content).await.unwrap();
        }
        let usage = store.du().unwrap();
        assert_eq!((usage.blobs, usage.bytes), (2, 8));
        let none = store.prune(Some(Duration::from_secs(3600))).unwrap();
        assert_eq!(none.blobs, 0);
        let all = store.prune(None).unwrap();
        assert_eq!((all.blobs, all.bytes), (2, 8));
        assert_eq!(store.du().unwrap().blobs, 0);
    }
}
