//! Alpine package versions, as apk-tools reads and orders them.
//!
//! A valid version is `digits{.digits}[letter]{_suffix[digits]}[~hash][-rdigits]`:
//!
//! * one or more dot-separated numbers, the first one mandatory (`1.2.3`);
//! * at most one lowercase letter right after the numbers (`1.2.3b`);
//! * any number of suffixes, each optionally numbered: `_alpha`, `_beta`, `_pre`, `_rc` sort
//!   before the plain release, `_cvs`, `_svn`, `_git`, `_hg`, `_p` after it (`1.0_rc1` <
//!   `1.0` < `1.0_p1`);
//! * an optional commit hash: `~` and lowercase hex digits;
//! * an optional package revision: `-r` and digits (`1.0-r2`).
//!
//! Versions compare token by token. Numbers compare numerically, except that after the first
//! one a number with a leading zero compares as a string (`1.02` < `1.1`, `8.2.0015` <
//! `8.2.002`). When one version runs out of tokens or the token kinds differ, a pre-release
//! suffix makes its version older; otherwise the version whose next token is "more
//! significant" (number < letter < suffix < suffix number < hash < revision < end) is newer:
//! `1.2.1` > `1.2`, `1.0a` > `1.0`, `1.0-r1` > `1.0`.
//!
//! apk-tools also orders strings that are not valid versions: [`compare`] does the same,
//! ordering the unparsable rests as plain strings. [`ApkVersion`] holds only valid versions.
//!
//! The fuzzy match `a ~ b` holds when `b`'s tokens are a prefix of `a`'s (`3.6.9_pre1 ~ 3.6`,
//! but not `3.60 ~ 3.6`).
//!
//! Written for plinth from apk-tools' documented version rules; there is no existing crate
//! for apk versions.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use super::{VersionError, cmp_digit_runs};

/// Token kinds, in apk's order of significance: when two versions agree up to a point and
/// then continue with tokens of different kinds, the one with the *greater* kind is older.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Invalid,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    Hash,
    Revision,
    End,
}

/// Suffixes in order; those before [`NO_SUFFIX`] are pre-releases.
const SUFFIXES: [&str; 9] = ["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"];
/// The rank of "no suffix" (a plain release) among [`SUFFIXES`].
const NO_SUFFIX: usize = 4;

fn suffix_rank(name: &[u8]) -> Option<usize> {
    let rank = SUFFIXES.iter().position(|s| s.as_bytes() == name)?;
    Some(if rank >= NO_SUFFIX { rank + 1 } else { rank })
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    /// The token's value (digits, letter, suffix name, hash) or, for `Invalid`, the rest of
    /// the string from where parsing failed.
    text: &'a [u8],
    /// Suffix rank, for `Suffix`.
    suffix: usize,
    /// True for the leading number.
    initial: bool,
    /// Why the token is invalid, for `Invalid`.
    reason: &'static str,
}

struct Tokenizer<'a> {
    s: &'a [u8],
    pos: usize,
    last: Option<Kind>,
}

impl<'a> Tokenizer<'a> {
    fn new(s: &'a str) -> Self {
        Tokenizer {
            s: s.as_bytes(),
            pos: 0,
            last: None,
        }
    }

    fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.s.get(self.pos).is_some_and(|&c| pred(c)) {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    fn token(&mut self, kind: Kind, text: &'a [u8]) -> Token<'a> {
        self.last = Some(kind);
        Token {
            kind,
            text,
            suffix: 0,
            initial: false,
            reason: "",
        }
    }

    fn invalid(&mut self, start: usize, reason: &'static str) -> Token<'a> {
        self.pos = self.s.len();
        let mut t = self.token(Kind::Invalid, &self.s[start..]);
        t.reason = reason;
        t
    }

    fn next_token(&mut self) -> Token<'a> {
        let start = self.pos;
        let Some(last) = self.last else {
            let digits = self.take_while(|c| c.is_ascii_digit());
            if digits.is_empty() {
                return self.invalid(start, "must start with a digit");
            }
            let mut t = self.token(Kind::Digit, digits);
            t.initial = true;
            return t;
        };
        if last == Kind::Invalid || last == Kind::End {
            return self.token(last, &self.s[start..start]);
        }
        let Some(&c) = self.s.get(self.pos) else {
            return self.token(Kind::End, &[]);
        };
        match c {
            b'a'..=b'z' => {
                if last != Kind::Digit {
                    return self.invalid(start, "a letter may only follow a number");
                }
                self.pos += 1;
                self.token(Kind::Letter, &self.s[start..self.pos])
            }
            b'.' => {
                if last != Kind::Digit {
                    return self.invalid(start, "a dot may only follow a number");
                }
                self.pos += 1;
                let digits = self.take_while(|c| c.is_ascii_digit());
                if digits.is_empty() {
                    return self.invalid(start, "a dot must be followed by a number");
                }
                self.token(Kind::Digit, digits)
            }
            b'_' => {
                if last > Kind::SuffixNo {
                    return self.invalid(start, "a suffix may not follow a hash or revision");
                }
                self.pos += 1;
                let name = self.take_while(|c| c.is_ascii_lowercase());
                let Some(rank) = suffix_rank(name) else {
                    return self.invalid(start, "unknown suffix");
                };
                let mut t = self.token(Kind::Suffix, name);
                t.suffix = rank;
                t
            }
            b'0'..=b'9' if last == Kind::Suffix => {
                let digits = self.take_while(|c| c.is_ascii_digit());
                self.token(Kind::SuffixNo, digits)
            }
            b'~' => {
                if last >= Kind::Hash {
                    return self.invalid(start, "a hash may not follow a hash or revision");
                }
                self.pos += 1;
                let hash = self.take_while(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
                if hash.is_empty() {
                    return self.invalid(start, "`~` must be followed by a lowercase hex hash");
                }
                self.token(Kind::Hash, hash)
            }
            b'-' => {
                if last >= Kind::Revision {
                    return self.invalid(start, "only one revision is allowed");
                }
                if self.s.get(self.pos + 1) != Some(&b'r') {
                    return self.invalid(start, "`-` must start a revision `-rN`");
                }
                self.pos += 2;
                let digits = self.take_while(|c| c.is_ascii_digit());
                if digits.is_empty() {
                    return self.invalid(start, "a revision `-r` must be followed by a number");
                }
                self.token(Kind::Revision, digits)
            }
            _ => self.invalid(start, "unexpected character"),
        }
    }
}

/// Compares the values of two tokens of the same kind.
fn cmp_values(a: &Token<'_>, b: &Token<'_>) -> Ordering {
    match a.kind {
        Kind::Digit if !a.initial && (a.text.starts_with(b"0") || b.text.starts_with(b"0")) => {
            a.text.cmp(b.text)
        }
        Kind::Digit | Kind::SuffixNo | Kind::Revision => cmp_digit_runs(a.text, b.text),
        Kind::Suffix => a.suffix.cmp(&b.suffix),
        Kind::Letter | Kind::Hash | Kind::Invalid => a.text.cmp(b.text),
        Kind::End => Ordering::Equal,
    }
}

fn is_pre_release(t: &Token<'_>) -> bool {
    t.kind == Kind::Suffix && t.suffix < NO_SUFFIX
}

fn compare_impl(a: &str, b: &str, fuzzy: bool) -> Ordering {
    let (mut ta, mut tb) = (Tokenizer::new(a), Tokenizer::new(b));
    loop {
        let (x, y) = (ta.next_token(), tb.next_token());
        if x.kind == y.kind {
            let ord = cmp_values(&x, &y);
            if ord != Ordering::Equal || matches!(x.kind, Kind::End | Kind::Invalid) {
                return ord;
            }
            continue;
        }
        if fuzzy && y.kind == Kind::End {
            return Ordering::Equal;
        }
        if is_pre_release(&x) {
            return Ordering::Less;
        }
        if is_pre_release(&y) {
            return Ordering::Greater;
        }
        return y.kind.cmp(&x.kind);
    }
}

/// Compares two version strings as apk-tools does, valid or not.
///
/// Invalid versions are ordered as far as they parse; from the first unparsable character on
/// the rests compare as plain strings. For valid versions this is the order of
/// [`ApkVersion`].
pub fn compare(a: &str, b: &str) -> Ordering {
    compare_impl(a, b, false)
}

/// Compares `a` against the fuzzy pattern `b`: [`Ordering::Equal`] when `b`'s tokens are a
/// prefix of `a`'s (or the two are equal), otherwise as [`compare`].
pub fn compare_fuzzy(a: &str, b: &str) -> Ordering {
    compare_impl(a, b, true)
}

/// Checks a string the way apk-tools validates a package version; `Err` gives the reason.
fn validate(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("empty version");
    }
    let mut t = Tokenizer::new(s);
    loop {
        let token = t.next_token();
        match token.kind {
            Kind::End => return Ok(()),
            Kind::Invalid => return Err(token.reason),
            _ => {}
        }
    }
}

/// True when `s` is a valid apk version.
pub fn is_valid(s: &str) -> bool {
    validate(s).is_ok()
}

/// A valid Alpine package version.
///
/// Equality is ordering equality: `01.0` equals `1.0` (the first number compares
/// numerically), while `1.0` and `1.00` differ (later numbers with a leading zero compare as
/// strings). [`Display`](fmt::Display) writes the version as given.
#[derive(Debug, Clone)]
pub struct ApkVersion {
    raw: String,
}

impl ApkVersion {
    /// Parses a version, refusing what apk-tools refuses.
    pub fn parse(s: &str) -> Result<ApkVersion, VersionError> {
        validate(s).map_err(|reason| VersionError::Apk {
            version: s.to_owned(),
            reason,
        })?;
        Ok(ApkVersion { raw: s.to_owned() })
    }

    /// The version as given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The package revision (`N` of `-rN`); 0 when there is none.
    pub fn revision(&self) -> u64 {
        self.raw
            .rsplit_once("-r")
            .and_then(|(_, r)| r.parse().ok())
            .unwrap_or(0)
    }

    /// True when this version fuzzily matches `pattern` (apk's `~`): `pattern`'s tokens are a
    /// prefix of this version's, so `3.6.1-r0` matches `3.6` but `3.60` does not.
    pub fn fuzzy_matches(&self, pattern: &ApkVersion) -> bool {
        compare_fuzzy(&self.raw, &pattern.raw) == Ordering::Equal
    }
}

impl Ord for ApkVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(&self.raw, &other.raw)
    }
}

