//! Registry configuration: mirrors and insecure (plain HTTP) registries.
//!
//! Read from `$PLINTH_REGISTRIES_CONF`, else `$XDG_CONFIG_HOME/plinth/registries.toml`
//! (`~/.config/plinth/registries.toml`), else `/etc/plinth/registries.toml`. The format follows
//! containers' `registries.conf` v2:
//!
//! ```toml
//! insecure-registries = ["registry.internal:5000"]   # plain HTTP allowed
//!
//! [[registry]]
//! prefix = "docker.io"            # references this applies to (a domain or domain/path)
//! [[registry.mirror]]
//! location = "127.0.0.1:5000"     # host[:port][/path]; pulls try mirrors in order, then the origin
//! insecure = true
//! ```
//!
//! Mirrors serve pulls (manifests, blobs, tags); pushes always go to the origin. References
//! keep their canonical names: `python:3.12` is still `docker.io/library/python:3.12` in every
//! output, only the bytes come from the mirror.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{RegistryError, Result};

/// The configuration.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RegistriesConfig {
    /// Registries reachable over plain HTTP (besides loopback, which always is).
    #[serde(default)]
    pub insecure_registries: Vec<String>,
    /// Per-prefix settings.
    #[serde(default)]
    pub registry: Vec<RegistryEntry>,
}

/// Settings for references under a prefix.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RegistryEntry {
    /// `docker.io`, `quay.io/org`…
    pub prefix: String,
    /// Plain HTTP allowed for the origin.
    #[serde(default)]
    pub insecure: bool,
    /// Mirrors, tried in order before the origin.
    #[serde(default)]
    pub mirror: Vec<Mirror>,
}

/// A pull mirror.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Mirror {
    /// `host[:port][/path]`.
    pub location: String,
    /// Plain HTTP allowed.
    #[serde(default)]
    pub insecure: bool,
}

/// One place to send a request: a host and the repository name there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `host[:port]` to connect to.
    pub host: String,
    /// The repository on that host.
    pub repository: String,
    /// Plain HTTP allowed.
    pub insecure: bool,
    /// True for a mirror, false for the origin.
    pub mirror: bool,
}

impl RegistriesConfig {
    /// Loads the configuration from the first file that exists (none is fine).
    pub fn load() -> Result<RegistriesConfig> {
        for path in candidate_paths() {
            if path.exists() {
                return RegistriesConfig::from_file(&path);
            }
        }
        Ok(RegistriesConfig::default())
    }

    /// Loads one file.
    pub fn from_file(path: &Path) -> Result<RegistriesConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RegistryError::Config(format!("{}: cannot read: {e}", path.display())))?;
        RegistriesConfig::from_toml(&text)
            .map_err(|e| RegistryError::Config(format!("{}: {e}", path.display())))
    }

    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<RegistriesConfig, String> {
        let config: RegistriesConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        for entry in &config.registry {
            if entry.prefix.is_empty() {
                return Err("a [[registry]] entry has an empty prefix".into());
            }
            for m in &entry.mirror {
                if m.location.is_empty() || m.location.contains("://") {
                    return Err(format!(
                        "mirror location {:?} must be host[:port][/path], without a scheme",
                        m.location
                    ));
                }
            }
        }
        Ok(config)
    }

    fn entry_for<'a>(&'a self, name: &'a str) -> Option<(&'a RegistryEntry, &'a str)> {
        self.registry
            .iter()
            .filter_map(|e| {
                let rest = name.strip_prefix(e.prefix.trim_end_matches('/'))?;
                (rest.is_empty() || rest.starts_with('/')).then_some((e, rest))
            })
            .max_by_key(|(e, _)| e.prefix.len())
    }

    /// Whether plain HTTP is allowed for `host` (loopback always is, like Docker).
    pub fn is_insecure(&self, host: &str) -> bool {
        is_loopback(host)
            || self.insecure_registries.iter().any(|h| h == host)
            || self
                .registry
                .iter()
                .any(|e| e.insecure && e.prefix.split('/').next() == Some(host))
    }

    /// The endpoints for pulling `domain/repository`: mirrors first, then the origin.
    pub fn pull_endpoints(&self, domain: &str, repository: &str) -> Vec<Endpoint> {
        let name = format!("{domain}/{repository}");
        let mut out = Vec::new();
        if let Some((entry, rest)) = self.entry_for(&name) {
            for m in &entry.mirror {
                let (host, path) = match m.location.split_once('/') {
                    Some((h, p)) => (h.to_string(), p.trim_matches('/').to_string()),
                    None => (m.location.clone(), String::new()),
                };
                // As in registries.conf, the location replaces the prefix.
                let below = rest.trim_start_matches('/');
                let repository = match (path.is_empty(), below.is_empty()) {
                    (true, _) => below.to_string(),
                    (false, true) => path,
                    (false, false) => format!("{path}/{below}"),
                };
                out.push(Endpoint {
                    insecure: m.insecure || self.is_insecure(&host),
                    host,
                    repository,
                    mirror: true,
                });
            }
        }
        out.push(self.origin(domain, repository));
        out
    }

    /// The origin endpoint (pushes, and pulls after the mirrors).
    pub fn origin(&self, domain: &str, repository: &str) -> Endpoint {
        let host = if domain == "docker.io" {
            "registry-1.docker.io".to_string()
        } else {
            domain.to_string()
        };
        Endpoint {
            insecure: self.is_insecure(domain),
            host,
            repository: repository.to_string(),
            mirror: false,
        }
    }
}

