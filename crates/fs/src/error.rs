//! Errors of reading layers.

use plinth_oci::digest::VerifyError;
use plinth_oci::{Digest, ErrorKind};

/// A failure while reading an image's layers.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// The image source failed (registry, layout, archive).
    #[error(transparent)]
    Source(#[from] plinth_oci::Error),
    /// A layer blob's bytes do not match its descriptor.
    #[error("layer {index} ({digest}): {source}")]
    Digest {
        /// The layer's index.
        index: usize,
        /// The layer's (compressed) digest.
        digest: Digest,
        /// The mismatch.
        #[source]
        source: VerifyError,
    },
    /// The uncompressed bytes of a layer do not hash to the config's diff id.
    #[error(
        "layer {index} ({digest}): diff id mismatch: the config says {expected}, the layer's tar hashes to {actual}"
    )]
    DiffId {
        /// The layer's index.
        index: usize,
        /// The layer's (compressed) digest.
        digest: Digest,
        /// `rootfs.diff_ids[index]`.
        expected: Digest,
        /// What the uncompressed bytes hash to.
        actual: Digest,
    },
    /// The manifest and the config disagree on the number of layers.
    #[error("the manifest has {layers} layers but the config lists {diff_ids} diff ids")]
    LayerCount {
        /// Layers in the manifest.
        layers: usize,
        /// `rootfs.diff_ids` in the config.
        diff_ids: usize,
    },
    /// A tar entry names a path outside the image root.
    #[error("layer {index} ({digest}): refusing tar entry {path:?}: {why}")]
    Traversal {
        /// The layer's index.
        index: usize,
        /// The layer's digest.
        digest: Digest,
        /// The path as written in the tar.
        path: String,
        /// Why it was refused.
        why: &'static str,
    },
    /// A layer could not be decompressed or is not a valid tar.
    #[error("layer {index} ({digest}): {message}")]
    Malformed {
        /// The layer's index.
        index: usize,
        /// The layer's digest.
        digest: Digest,
        /// What went wrong.
        message: String,
    },
    /// A layer media type plinth cannot read.
    #[error("layer {index} ({digest}): unsupported layer media type {media_type:?}")]
    MediaType {
        /// The layer's index.
        index: usize,
        /// The layer's digest.
        digest: Digest,
        /// The media type.
        media_type: String,
    },
    /// Reading the layer stream failed (network, disk).
    #[error("layer {index} ({digest}): reading: {source}")]
    Read {
        /// The layer's index.
        index: usize,
        /// The layer's digest.
        digest: Digest,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// Local I/O (the content store, the output file).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// A layer index that does not exist.
    #[error("layer {index} does not exist (the image has {layers} layers)")]
    NoLayer {
        /// The index asked for.
        index: usize,
        /// How many layers there are.
        layers: usize,
    },
}

impl FsError {
    /// The kind of failure, for exit codes.
    pub fn kind(&self) -> ErrorKind {
        match self {
            FsError::Source(e) => e.kind(),
            FsError::Digest { .. } | FsError::DiffId { .. } => ErrorKind::Integrity,
            FsError::LayerCount { .. } | FsError::Traversal { .. } | FsError::Malformed { .. } => {
                ErrorKind::Invalid
            }
            FsError::MediaType { .. } => ErrorKind::Unsupported,
            FsError::Read { .. } => ErrorKind::Network,
            FsError::Io { .. } => ErrorKind::Io,
            FsError::NoLayer { .. } => ErrorKind::NotFound,
        }
    }

    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> FsError {
        FsError::Io {
            what: what.into(),
            source,
        }
    }
}
