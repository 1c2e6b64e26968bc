//! Registry errors: each names the registry, the repository, the HTTP status and the
//! registry's own error code and message.

use plinth_oci::ErrorKind;

/// One entry of a registry's `{"errors": [...]}` body.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
pub struct RegistryErrorEntry {
    /// `MANIFEST_UNKNOWN`, `UNAUTHORIZED`, `DENIED`, `TOOMANYREQUESTS`…
    #[serde(default)]
    pub code: String,
    /// The registry's message.
    #[serde(default)]
    pub message: String,
}

/// A failure talking to a registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry answered with an error status.
    #[error("{registry}/{repository}: {what}: HTTP {status}{}", describe(.errors))]
    Status {
        /// Registry name (`docker.io`, `127.0.0.1:5000`).
        registry: String,
        /// Repository (`library/python`), empty for registry-wide calls.
        repository: String,
        /// What plinth asked for (`manifest 3.12-slim`, `blob sha256:…`).
        what: String,
        /// HTTP status.
        status: u16,
        /// The registry's own errors.
        errors: Vec<RegistryErrorEntry>,
    },
    /// The registry limited requests and would not serve more now.
    #[error(
        "{registry}/{repository}: {what}: HTTP 429 too many requests{}{}",
        remaining.as_ref().map(|r| format!("; {r}")).unwrap_or_default(),
        retry_after.map(|s| format!("; retry after {s} s")).unwrap_or_default()
    )]
    RateLimited {
        /// Registry name.
        registry: String,
        /// Repository.
        repository: String,
        /// What plinth asked for.
        what: String,
        /// From `ratelimit-remaining` / `ratelimit-limit`, e.g.
        /// `0 of 100 pulls remain (window 21600 s)`.
        remaining: Option<String>,
        /// Seconds the registry asked us to wait.
        retry_after: Option<u64>,
    },
    /// The network failed (after retries).
    #[error("{registry}: {what}: {message}")]
    Network {
        /// Registry name.
        registry: String,
        /// What plinth asked for.
        what: String,
        /// The failure, with its causes.
        message: String,
    },
    /// Authentication failed at the token server or credential helper.
    #[error("{registry}: authentication failed: {message}")]
    Auth {
        /// Registry name.
        registry: String,
        /// Why.
        message: String,
    },
    /// The registry sent something that is not what it claims to be.
    #[error("{registry}/{repository}: {message}")]
    Integrity {
        /// Registry name.
        registry: String,
        /// Repository.
        repository: String,
        /// What did not match.
        message: String,
    },
    /// The registry sent something plinth cannot read.
    #[error("{registry}/{repository}: {message}")]
    Protocol {
        /// Registry name.
        registry: String,
        /// Repository.
        repository: String,
        /// What was wrong.
        message: String,
    },
    /// Bad configuration (registries.toml, docker config).
    #[error("{0}")]
    Config(String),
    /// A pull through mirrors failed everywhere: the origin's failure, then each mirror's.
    #[error("{origin}; {}", mirrors.join("; "))]
    ViaMirrors {
        /// What the origin answered (it decides the kind).
        origin: Box<RegistryError>,
        /// What each mirror answered.
        mirrors: Vec<String>,
    },
}

fn describe(errors: &[RegistryErrorEntry]) -> String {
    errors
        .iter()
        .map(|e| match (e.code.is_empty(), e.message.is_empty()) {
            (false, false) => format!(": {} {}", e.code, e.message),
            (false, true) => format!(": {}", e.code),
            (true, false) => format!(": {}", e.message),
            (true, true) => String::new(),
        })
        .collect()
}

impl RegistryError {
    /// The kind of failure, for exit codes.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RegistryError::Status { status: 404, .. } => ErrorKind::NotFound,
            RegistryError::Status {
                status: 401 | 403, ..
            }
            | RegistryError::Auth { .. } => ErrorKind::Auth,
            RegistryError::Status { status, .. } if *status >= 500 => ErrorKind::Network,
            RegistryError::Status { .. } | RegistryError::Protocol { .. } => ErrorKind::Invalid,
            RegistryError::RateLimited { .. } | RegistryError::Network { .. } => ErrorKind::Network,
            RegistryError::Integrity { .. } => ErrorKind::Integrity,
            RegistryError::Config(_) => ErrorKind::Invalid,
            RegistryError::ViaMirrors { origin, .. } => origin.kind(),
        }
    }

    /// Whether this is a 404.
    pub fn is_not_found(&self) -> bool {
        match self {
            RegistryError::Status { status: 404, .. } => true,
            RegistryError::ViaMirrors { origin, .. } => origin.is_not_found(),
            _ => false,
        }
    }
}

impl From<RegistryError> for plinth_oci::Error {
    fn from(e: RegistryError) -> Self {
        plinth_oci::Error::Other {
            kind: e.kind(),
            source: Box::new(e),
        }
    }
}

/// Results of this crate.
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