/// `localhost`, `127.0.0.0/8` and `::1`, with or without a port.
pub fn is_loopback(host: &str) -> bool {
    let bare = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    bare == "localhost"
        || bare == "::1"
        || bare
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn candidate_paths() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(p) = std::env::var_os("PLINTH_REGISTRIES_CONF") {
        v.push(PathBuf::from(p));
        return v;
    }
    if let Some(c) = dirs::config_dir() {
        v.push(c.join("plinth/registries.toml"));
    }
    v.push(PathBuf::from("/etc/plinth/registries.toml"));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = r#"
insecure-registries = ["reg.internal:5000"]
[[registry]]
prefix = "docker.io"
[[registry.mirror]]
location = "127.0.0.1:5000"
[[registry.mirror]]
location = "mirror.example.com/hub"
[[registry]]
prefix = "quay.io/org"
[[registry.mirror]]
location = "m.example.com/quay-org"
"#;

    #[test]
    fn mirrors_keep_repository_paths() {
        let c = RegistriesConfig::from_toml(CONF).unwrap();
        let eps = c.pull_endpoints("docker.io", "library/python");
        let got: Vec<_> = eps
            .iter()
            .map(|e| (e.host.as_str(), e.repository.as_str(), e.insecure, e.mirror))
            .collect();
        assert_eq!(
            got,
            vec![
                ("127.0.0.1:5000", "library/python", true, true),
                ("mirror.example.com", "hub/library/python", false, true),
                ("registry-1.docker.io", "library/python", false, false),
            ]
        );
        let eps = c.pull_endpoints("quay.io", "org/app");
        assert_eq!(eps[0].host, "m.example.com");
        assert_eq!(eps[0].repository, "quay-org/app");
        assert_eq!(c.pull_endpoints("quay.io", "other/app").len(), 1);
        assert!(c.is_insecure("reg.internal:5000"));
        assert!(!c.is_insecure("quay.io"));
    }

    #[test]
    fn loopback_detection() {
        for h in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["docker.io", "10.0.0.1:5000", "localhost.example.com"] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn rejects_bad_config() {
        assert!(RegistriesConfig::from_toml("[[registry]]\nprefix=''").is_err());
        assert!(
            RegistriesConfig::from_toml(
                "[[registry]]\nprefix='docker.io'\n[[registry.mirror]]\nlocation='http://x'"
            )
            .is_err()
        );
        assert!(RegistriesConfig::from_toml("unknown = 1").is_err());
    }
}
