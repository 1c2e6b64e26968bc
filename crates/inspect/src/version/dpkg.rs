//! Debian package versions: `[epoch:]upstream_version[-debian_revision]`.
//!
//! Parsing follows dpkg's own rules, including its split between hard errors (an empty
//! string, embedded blanks, a bad epoch, an empty upstream part) and warning-level issues
//! (an upstream part that does not start with a digit, characters outside the allowed set),
//! which dpkg refuses in strict mode and otherwise accepts with a warning.
//!
//! Ordering is Debian Policy §5.6.12: epochs compare as numbers; upstream versions, then
//! revisions, compare as alternating non-digit and digit parts. Non-digit parts compare
//! character by character where `~` sorts before everything, even the end of the part, then
//! the end of the part, then letters, then all other characters (in ASCII order within each
//! class). Digit parts compare numerically (an absent part counts as zero).
//!
//! Written for plinth from the Policy text; no existing crate was used: `deb-version` is
//! unmaintained and `debversion` orders `1.` against `1.0` wrongly.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use super::{VersionError, cmp_digit_runs};

/// What is wrong with a dpkg version string, in dpkg's own terms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpkgIssue {
    /// Nothing but blanks (or nothing at all).
    #[error("version string is empty")]
    Empty,
    /// Blanks between non-blank characters.
    #[error("version string has embedded spaces")]
    EmbeddedSpaces,
    /// A colon with nothing before it that could be an epoch.
    #[error("epoch in version is empty")]
    EpochEmpty,
    /// Something other than a number before the first colon.
    #[error("epoch in version is not number")]
    EpochNotNumber,
    /// A negative epoch.
    #[error("epoch in version is negative")]
    EpochNegative,
    /// An epoch larger than 2147483647.
    #[error("epoch in version is too big")]
    EpochTooBig,
    /// An epoch and colon with nothing after them.
    #[error("nothing after colon in version number")]
    NothingAfterColon,
    /// Nothing before the revision's hyphen.
    #[error("upstream version is empty")]
    UpstreamEmpty,
    /// The upstream version does not start with a digit (warning level).
    #[error("version number does not start with digit")]
    UpstreamNotDigit,
    /// A character other than alphanumerics and `.+-~:` in the upstream version (warning
    /// level).
    #[error("invalid character {0:?} in version number")]
    UpstreamChar(char),
    /// A character other than alphanumerics and `.+~` in the revision (warning level).
    #[error("invalid character {0:?} in revision number")]
    RevisionChar(char),
}

impl DpkgIssue {
    /// True for the issues dpkg only warns about outside strict mode.
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            DpkgIssue::UpstreamNotDigit | DpkgIssue::UpstreamChar(_) | DpkgIssue::RevisionChar(_)
        )
    }
}

/// The largest epoch dpkg accepts (C's `INT_MAX`).
const MAX_EPOCH: u32 = i32::MAX as u32;

/// A parsed Debian package version.
///
/// Equality is ordering equality: `1.09` equals `1.9`, and `0:1-0` equals `1`.
/// [`Display`](fmt::Display) writes the version as it was given (without surrounding blanks).
#[derive(Debug, Clone)]
pub struct DebVersion {
    raw: String,
    epoch: u32,
    upstream: String,
    revision: String,
}

impl DebVersion {
    /// Parses a version strictly, as dpkg does in strict mode: both hard errors and
    /// warning-level issues are refused (see [`VersionError::is_warning`]).
    ///
    /// Leading and trailing blanks (spaces and tabs) are ignored, as dpkg ignores them.
    pub fn parse(s: &str) -> Result<DebVersion, VersionError> {
        match Self::parse_lenient(s)? {
            (v, None) => Ok(v),
            (_, Some(issue)) => Err(error(s, issue)),
        }
    }

    /// Parses a version as `dpkg --compare-versions` does: hard errors are refused,
    /// warning-level issues are returned beside the version.
    pub fn parse_lenient(s: &str) -> Result<(DebVersion, Option<DpkgIssue>), VersionError> {
        let is_blank = |c: char| c == ' ' || c == '\t';
        let trimmed = s.trim_matches(is_blank);
        if trimmed.is_empty() {
            return Err(error(s, DpkgIssue::Empty));
        }
        if trimmed.contains(is_blank) {
            return Err(error(s, DpkgIssue::EmbeddedSpaces));
        }

        let (epoch, rest) = match trimmed.split_once(':') {
            Some((epoch, rest)) => {
                let epoch = parse_epoch(epoch).map_err(|issue| error(s, issue))?;
                if rest.is_empty() {
                    return Err(error(s, DpkgIssue::NothingAfterColon));
                }
                (epoch, rest)
            }
            None => (0, trimmed),
        };
        // The revision is everything after the last hyphen; a trailing hyphen gives an
        // empty revision, which dpkg accepts.
        let (upstream, revision) = rest.rsplit_once('-').unwrap_or((rest, ""));
        if upstream.is_empty() {
            return Err(error(s, DpkgIssue::UpstreamEmpty));
        }

        let warning = if !upstream.starts_with(|c: char| c.is_ascii_digit()) {
            Some(DpkgIssue::UpstreamNotDigit)
        } else if let Some(c) = upstream
            .chars()
            .find(|&c| !(c.is_ascii_alphanumeric() || ".-+~:".contains(c)))
        {
            Some(DpkgIssue::UpstreamChar(c))
        } else {
            revision
                .chars()
                .find(|&c| !(c.is_ascii_alphanumeric() || ".+~".contains(c)))
                .map(DpkgIssue::RevisionChar)
        };

        let version = DebVersion {
            raw: trimmed.to_owned(),
            epoch,
            upstream: upstream.to_owned(),
            revision: revision.to_owned(),
        };
        Ok((version, warning))
    }

