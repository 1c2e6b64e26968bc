//! RPM versions: `rpmvercmp` and `[epoch:]version[-release]`.
//!
//! [`rpmvercmp`] follows rpm's documented rules for comparing a version or a release:
//!
//! * equal strings are equal;
//! * both strings are cut into runs of ASCII digits and runs of ASCII letters; every other
//!   character only separates runs (so `2.0` equals `2_0`);
//! * `~` sorts before anything, even the end of the string (`1.0~rc1` < `1.0`);
//! * `^` sorts after the end of the string but before anything else (`1.0` < `1.0^git1` <
//!   `1.0.1`);
//! * a digit run is newer than a letter run; digit runs compare as numbers (leading zeros
//!   ignored), letter runs by ASCII;
//! * when all runs compared equal, the string with something left over is newer.
//!
//! Written for plinth from those rules; no existing crate was used.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use super::{VersionError, cmp_digit_runs};

/// Compares two rpm version (or release) strings as rpm's `rpmvercmp` does.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let is_separator = |c: &u8| !c.is_ascii_alphanumeric() && *c != b'~' && *c != b'^';
    loop {
        while a.get(i).is_some_and(is_separator) {
            i += 1;
        }
        while b.get(j).is_some_and(is_separator) {
            j += 1;
        }
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());
        if ca.is_none() && cb.is_none() {
            return Ordering::Equal;
        }

        // `~` sorts before everything, the end included.
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }

        // `^` sorts after the end but before everything else.
        if ca == Some(b'^') || cb == Some(b'^') {
            if ca.is_none() {
                return Ordering::Less;
            }
            if cb.is_none() {
                return Ordering::Greater;
            }
            if ca != Some(b'^') {
                return Ordering::Greater;
            }
            if cb != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }

        // One side ran out: whichever has something left is newer.
        let (Some(ca), Some(_)) = (ca, cb) else {
            return if ca.is_none() {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        };

        let numeric = ca.is_ascii_digit();
        let class = |c: &u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let la = a[i..].iter().take_while(|c| class(c)).count();
        let lb = b[j..].iter().take_while(|c| class(c)).count();
        let (sa, sb) = (&a[i..i + la], &b[j..j + lb]);
        // Runs of different kinds: the digit run is newer.
        if sb.is_empty() {
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let ord = if numeric {
            cmp_digit_runs(sa, sb)
        } else {
            sa.cmp(sb)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        i += la;
        j += lb;
    }
}

/// The largest epoch rpm can store (its header tag is a 32-bit integer).
const MAX_EPOCH: u64 = u32::MAX as u64;

/// An rpm `[epoch:]version[-release]`.
///
/// Ordered by epoch (a missing epoch counts as 0), then version, then release, each of the
/// latter with [`rpmvercmp`]. A missing release orders as an empty one, so `1.0` < `1.0-1`;
/// this keeps the order total. (rpm's dependency matching instead ignores the release when
/// either side has none; use [`RpmEvr::matches_release_optional`] for that.)
///
/// Equality is ordering equality: `1.0-1` equals `0:1.00-1`.
#[derive(Debug, Clone)]
pub struct RpmEvr {
    raw: String,
    epoch: Option<u32>,
    version: String,
    release: Option<String>,
}

impl RpmEvr {
    /// Parses `[epoch:]version[-release]` as rpm does: an epoch is the leading digits when a
    /// colon follows them (an empty one counts as 0); the release is what follows the last
    /// hyphen after that.
    ///
    /// Fails only for an empty version or an epoch beyond 32 bits.
    pub fn parse(s: &str) -> Result<RpmEvr, VersionError> {
        let err = |reason| VersionError::Rpm {
            version: s.to_owned(),
            reason,
        };
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        let (epoch, rest) = match s[digits..].strip_prefix(':') {
            Some(rest) => {
                let epoch = &s[..digits];
                let significant = epoch.trim_start_matches('0');
                let value = if significant.is_empty() {
                    0
                } else if significant.len() > 10 {
                    return Err(err("epoch too big"));
                } else {
                    significant
                        .parse::<u64>()
                        .map_err(|_| err("epoch too big"))?
                };
                if value > MAX_EPOCH {
                    return Err(err("epoch too big"));
                }
                (Some(value as u32), rest)
            }
            None => (None, s),
        };
        let (version, release) = match rest.rsplit_once('-') {
            Some((v, r)) => (v, Some(r.to_owned())),
            None => (rest, None),
        };
        if version.is_empty() {
            return Err(err("version is empty"));
        }
        Ok(RpmEvr {
            raw: s.to_owned(),
            epoch,
            version: version.to_owned(),
            release,
        })
    }

    /// The epoch, if one was given.
    pub fn epoch(&self) -> Option<u32> {
        self.epoch
    }

    /// The version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The release, if one was given.
    pub fn release(&self) -> Option<&str> {
        self.release.as_deref()
    }

    /// The string as it was given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Compares as rpm's dependency matching does: like [`Ord`], except that the releases are
    /// compared only when both sides have one, so `1.0` matches `1.0-5`. Not a total order.
    pub fn cmp_release_optional(&self, other: &Self) -> Ordering {
        self.cmp_epoch_version(other).then_with(|| {
            match (self.release.as_deref(), other.release.as_deref()) {
                (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() => rpmvercmp(a, b),
                _ => Ordering::Equal,
            }
        })
    }

    /// True when [`RpmEvr::cmp_release_optional`] finds the two equal.
    pub fn matches_release_optional(&self, other: &Self) -> bool {
        self.cmp_release_optional(other) == Ordering::Equal
    }

    fn cmp_epoch_version(&self, other: &Self) -> Ordering {
        self.epoch
            .unwrap_or(0)
            .cmp(&other.epoch.unwrap_or(0))
            .then_with(|| rpmvercmp(&self.version, &other.version))
    }
}

impl Ord for RpmEvr {
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_epoch_version(other).then_with(|| {
            rpmvercmp(
                self.release.as_deref().unwrap_or(""),
                other.release.as_deref().unwrap_or(""),
            )
        })
    }
}

impl PartialOrd for RpmEvr {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for RpmEvr {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for RpmEvr {}

impl fmt::Display for RpmEvr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl FromStr for RpmEvr {
    type Err = VersionError;

    /// Same as [`RpmEvr::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RpmEvr::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evr(s: &str) -> RpmEvr {
        RpmEvr::parse(s).unwrap()
    }

    #[test]
    fn evr_parts() {
        let x = evr("2:1.0-3.el9");
        assert_eq!(
            (x.epoch(), x.version(), x.release()),
            (Some(2), "1.0", Some("3.el9"))
        );
        let y = evr("1.0");
        assert_eq!((y.epoch(), y.version(), y.release()), (None, "1.0", None));
        let z = evr(":1.0-a-b");
        assert_eq!(
            (z.epoch(), z.version(), z.release()),
            (Some(0), "1.0-a", Some("b"))
        );
        // Not an epoch: something other than digits before the colon.
        let w = evr("a:1.0");
        assert_eq!((w.epoch(), w.version()), (None, "a:1.0"));
        assert!(RpmEvr::parse("").is_err());
        assert!(RpmEvr::parse("1:").is_err());
        assert!(RpmEvr::parse("-1").is_err());
        assert!(RpmEvr::parse("4294967296:1").is_err());
        assert_eq!(evr("4294967295:1").epoch(), Some(u32::MAX));
    }

    #[test]
    fn evr_order() {
        assert!(evr("1:1.0-1") > evr("2.0-1"));
        assert!(evr("0:1.0-1") == evr("1.0-1"));
        assert!(evr("1.0") < evr("1.0-1"));
        assert!(evr("1.0").matches_release_optional(&evr("1.0-7")));
        assert!(!evr("1.0-6").matches_release_optional(&evr("1.0-7")));
        assert!(evr("1.0-1.el9") < evr("1.0-1.el9_2"));
    }

    #[test]
    fn huge_numbers_do_not_overflow() {
        assert_eq!(
            rpmvercmp("1.99999999999999999999999", "1.100000000000000000000000"),
            Ordering::Less
        );
    }
}
