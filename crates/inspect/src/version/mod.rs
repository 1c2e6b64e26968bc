//! Package version ordering for the three package managers found in base images.
//!
//! * [`dpkg`]: Debian and Ubuntu, `[epoch:]upstream[-revision]` ordered as Debian Policy
//!   §5.6.12 describes ([`DebVersion`]).
//! * [`apk`]: Alpine, `digits{.digits}[letter]{_suffix[N]}[~hash][-rN]` with apk-tools'
//!   ordering and its fuzzy `~` match ([`ApkVersion`], [`ApkOp`]).
//! * [`rpm`]: Fedora, RHEL and friends, `rpmvercmp` including `~` and `^`, and
//!   `[epoch:]version[-release]` ([`RpmEvr`]).
//!
//! These are plinth's own implementations, written from the documented algorithms and checked
//! against the test data of dpkg, apt, rpm and apk-tools (see `tests/versions.rs`). No
//! existing crate was right for this: `deb-version` is unmaintained, `debversion` orders `1.`
//! and `1.0` wrongly, and there is no crate for apk versions at all.
//!
//! [`compare`] (and [`Ecosystem::compare`]) is the entry point for vulnerability matching: it
//! compares two version strings of one ecosystem, refusing what that ecosystem's package
//! manager would refuse.

pub mod apk;
pub mod dpkg;
pub mod rpm;

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

pub use apk::{ApkOp, ApkVersion};
pub use dpkg::{DebVersion, DpkgIssue};
pub use rpm::{RpmEvr, rpmvercmp};

/// Why a version string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VersionError {
    /// A dpkg version that dpkg refuses, either outright or (for a
    /// [warning-level](DpkgIssue::is_warning) issue) in strict mode.
    #[error("invalid dpkg version {version:?}: {issue}")]
    Dpkg {
        /// The version string as given.
        version: String,
        /// What is wrong with it.
        issue: DpkgIssue,
    },
    /// A string that is not a valid apk version.
    #[error("invalid apk version {version:?}: {reason}")]
    Apk {
        /// The version string as given.
        version: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An apk comparison operator that is not one of `<`, `<=`, `=`, `>=`, `>`, `~`, `<~`,
    /// `>~`, optionally negated with `!`.
    #[error("invalid apk version operator {0:?}")]
    ApkOperator(String),
    /// An rpm `[epoch:]version[-release]` string that cannot be used.
    #[error("invalid rpm version {version:?}: {reason}")]
    Rpm {
        /// The version string as given.
        version: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An ecosystem name that is not `dpkg`, `apk` or `rpm`.
    #[error("unknown package ecosystem {0:?} (expected dpkg, apk or rpm)")]
    UnknownEcosystem(String),
}

impl VersionError {
    /// True for a problem that the package manager reports only as a warning: a dpkg version
    /// whose upstream part does not start with a digit or which holds a character outside
    /// the allowed set. [`DebVersion::parse`] refuses those; [`DebVersion::parse_lenient`]
    /// accepts them.
    pub fn is_warning(&self) -> bool {
        matches!(self, VersionError::Dpkg { issue, .. } if issue.is_warning())
    }
}

/// A package ecosystem whose versions plinth can order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ecosystem {
    /// Debian packages (dpkg, apt): Debian, Ubuntu and their derivatives.
    Dpkg,
    /// Alpine packages (apk-tools): Alpine, Wolfi, Chainguard.
    Apk,
    /// RPM packages: Fedora, RHEL, CentOS, Rocky, Alma, Amazon Linux, openSUSE.
    Rpm,
}

impl Ecosystem {
    /// All ecosystems, in declaration order.
    pub const ALL: [Ecosystem; 3] = [Ecosystem::Dpkg, Ecosystem::Apk, Ecosystem::Rpm];

