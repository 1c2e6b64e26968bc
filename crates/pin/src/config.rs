//! `plinth.toml`: project settings for `plinth check`.
//!
//! ```toml
//! [check]
//! # Base images may come only from these registries or repository prefixes (PL007).
//! # An entry matches the normalized name: "docker.io" allows every Docker Hub image,
//! # "docker.io/library" only official images, "ghcr.io/acme" one organization.
//! # Absent or empty: every registry is allowed.
//! allowed-registries = ["docker.io/library", "ghcr.io/acme"]
//! # The lowest severity that makes `plinth check` fail: "error", "warning" (default),
//! # "note", or "never".
//! fail-on = "warning"
//! # Rules not to report.
//! disable = ["PL003"]
//! ```
//!
//! `plinth check` reads `--config FILE`, else `plinth.toml` in the current directory when it
//! exists. Command-line flags win over the file.

use std::path::Path;

use serde::Deserialize;

use crate::check::{FailOn, RuleId};
use crate::error::{PinError, Result};

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[check]`.
    #[serde(default)]
    pub check: CheckConfig,
}

/// `[check]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CheckConfig {
    /// Registries (or `registry/path` prefixes) base images may come from; empty = any.
    #[serde(default)]
    pub allowed_registries: Vec<String>,
    /// The lowest severity that fails the check.
    #[serde(default)]
    pub fail_on: Option<FailOn>,
    /// Rule ids not to report.
    #[serde(default)]
    pub disable: Vec<RuleId>,
}

impl Config {
    /// Parses TOML text.
    pub fn from_toml(text: &str) -> std::result::Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Reads a file.
    pub fn from_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| PinError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Config::from_toml(&text).map_err(|e| PinError::Config(format!("{}: {e}", path.display())))
    }

    /// `path` when given, else `./plinth.toml` when it exists, else the defaults.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        match path {
            Some(p) => Config::from_file(p),
            None if Path::new("plinth.toml").exists() => {
                Config::from_file(Path::new("plinth.toml"))
            }
            None => Ok(Config::default()),
        }
    }
}

impl CheckConfig {
    /// Whether the normalized name `name` (`docker.io/library/python`) is allowed.
    pub fn allows(&self, name: &str) -> bool {
        self.allowed_registries.is_empty()
            || self.allowed_registries.iter().any(|a| {
                let a = a.trim_end_matches('/');
                name == a || name.starts_with(&format!("{a}/"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        let c = Config::from_toml(
            "[check]\nallowed-registries = [\"docker.io/library\", \"ghcr.io/acme/\"]\nfail-on = \"error\"\ndisable = [\"PL003\"]\n",
        )
        .unwrap();
        assert_eq!(c.check.fail_on, Some(FailOn::Error));
        assert_eq!(c.check.disable, vec![RuleId::PL003]);
        assert!(c.check.allows("docker.io/library/python"));
        assert!(!c.check.allows("docker.io/bitnami/redis"));
        assert!(c.check.allows("ghcr.io/acme/app"));
        assert!(!c.check.allows("ghcr.io/acmeco/app"));
        assert!(CheckConfig::default().allows("quay.io/x/y"));
        assert!(Config::from_toml("[check]\nunknown = 1\n").is_err());
        assert!(Config::from_toml("[check]\ndisable = [\"PL999\"]\n").is_err());
    }
}
