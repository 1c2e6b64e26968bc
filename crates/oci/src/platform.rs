//! Platforms (`os/arch[/variant]`) with Docker's normalization and matching rules.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A platform as it appears in an index descriptor or image config.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Platform {
    /// CPU architecture (`amd64`, `arm64`, `arm`, …).
    pub architecture: String,
    /// Operating system (`linux`, `windows`, …).
    pub os: String,
    /// Operating system version (Windows builds).
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// Required OS features.
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_features: Option<Vec<String>>,
    /// CPU variant (`v7`, `v8`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// A platform string that is not `os/arch[/variant]`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid platform {0:?}: expected OS/ARCH[/VARIANT], e.g. linux/arm64 or linux/arm/v7")]
pub struct PlatformError(pub String);

impl Platform {
    /// A platform from its parts.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: variant.map(str::to_string),
            ..Platform::default()
        }
    }

    /// Parses `os/arch[/variant]` as Docker's `--platform` spells it, normalized.
    pub fn parse(s: &str) -> Result<Platform, PlatformError> {
        let parts: Vec<&str> = s.split('/').collect();
        let valid = |p: &&str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(valid) {
            return Err(PlatformError(s.to_string()));
        }
        Ok(Platform::new(parts[0], parts[1], parts.get(2).copied()).normalized())
    }

    /// The platform of the machine plinth runs on (Linux and the build's architecture).
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        Platform::new("linux", arch, None).normalized()
    }

    /// Normalizes names and default variants as containerd does: `x86_64` → `amd64`,
    /// `aarch64` → `arm64`, `armhf` → `arm/v7`, `arm` alone → `arm/v7`, `arm64/v8` → `arm64`,
    /// `amd64/v1` → `amd64`.
    pub fn normalized(&self) -> Platform {
        let os = match self.os.to_ascii_lowercase().as_str() {
            "macos" => "darwin".to_string(),
            other => other.to_string(),
        };
        let variant = self.variant.as_deref().map(str::to_ascii_lowercase);
        let (arch, variant) = match (self.architecture.to_ascii_lowercase().as_str(), variant) {
            ("i386", v) => ("386".to_string(), v),
            ("x86_64" | "x86-64" | "amd64", v) => (
                "amd64".to_string(),
                v.filter(|v| v != "v1" && !v.is_empty()),
            ),
            ("aarch64" | "arm64", v) => (
                "arm64".to_string(),
                v.filter(|v| v != "v8" && v != "8" && !v.is_empty()),
            ),
            ("armhf", _) => ("arm".to_string(), Some("v7".to_string())),
            ("armel", _) => ("arm".to_string(), Some("v6".to_string())),
            ("arm", v) => {
                let v = match v.as_deref() {
                    None | Some("") | Some("7") => "v7".to_string(),
                    Some("5") => "v5".to_string(),
                    Some("6") => "v6".to_string(),
                    Some("8") => "v8".to_string(),
                    Some(other) => other.to_string(),
                };
                ("arm".to_string(), Some(v))
            }
            (a, v) => (a.to_string(), v.filter(|v| !v.is_empty())),
        };
        Platform {
            os,
            architecture: arch,
            variant,
            os_version: self.os_version.clone(),
            os_features: self.os_features.clone(),
        }
    }

    /// Whether `candidate` is exactly this platform after normalization (OS version ignored).
    pub fn matches(&self, candidate: &Platform) -> bool {
        let a = self.normalized();
        let b = candidate.normalized();
        a.os == b.os && a.architecture == b.architecture && a.variant == b.variant
    }

    /// How well `candidate` serves a request for this platform: `Some(0)` is an exact match,
    /// larger numbers are older compatible variants (an `arm/v7` request accepts `arm/v6`,
    /// an `amd64/v3` request accepts `amd64/v2`), `None` is no match.
    pub fn match_rank(&self, candidate: &Platform) -> Option<u32> {
        if self.matches(candidate) {
            return Some(0);
        }
        let a = self.normalized();
        let b = candidate.normalized();
        if a.os != b.os || a.architecture != b.architecture {
            return None;
        }
        let level = |p: &Platform| -> Option<u32> {
            match p.variant.as_deref() {
                None => Some(1),
                Some(v) => v.strip_prefix('v')?.parse().ok(),
            }
        };
        match a.architecture.as_str() {
            "arm" | "amd64" => {
                let (want, have) = (level(&a)?, level(&b)?);
                (have < want).then(|| want - have)
            }
            _ => None,
        }
    }

    /// Picks the best of `candidates` for this platform (see [`Platform::match_rank`]).
    pub fn best_match<'a, T>(
        &self,
        candidates: impl IntoIterator<Item = (&'a Platform, T)>,
    ) -> Option<T> {
        candidates
            .into_iter()
            .filter_map(|(p, t)| self.match_rank(p).map(|r| (r, t)))
            .min_by_key(|(r, _)| *r)
            .map(|(_, t)| t)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        Platform::parse(s).unwrap()
    }

    #[test]
    fn normalizes_like_docker() {
        assert_eq!(p("linux/arm").to_string(), "linux/arm/v7");
        assert_eq!(p("linux/aarch64").to_string(), "linux/arm64");
        assert_eq!(p("linux/arm64/v8").to_string(), "linux/arm64");
        assert_eq!(p("linux/x86_64").to_string(), "linux/amd64");
        assert_eq!(p("Linux/AMD64").to_string(), "linux/amd64");
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux//v7").is_err());
        assert!(Platform::parse("a/b/c/d").is_err());
    }

    #[test]
    fn matches_default_variants() {
        assert!(p("linux/arm").matches(&Platform::new("linux", "arm", Some("v7"))));
        assert!(p("linux/arm/v7").matches(&Platform::new("linux", "arm", None)));
        assert!(!p("linux/arm/v6").matches(&Platform::new("linux", "arm", Some("v7"))));
        assert!(p("linux/arm64").matches(&Platform::new("linux", "arm64", Some("v8"))));
        assert!(!p("linux/amd64").matches(&Platform::new("windows", "amd64", None)));
    }

    #[test]
    fn best_match_prefers_exact_then_older_variants() {
        let v6 = Platform::new("linux", "arm", Some("v6"));
        let v7 = Platform::new("linux", "arm", Some("v7"));
        let arm64 = Platform::new("linux", "arm64", None);
        let all = [(&v6, "v6"), (&v7, "v7"), (&arm64, "arm64")];
        assert_eq!(p("linux/arm/v7").best_match(all), Some("v7"));
        assert_eq!(p("linux/arm/v8").best_match(all), Some("v7"));
        assert_eq!(p("linux/arm/v5").best_match(all), None);
        assert_eq!(p("linux/arm64").best_match(all), Some("arm64"));
    }
}