    /// The ecosystem's short lowercase name: `dpkg`, `apk` or `rpm`.
    pub fn name(self) -> &'static str {
        match self {
            Ecosystem::Dpkg => "dpkg",
            Ecosystem::Apk => "apk",
            Ecosystem::Rpm => "rpm",
        }
    }

    /// Compares two versions of this ecosystem; see [`compare`].
    pub fn compare(self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        compare(self, a, b)
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Ecosystem {
    type Err = VersionError;

    /// Accepts `dpkg`/`deb`, `apk` and `rpm`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "dpkg" | "deb" => Ok(Ecosystem::Dpkg),
            "apk" => Ok(Ecosystem::Apk),
            "rpm" => Ok(Ecosystem::Rpm),
            _ => Err(VersionError::UnknownEcosystem(s.to_owned())),
        }
    }
}

/// Compares two version strings of `ecosystem`.
///
/// Each string is read as that ecosystem's package manager reads a package's version, and
/// refused where it would refuse it:
///
/// * dpkg: [`DebVersion::parse_lenient`], like `dpkg --compare-versions`: syntax errors
///   (empty, bad epoch, empty upstream part) are errors, warning-level issues are accepted.
/// * apk: [`ApkVersion::parse`]; an invalid apk version is an error.
/// * rpm: [`RpmEvr::parse`] (`[epoch:]version[-release]`); only an empty version or an
///   epoch out of range is an error.
pub fn compare(ecosystem: Ecosystem, a: &str, b: &str) -> Result<Ordering, VersionError> {
    match ecosystem {
        Ecosystem::Dpkg => dpkg::compare(a, b),
        Ecosystem::Apk => Ok(ApkVersion::parse(a)?.cmp(&ApkVersion::parse(b)?)),
        Ecosystem::Rpm => Ok(RpmEvr::parse(a)?.cmp(&RpmEvr::parse(b)?)),
    }
}

/// Compares two runs of ASCII digits as the numbers they spell, whatever their length:
/// leading zeros are ignored, then the longer run is the larger, then the first differing
/// digit decides.
pub(crate) fn cmp_digit_runs(a: &[u8], b: &[u8]) -> Ordering {
    let a = trim_leading_zeros(a);
    let b = trim_leading_zeros(b);
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn trim_leading_zeros(s: &[u8]) -> &[u8] {
    let zeros = s.iter().take_while(|&&c| c == b'0').count();
    &s[zeros..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_runs_compare_as_numbers() {
        assert_eq!(cmp_digit_runs(b"009", b"9"), Ordering::Equal);
        assert_eq!(cmp_digit_runs(b"", b"0"), Ordering::Equal);
        assert_eq!(cmp_digit_runs(b"10", b"9"), Ordering::Greater);
        assert_eq!(
            cmp_digit_runs(
                b"99999999999999999999999999",
                b"100000000000000000000000000"
            ),
            Ordering::Less
        );
    }

    #[test]
    fn ecosystem_names_round_trip() {
        for e in Ecosystem::ALL {
            assert_eq!(e.name().parse::<Ecosystem>().unwrap(), e);
            assert_eq!(e.to_string(), e.name());
        }
        assert_eq!("DEB".parse::<Ecosystem>().unwrap(), Ecosystem::Dpkg);
        assert!("pacman".parse::<Ecosystem>().is_err());
    }

    #[test]
    fn compare_dispatches() {
        assert_eq!(
            compare(Ecosystem::Dpkg, "1.0~rc1-1", "1.0-1"),
            Ok(Ordering::Less)
        );
        assert_eq!(
            compare(Ecosystem::Apk, "1.0_rc1-r0", "1.0-r0"),
            Ok(Ordering::Less)
        );
        assert_eq!(
            compare(Ecosystem::Rpm, "1.0~rc1-1", "1.0-1"),
            Ok(Ordering::Less)
        );
        assert_eq!(
            compare(Ecosystem::Rpm, "1:0.1-1", "2.0-1"),
            Ok(Ordering::Greater)
        );
        assert!(compare(Ecosystem::Dpkg, "", "1").is_err());
        assert!(compare(Ecosystem::Apk, "1.0bc", "1").is_err());
        let warn = compare(Ecosystem::Dpkg, "abc", "1");
        assert_eq!(warn, Ok(Ordering::Greater));
        assert!(dpkg::DebVersion::parse("abc").unwrap_err().is_warning());
    }
}
