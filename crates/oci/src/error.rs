//! The error type shared by every image source and sink.

use std::path::PathBuf;

use crate::digest::{DigestError, VerifyError};
use crate::manifest::ManifestError;

/// What kind of failure an [`Error`] is; the CLI maps kinds to exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The image, manifest, blob or tag does not exist.
    NotFound,
    /// Authentication or authorization failed.
    Auth,
    /// The network or the remote side failed.
    Network,
    /// Content did not match its digest or size.
    Integrity,
    /// Input (a reference, a file, a manifest) is malformed.
    Invalid,
    /// Valid input that plinth does not handle.
    Unsupported,
    /// Local I/O failed.
    Io,
}

/// A failure while reading or writing images.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Local I/O, with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A digest or size mismatch.
    #[error("{what}: {source}")]
    Verify {
        /// What was being checked (a blob, a manifest, a reference).
        what: String,
        /// The mismatch.
        #[source]
        source: VerifyError,
    },
    /// A malformed or unsupported manifest.
    #[error("{what}: {source}")]
    Manifest {
        /// Where it came from.
        what: String,
        /// Why it was refused.
        #[source]
        source: ManifestError,
    },
    /// A malformed digest.
    #[error(transparent)]
    Digest(#[from] DigestError),
    /// Something that does not exist.
    #[error("{0}: not found")]
    NotFound(String),
    /// Malformed input.
    #[error("{0}")]
    Invalid(String),
    /// Input plinth does not handle.
    #[error("{0}")]
    Unsupported(String),
    /// A failure from another layer (the registry client), with its kind.
    #[error("{source}")]
    Other {
        /// The kind, for exit codes.
        kind: ErrorKind,
        /// The failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Io { .. } => ErrorKind::Io,
            Error::Verify { .. } => ErrorKind::Integrity,
            Error::Manifest {
                source: ManifestError::Schema1 | ManifestError::MediaType(_),
                ..
            } => ErrorKind::Unsupported,
            Error::Manifest { .. } | Error::Digest(_) | Error::Invalid(_) => ErrorKind::Invalid,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Unsupported(_) => ErrorKind::Unsupported,
            Error::Other { kind, .. } => *kind,
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
