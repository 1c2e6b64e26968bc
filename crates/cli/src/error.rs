//! CLI errors and exit codes.

use plinth_oci::ErrorKind;

/// Exit codes, documented in the README.
pub mod exit {
    /// Success.
    #[allow(dead_code)]
    pub const OK: i32 = 0;
    /// A failure that fits no other code.
    pub const FAILURE: i32 = 1;
    /// Bad command-line usage (clap's own code).
    pub const USAGE: i32 = 2;
    /// The image, tag, manifest or blob does not exist.
    pub const NOT_FOUND: i32 = 3;
    /// Authentication or authorization failed.
    pub const AUTH: i32 = 4;
    /// The network or the registry failed (after retries), or a rate limit.
    pub const NETWORK: i32 = 5;
    /// Content did not match its digest or size.
    pub const INTEGRITY: i32 = 6;
    /// Malformed input: a reference, a file, a manifest.
    pub const INVALID: i32 = 7;
    /// Valid input plinth does not handle (schema 1 manifests, …).
    pub const UNSUPPORTED: i32 = 8;
    /// Local I/O failed (disk full, permissions).
    pub const IO: i32 = 9;
}

/// An error for the user, with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    /// The message, with its causes.
    pub message: String,
    /// The exit code.
    pub code: i32,
}

impl CliError {
    /// An error of invalid input.
    pub fn invalid(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            code: exit::INVALID,
        }
    }
}

fn code_of(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::NotFound => exit::NOT_FOUND,
        ErrorKind::Auth => exit::AUTH,
        ErrorKind::Network => exit::NETWORK,
        ErrorKind::Integrity => exit::INTEGRITY,
        ErrorKind::Invalid => exit::INVALID,
        ErrorKind::Unsupported => exit::UNSUPPORTED,
        ErrorKind::Io => exit::IO,
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

impl From<plinth_oci::Error> for CliError {
    fn from(e: plinth_oci::Error) -> Self {
        CliError {
            code: code_of(e.kind()),
            message: chain(&e),
        }
    }
}

impl From<plinth_registry::RegistryError> for CliError {
    fn from(e: plinth_registry::RegistryError) -> Self {
        CliError {
            code: code_of(e.kind()),
            message: chain(&e),
        }
    }
}

impl From<plinth_fs::FsError> for CliError {
    fn from(e: plinth_fs::FsError) -> Self {
        CliError {
            code: code_of(e.kind()),
            message: chain(&e),
        }
    }
}

impl From<plinth_reference::ReferenceError> for CliError {
    fn from(e: plinth_reference::ReferenceError) -> Self {
        CliError::invalid(e.to_string())
    }
}

/// Results of CLI commands.
pub type CliResult<T = ()> = Result<T, CliError>;