impl PartialOrd for ApkVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for ApkVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for ApkVersion {}

impl fmt::Display for ApkVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl FromStr for ApkVersion {
    type Err = VersionError;

    /// Same as [`ApkVersion::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ApkVersion::parse(s)
    }
}

/// A version relation as apk writes it in dependencies and `apk version -t`: `<`, `<=`, `=`,
/// `>=`, `>`, the fuzzy `~`, `<~` (older, or fuzzy match), `>~` (newer, or fuzzy match), any
/// of them negated with a leading `!` (so `!~` is "does not fuzzily match").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApkOp {
    less: bool,
    equal: bool,
    greater: bool,
    fuzzy: bool,
    negated: bool,
}

impl ApkOp {
    /// Parses an operator: an optional `!`, then one or more distinct characters of `<`,
    /// `>`, `=`, `~`.
    pub fn parse(s: &str) -> Result<ApkOp, VersionError> {
        let bad = || VersionError::ApkOperator(s.to_owned());
        let (negated, rest) = match s.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        if rest.is_empty() {
            return Err(bad());
        }
        let mut op = ApkOp {
            less: false,
            equal: false,
            greater: false,
            fuzzy: false,
            negated,
        };
        let mut seen = [false; 4];
        for c in rest.chars() {
            let i = "<>=~".find(c).ok_or_else(bad)?;
            if std::mem::replace(&mut seen[i], true) {
                return Err(bad());
            }
            match c {
                '<' => op.less = true,
                '>' => op.greater = true,
                '=' => op.equal = true,
                _ => {
                    op.fuzzy = true;
                    op.equal = true;
                }
            }
        }
        Ok(op)
    }

    /// True when `a OP b` holds; `a` and `b` need not be valid versions (apk orders those
    /// too, see [`compare`]).
    pub fn matches_str(&self, a: &str, b: &str) -> bool {
        let ord = compare_impl(a, b, self.fuzzy);
        let ok = match ord {
            Ordering::Less => self.less,
            Ordering::Equal => self.equal,
            Ordering::Greater => self.greater,
        };
        ok != self.negated
    }

    /// True when `a OP b` holds.
    pub fn matches(&self, a: &ApkVersion, b: &ApkVersion) -> bool {
        self.matches_str(&a.raw, &b.raw)
    }
}

impl fmt::Display for ApkOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negated {
            f.write_str("!")?;
        }
        if self.less {
            f.write_str("<")?;
        }
        if self.greater {
            f.write_str(">")?;
        }
        if self.fuzzy {
            f.write_str("~")
        } else if self.equal {
            f.write_str("=")
        } else {
            Ok(())
        }
    }
}

impl FromStr for ApkOp {
    type Err = VersionError;

    /// Same as [`ApkOp::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ApkOp::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> ApkVersion {
        ApkVersion::parse(s).unwrap()
    }

    #[test]
    fn suffix_order() {
        let ordered = [
            "1.0_alpha",
            "1.0_alpha1",
            "1.0_beta",
            "1.0_pre",
            "1.0_rc1",
            "1.0",
            "1.0-r1",
            "1.0_cvs",
            "1.0_svn",
            "1.0_git",
            "1.0_hg",
            "1.0_p",
            "1.0_p1",
            "1.0a",
            "1.0.1",
        ];
        for w in ordered.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn leading_zeros() {
        assert_eq!(v("01.0"), v("1.0"));
        assert_ne!(v("1.0"), v("1.00"));
        assert!(v("1.02") < v("1.1"));
    }

    #[test]
    fn revision_and_reasons() {
        assert_eq!(v("1.2.3-r14").revision(), 14);
        assert_eq!(v("1.2.3").revision(), 0);
        let err = ApkVersion::parse("1.0-x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid apk version \"1.0-x\": `-` must start a revision `-rN`"
        );
    }

    #[test]
    fn ops() {
        for s in ["<", "<=", "=", ">=", ">", "~", "<~", ">~", "!~", "!="] {
            assert_eq!(ApkOp::parse(s).unwrap().to_string(), s);
        }
        for s in ["", "!", "<<", "=>x", "~~"] {
            assert!(ApkOp::parse(s).is_err(), "{s:?}");
        }
        let ge = ApkOp::parse(">=").unwrap();
        assert!(ge.matches(&v("1.2-r1"), &v("1.2")));
        assert!(!ge.matches(&v("1.2_rc1"), &v("1.2")));
        assert!(v("3.6.1-r0").fuzzy_matches(&v("3.6")));
        assert!(!v("3.60").fuzzy_matches(&v("3.6")));
    }
}
