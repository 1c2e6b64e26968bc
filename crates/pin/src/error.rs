//! Errors of this crate: each names the file (and line) or the reference involved.

use std::path::PathBuf;

use plinth_oci::ErrorKind;

/// A failure to read, resolve or rewrite references.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PinError {
    /// Reading or writing a file failed.
    #[error("{}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// A Dockerfile or YAML file that cannot be parsed. `message` is rendered for people
    /// (`file:line:col`, the line, what was expected).
    #[error("{message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The rendered message.
        message: String,
    },
    /// A registry lookup failed.
    #[error("{location}: {reference}: {error}")]
    Lookup {
        /// `file:line:col` of the reference.
        location: String,
        /// The reference as resolved.
        reference: String,
        /// The registry's error.
        error: LookupError,
    },
    /// A reference cannot be rewritten safely (the change would reach into text plinth
    /// cannot edit, such as a value that comes from `--build-arg`).
    #[error("{location}: {message}")]
    Rewrite {
        /// `file:line:col`.
        location: String,
        /// Why.
        message: String,
    },
    /// Invalid configuration (plinth.toml, plinth.lock, a compose `.env`).
    #[error("{0}")]
    Config(String),
}

impl PinError {
    /// The kind of failure, for exit codes.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PinError::Io { .. } => ErrorKind::Io,
            PinError::Parse { .. } | PinError::Rewrite { .. } | PinError::Config(_) => {
                ErrorKind::Invalid
            }
            PinError::Lookup { error, .. } => error.kind,
        }
    }
}

/// A registry lookup that failed, cheap to clone so a run-level cache can hold it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LookupError {
    /// The registry's error, with registry, repository, status and the registry's message.
    pub message: String,
    /// What kind of failure.
    pub kind: ErrorKind,
}

impl LookupError {
    /// True when the registry answered that the manifest or repository does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }
}

impl From<plinth_registry::RegistryError> for LookupError {
    fn from(e: plinth_registry::RegistryError) -> Self {
        LookupError {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

impl From<plinth_oci::Error> for LookupError {
    fn from(e: plinth_oci::Error) -> Self {
        let mut message = e.to_string();
        let mut cur = std::error::Error::source(&e);
        while let Some(c) = cur {
            let m = c.to_string();
            if !message.contains(&m) {
                message.push_str(": ");
                message.push_str(&m);
            }
            cur = c.source();
        }
        LookupError {
            kind: e.kind(),
            message,
        }
    }
}

/// Results of this crate.
pub type Result<T, E = PinError> = std::result::Result<T, E>;
