//! A content-addressed blob directory (`blobs/<alg>/<hex>`), shared by the OCI layout writer
//! and the local content store.
//!
//! Writes go to a temporary file beside the target and are renamed into place only after the
//! digest and size check out, so a crash or a concurrent plinth never leaves a partial blob
//! under a digest's name. Two processes writing the same blob both succeed: the content is the
//! same, and the last rename wins.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::digest::{Digest, Verifier};
use crate::error::{Error, Result};
use crate::manifest::Descriptor;
use crate::source::BlobStream;

/// A directory of blobs named by digest.
#[derive(Clone, Debug)]
pub struct BlobDir {
    root: PathBuf,
}

impl BlobDir {
    /// Blobs under `root/blobs/`.
    pub fn new(root: impl Into<PathBuf>) -> BlobDir {
        BlobDir { root: root.into() }
    }

    /// The directory holding `blobs/`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a blob lives.
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(digest.algorithm().name())
            .join(digest.hex())
    }

    /// Whether a blob of the given size is present.
    pub async fn has(&self, desc: &Descriptor) -> Result<bool> {
        match tokio::fs::metadata(self.path(&desc.digest)).await {
            Ok(m) => Ok(m.len() == desc.size),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io(self.path(&desc.digest), e)),
        }
    }

    /// Reads a whole (small) blob, verifying it.
    pub async fn read(&self, desc: &Descriptor) -> Result<Vec<u8>> {
        let path = self.path(&desc.digest);
        let bytes = tokio::fs::read(&path).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(format!("blob {}", desc.digest)),
            _ => Error::io(&path, e),
        })?;
        let mut v = Verifier::new(&desc.digest, Some(desc.size));
        v.update(&bytes)
            .and_then(|_| v.finish())
            .map_err(|source| Error::Verify {
                what: path.display().to_string(),
                source,
            })?;
        Ok(bytes)
    }

    /// Opens a blob for streaming (not verified here; sinks verify what they write).
    pub async fn open(&self, digest: &Digest) -> Result<tokio::fs::File> {
        let path = self.path(digest);
        tokio::fs::File::open(&path)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::NotFound(format!("blob {digest}")),
                _ => Error::io(&path, e),
            })
    }

    fn temp_in(&self, digest: &Digest) -> Result<(PathBuf, tempfile::NamedTempFile)> {
        let dir = self.root.join("blobs").join(digest.algorithm().name());
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&dir)
            .map_err(|e| Error::io(&dir, e))?;
        Ok((dir, tmp))
    }

    /// Writes a blob from a stream, verifying digest and size before it gets its name.
    pub async fn write_stream(
        &self,
        desc: &Descriptor,
        mut data: BlobStream,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<()> {
        let (dir, tmp) = self.temp_in(&desc.digest)?;
        let (file, tmp_path) = tmp.into_parts();
        let mut file = tokio::fs::File::from_std(file);
        let mut verifier = Verifier::new(&desc.digest, Some(desc.size));
        let mut buf = vec![0u8; 256 * 1024];
        let what = || format!("blob {}", desc.digest);
        loop {
            let n = data
                .read(&mut buf)
                .await
                .map_err(|e| read_error(e, &what()))?;
            if n == 0 {
                break;
            }
            verifier.update(&buf[..n]).map_err(|source| Error::Verify {
                what: what(),
                source,
            })?;
            file.write_all(&buf[..n])
                .await
                .map_err(|e| Error::io(&dir, e))?;
            progress(n as u64);
        }
        verifier.finish().map_err(|source| Error::Verify {
            what: what(),
            source,
        })?;
        file.flush().await.map_err(|e| Error::io(&dir, e))?;
        drop(file);
        let target = self.path(&desc.digest);
        tmp_path
            .persist(&target)
            .map_err(|e| Error::io(&target, e.error))?;
        Ok(())
    }

    /// Writes a blob from bytes already in memory (manifests, configs), verified.
    pub async fn write_bytes(&self, desc: &Descriptor, bytes: &[u8]) -> Result<()> {
        let mut v = Verifier::new(&desc.digest, Some(desc.size));
        v.update(bytes)
            .and_then(|_| v.finish())
            .map_err(|source| Error::Verify {
                what: format!("blob {}", desc.digest),
                source,
            })?;
        let (dir, mut tmp) = self.temp_in(&desc.digest)?;
        use std::io::Write;
        tmp.write_all(bytes).map_err(|e| Error::io(&dir, e))?;
        let target = self.path(&desc.digest);
        tmp.persist(&target)
            .map_err(|e| Error::io(&target, e.error))?;
        Ok(())
    }
}

/// A failure reading a blob stream. A source that failed with an [`Error`] of its own (a
/// registry's 404 or 401) keeps its kind; anything else is a network failure.
pub(crate) fn read_error(e: std::io::Error, what: &str) -> Error {
    if e.get_ref().is_some_and(|i| i.is::<Error>()) {
        let inner = e.into_inner().expect("checked");
        return *inner.downcast::<Error>().expect("checked");
    }
    Error::Other {
        kind: crate::error::ErrorKind::Network,
        source: format!("reading {what}: {e}").into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bad_bytes_never_get_a_name() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::new(dir.path());
        let desc = Descriptor::new("x", Digest::sha256(b"good"), 4);
        let stream: BlobStream = Box::pin(&b"evil"[..]);
        let err = blobs
            .write_stream(&desc, stream, &|_| {})
            .await
            .unwrap_err();
        assert_eq!(err.kind(), crate::error::ErrorKind::Integrity);
        assert!(!blobs.has(&desc).await.unwrap());
        let leftovers = std::fs::read_dir(dir.path().join("blobs/sha256"))
            .unwrap()
            .count();
        assert_eq!(leftovers, 0, "temp file left behind");

        let stream: BlobStream = Box::pin(&b"good"[..]);
        blobs.write_stream(&desc, stream, &|_| {}).await.unwrap();
        assert!(blobs.has(&desc).await.unwrap());
        assert_eq!(blobs.read(&desc).await.unwrap(), b"good");
    }
}
