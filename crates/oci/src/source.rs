//! The two traits every image location implements: [`Source`] to read, [`Sink`] to write.
//!
//! Registries, OCI layouts and docker-archives implement both, so `copy`, `inspect` and the rest
//! are written once. Blobs travel as streams; a sink verifies digest and size while it writes
//! and keeps nothing when they do not match.

use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::io::AsyncRead;

use crate::error::Result;
use crate::manifest::{Descriptor, RawManifest};

/// A stream of blob bytes.
pub type BlobStream = Pin<Box<dyn AsyncRead + Send>>;

/// Where a blob can be mounted from: a repository on a registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobOrigin {
    /// The registry host serving the blob (`registry-1.docker.io`, `127.0.0.1:5000`; for an
    /// image read through a mirror, the mirror's host).
    pub registry: String,
    /// Repository path on that host (`library/python`).
    pub repository: String,
}

/// Receives transfer progress; all methods default to doing nothing.
pub trait Progress: Send + Sync {
    /// A blob transfer starts.
    fn start(&self, _desc: &Descriptor) {}
    /// `n` more bytes of `desc` arrived.
    fn advance(&self, _desc: &Descriptor, _n: u64) {}
    /// The blob is done; `how` says whether it was copied, mounted or already there.
    fn done(&self, _desc: &Descriptor, _how: BlobAction) {}
}

/// What happened to one blob during a copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlobAction {
    /// Bytes were transferred.
    Copied,
    /// The destination registry mounted it from another repository.
    Mounted,
    /// The destination already had it.
    Exists,
}

/// A [`Progress`] that ignores everything.
pub struct NoProgress;
impl Progress for NoProgress {}

/// Shared progress sink.
pub type SharedProgress = Arc<dyn Progress>;

/// Somewhere images can be read from.
#[async_trait]
pub trait Source: Send + Sync {
    /// A name for messages (`oci:./dir:tag`, `docker.io/library/python:3.12`).
    fn name(&self) -> String;

    /// The manifest or index this source names.
    async fn root(&self) -> Result<RawManifest>;

    /// A manifest referenced from an index, verified against its descriptor.
    async fn manifest(&self, desc: &Descriptor) -> Result<RawManifest>;

    /// A blob's bytes. Callers that keep them verify with [`crate::digest::Verifier`]; sinks
    /// always do.
    async fn blob(&self, desc: &Descriptor) -> Result<BlobStream>;

    /// The registry repository blobs can be mounted from, for registry sources.
    fn origin(&self) -> Option<BlobOrigin> {
        None
    }
}

/// Somewhere images can be written to.
#[async_trait]
pub trait Sink: Send + Sync {
    /// A name for messages.
    fn name(&self) -> String;

    /// Whether the blob is already there (then it is not transferred).
    async fn has_blob(&self, desc: &Descriptor) -> Result<bool>;

    /// Tries to obtain the blob without transferring it (a registry's cross-repository
    /// mount). `Ok(false)` means it must be uploaded.
    async fn mount_blob(&self, _desc: &Descriptor, _from: &BlobOrigin) -> Result<bool> {
        Ok(false)
    }

    /// Writes a blob from a stream, verifying digest and size; `progress` sees the bytes.
    async fn put_blob(
        &self,
        desc: &Descriptor,
        data: BlobStream,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<()>;

    /// Stores a manifest by digest (a child of an index, or the root before tagging).
    async fn put_manifest(&self, manifest: &RawManifest) -> Result<()>;

    /// Stores the root manifest under the sink's tag (or by digest when it has none) and
    /// finishes the write (an archive is complete only after this).
    async fn put_root(&self, manifest: &RawManifest) -> Result<()>;

    /// How many blobs may be written at once.
    fn max_concurrency(&self) -> usize {
        4
    }

    /// Whether the sink can hold an index of several platforms.
    fn holds_indexes(&self) -> bool {
        true
    }
}

/// The largest blob [`read_small_blob`] reads: configs and other JSON, never layers.
pub const SMALL_BLOB_LIMIT: u64 = 64 << 20;

/// Reads a small blob (a config) whole from `src`, verifying digest and size. A descriptor
/// over [`SMALL_BLOB_LIMIT`] is refused before anything is read.
pub async fn read_small_blob(src: &dyn Source, desc: &Descriptor) -> Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    if desc.size > SMALL_BLOB_LIMIT {
        return Err(crate::Error::Invalid(format!(
            "{}: blob {} is too large for a config ({} bytes)",
            src.name(),
            desc.digest,
            desc.size
        )));
    }
    let mut stream = src.blob(desc).await?;
    let mut buf = Vec::with_capacity(desc.size as usize);
    // One byte more than announced, so a longer blob fails the size check.
    (&mut stream)
        .take(desc.size + 1)
        .read_to_end(&mut buf)
        .await
        .map_err(|e| crate::Error::Other {
            kind: crate::ErrorKind::Network,
            source: format!("{}: reading blob {}: {e}", src.name(), desc.digest).into(),
        })?;
    let mut v = crate::digest::Verifier::new(&desc.digest, Some(desc.size));
    v.update(&buf)
        .and_then(|_| v.finish())
        .map_err(|source| crate::Error::Verify {
            what: format!("{}: blob {}", src.name(), desc.digest),
            source,
        })?;
    Ok(buf)
}

/// The manifest for platform `want` of `root`: the best match from an index (not found, naming
/// the platforms it has, when none matches), or `root` itself when it is a single image (see
/// [`check_config_platform`] to hold that to `want` too).
pub async fn select_platform(
    src: &dyn Source,
    root: RawManifest,
    want: &crate::Platform,
) -> Result<RawManifest> {
    let Some(index) = root.as_index() else {
        return Ok(root);
    };
    let desc = index.find_platform(want).ok_or_else(|| {
        crate::Error::NotFound(format!(
            "{}: platform {want} (the index has: {})",
            src.name(),
            index
                .platforms()
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    src.manifest(desc).await
}

/// The platform of a single-platform image whose config is `config`, when it is `want`; not
/// found, naming both platforms, when it is not. `name` is the image, for the message.
pub fn check_config_platform(
    name: &str,
    want: &crate::Platform,
    config: &[u8],
) -> Result<crate::Platform> {
    let have = crate::ConfigFile::from_slice(config)
        .map_err(|e| crate::Error::Invalid(format!("{name}: malformed image config: {e}")))?
        .platform();
    if want.match_rank(&have).is_none() {
        return Err(crate::Error::NotFound(format!(
            "{name}: platform {want} (a single-platform image for {have})"
        )));
    }
    Ok(have)
}
