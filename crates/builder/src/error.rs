//! Errors of image building.

use std::path::{Path, PathBuf};

/// Why a build, a pre-flight check or a rebase failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Local I/O, with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing images failed.
    #[error(transparent)]
    Oci(#[from] plinth_oci::Error),
    /// Bad input: a flag, a path, a Dockerfile instruction.
    #[error("{0}")]
    Invalid(String),
    /// Valid input this builder does not handle (RUN, …).
    #[error("{0}")]
    Unsupported(String),
    /// The scratch pre-flight refused the image.
    #[error("{0}")]
    Preflight(String),
    /// A rebase is impossible or unsafe.
    #[error("{0}")]
    Rebase(String),
    /// A remote source (an `ADD` URL or git repository) does not exist: HTTP 404 and the like.
    #[error("{0}")]
    NotFound(String),
    /// A remote source could not be fetched: connection refused, an HTTP error status, a
    /// failed `git fetch`.
    #[error("{0}")]
    Network(String),
    /// Fetched content did not match its `--checksum`.
    #[error("{0}")]
    Integrity(String),
}

impl BuildError {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> BuildError {
        BuildError::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// The kind of failure, for exit codes.
    pub fn kind(&self) -> plinth_oci::ErrorKind {
        use plinth_oci::ErrorKind;
        match self {
            BuildError::Io { .. } => ErrorKind::Io,
            BuildError::Oci(e) => e.kind(),
            BuildError::Invalid(_) | BuildError::Preflight(_) | BuildError::Rebase(_) => {
                ErrorKind::Invalid
            }
            BuildError::Unsupported(_) => ErrorKind::Unsupported,
            BuildError::NotFound(_) => ErrorKind::NotFound,
            BuildError::Network(_) => ErrorKind::Network,
            BuildError::Integrity(_) => ErrorKind::Integrity,
        }
    }
}

/// Results of this crate.
pub type Result<T, E = BuildError> = std::result::Result<T, E>;