    /// The epoch; 0 when none is given.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The upstream version: what lies between the epoch's colon and the last hyphen.
    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    /// The Debian revision: what follows the last hyphen; empty for a native version.
    pub fn revision(&self) -> &str {
        &self.revision
    }

    /// The version as it was given, without surrounding blanks.
    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

/// Reads an epoch the way dpkg does (C's `strtol`: an optional sign, then digits).
fn parse_epoch(s: &str) -> Result<u32, DpkgIssue> {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.as_bytes()[0].is_ascii_digit() {
        return Err(DpkgIssue::EpochEmpty);
    }
    if !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(DpkgIssue::EpochNotNumber);
    }
    let significant = digits.trim_start_matches('0');
    if negative && !significant.is_empty() {
        return Err(DpkgIssue::EpochNegative);
    }
    if significant.len() > 10 {
        return Err(DpkgIssue::EpochTooBig);
    }
    match significant.parse::<u64>() {
        Ok(n) if n <= u64::from(MAX_EPOCH) => Ok(n as u32),
        Ok(_) => Err(DpkgIssue::EpochTooBig),
        Err(_) => Ok(0), // all zeros
    }
}

fn error(version: &str, issue: DpkgIssue) -> VersionError {
    VersionError::Dpkg {
        version: version.to_owned(),
        issue,
    }
}

impl Ord for DebVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(&self.upstream, &other.upstream))
            .then_with(|| verrevcmp(&self.revision, &other.revision))
    }
}

impl PartialOrd for DebVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for DebVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DebVersion {}

impl fmt::Display for DebVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl FromStr for DebVersion {
    type Err = VersionError;

    /// Same as [`DebVersion::parse`] (strict).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DebVersion::parse(s)
    }
}

/// Compares two dpkg version strings as `dpkg --compare-versions` does: both are parsed with
/// [`DebVersion::parse_lenient`], so only hard syntax errors fail.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let (a, _) = DebVersion::parse_lenient(a)?;
    let (b, _) = DebVersion::parse_lenient(b)?;
    Ok(a.cmp(&b))
}

/// The weight of one character of a non-digit part; `None` is the end of the part.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// Compares two upstream versions or two revisions (Debian Policy §5.6.12).
fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // Non-digit parts, character by character. A digit or the end weighs 0 and ends
        // that side's part; equal weights mean both sides still have a non-digit.
        while a.get(i).is_some_and(|c| !c.is_ascii_digit())
            || b.get(j).is_some_and(|c| !c.is_ascii_digit())
        {
            let (wa, wb) = (weight(a.get(i).copied()), weight(b.get(j).copied()));
            if wa != wb {
                return wa.cmp(&wb);
            }
            i += 1;
            j += 1;
        }
        // Digit parts, numerically.
        let da = a[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        let db = b[j..].iter().take_while(|c| c.is_ascii_digit()).count();
        let ord = cmp_digit_runs(&a[i..i + da], &b[j..j + db]);
        if ord != Ordering::Equal {
            return ord;
        }
        i += da;
        j += db;
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> DebVersion {
        DebVersion::parse(s).unwrap()
    }

    #[test]
    fn parts() {
        let x = v("2:1.0-3-1");
        assert_eq!((x.epoch(), x.upstream(), x.revision()), (2, "1.0-3", "1"));
        assert_eq!(x.to_string(), "2:1.0-3-1");
        let y = v(" 1.0 ");
        assert_eq!((y.epoch(), y.upstream(), y.revision()), (0, "1.0", ""));
        assert_eq!(y.as_str(), "1.0");
    }

    #[test]
    fn trailing_dot_equals_dot_zero() {
        // The case `debversion` gets wrong: after the `.`, the missing digit part counts
        // as 0, so dpkg finds `1.` and `1.0` equal.
        assert_eq!(v("1.").cmp(&v("1.0")), Ordering::Equal);
        assert_eq!(v("1.0").cmp(&v("1.")), Ordering::Equal);
        assert!(v("1.") > v("1"));
        assert!(v("1~") < v("1"));
    }

    #[test]
    fn epochs() {
        assert_eq!(v("+1:0").epoch(), 1);
        assert_eq!(v("-0:0").epoch(), 0);
        assert_eq!(v("2147483647:0").epoch(), MAX_EPOCH);
        let too_big = DebVersion::parse("2147483648:0").unwrap_err();
        assert!(matches!(
            too_big,
            VersionError::Dpkg {
                issue: DpkgIssue::EpochTooBig,
                ..
            }
        ));
    }

    #[test]
    fn huge_numbers_do_not_overflow() {
        assert!(v("1.99999999999999999999999999") < v("1.100000000000000000000000000"));
    }

    #[test]
    fn warnings_are_lenient() {
        let (x, w) = DebVersion::parse_lenient("0:0-0:0").unwrap();
        assert_eq!(w, Some(DpkgIssue::RevisionChar(':')));
        assert_eq!(x.revision(), "0:0");
        assert!(DebVersion::parse("0:0-0:0").unwrap_err().is_warning());
        assert!(!DebVersion::parse("0:").unwrap_err().is_warning());
    }
}
