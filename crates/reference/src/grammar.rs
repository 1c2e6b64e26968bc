//! Hand-written matchers for the pieces of the reference grammar.
//!
//! Each function here accepts exactly the language of one production of
//! Docker's `distribution/reference` grammar (see the crate documentation).
//! They work on bytes: every production is ASCII-only, so any non-ASCII byte
//! makes a match fail, and splitting on the ASCII separators `/`, `:` and `@`
//! always lands on UTF-8 character boundaries.

use crate::ReferenceError;

/// Longest repository path Docker accepts (`NameTotalLengthMax`).
pub(crate) const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Longest tag: one leading word character and up to 127 more.
const TAG_MAX: usize = 128;

/// Fewest hex characters the reference grammar accepts in a digest.
const DIGEST_MIN_ENCODED: usize = 32;

/// `[a-z0-9]`
fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `\w` in Go's RE2 syntax: `[0-9A-Za-z_]`.
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// path-component: `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
pub(crate) fn is_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !is_lower_alnum(b[0]) {
        return false;
    }
    let mut i = 0;
    loop {
        while i < b.len() && is_lower_alnum(b[i]) {
            i += 1;
        }
        if i == b.len() {
            return true;
        }
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        // A separator must be followed by an alphanumeric run.
        if i == b.len() || !is_lower_alnum(b[i]) {
            return false;
        }
    }
}

/// domain-name-component: `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`
fn is_domain_name_component(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
        }
        _ => false,
    }
}

/// port-number: `[0-9]+`
fn is_port(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
}

/// domain: `host (':' port-number)?` where host is either
/// `domain-name-component ('.' domain-name-component)*` or an IPv6 address
/// in brackets, `'[' [a-fA-F0-9:]+ ']'`.
pub(crate) fn is_domain(s: &str) -> bool {
    if let Some(rest) = s.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return false;
        };
        let inner = &rest[..end];
        if inner.is_empty() || !inner.bytes().all(|c| c.is_ascii_hexdigit() || c == b':') {
            return false;
        }
        let after = &rest[end + 1..];
        return after.is_empty() || after.strip_prefix(':').is_some_and(is_port);
    }
    let (host, port) = match s.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (s, None),
    };
    host.split('.').all(is_domain_name_component) && port.is_none_or(is_port)
}

/// tag: `[\w][\w.-]{0,127}`
pub(crate) fn is_tag(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= TAG_MAX
        && is_word(b[0])
        && b.iter().all(|&c| is_word(c) || c == b'.' || c == b'-')
}

/// digest-algorithm: `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*`
fn is_reference_algorithm(s: &str) -> bool {
    let mut need_alpha = true;
    for c in s.bytes() {
        if need_alpha {
            if !c.is_ascii_alphabetic() {
                return false;
            }
            need_alpha = false;
        } else if matches!(c, b'-' | b'_' | b'+' | b'.') {
            need_alpha = true;
        } else if !c.is_ascii_alphanumeric() {
            return false;
        }
    }
    !need_alpha
}

/// digest (as the reference grammar sees it):
/// `digest-algorithm ':' [0-9a-fA-F]{32,}`
pub(crate) fn is_reference_digest(s: &str) -> bool {
    match s.split_once(':') {
        Some((algorithm, encoded)) => {
            is_reference_algorithm(algorithm)
                && encoded.len() >= DIGEST_MIN_ENCODED
                && encoded.bytes().all(|c| c.is_ascii_hexdigit())
        }
        None => false,
    }
}

/// `^[a-f0-9]{64}$`: an image ID, as Docker refuses it for a repository name.
pub(crate) fn is_identifier(s: &str) -> bool {
    s.len() == 64 && is_lower_hex(s)
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// The general digest syntax that go-digest checks before it reports an
/// algorithm as unsupported: `[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+`.
fn is_general_digest_syntax(s: &str) -> bool {
    let Some((algorithm, encoded)) = s.split_once(':') else {
        return false;
    };
    let algorithm_ok = algorithm
        .split(['.', '+', '_', '-'])
        .all(|part| !part.is_empty() && part.bytes().all(is_lower_alnum));
    let encoded_ok = !encoded.is_empty()
        && encoded
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'=' | b'_' | b'-'));
    algorithm_ok && encoded_ok
}

/// Validates a digest string the way go-digest's `Parse` does: the
/// algorithm must be one that is available (`sha256`, `sha384`, `sha512`)
/// and the encoded part exactly the hash size in lowercase hex.
pub(crate) fn validate_digest(s: &str) -> Result<(), ReferenceError> {
    let Some(i) = s.find(':') else {
        return Err(ReferenceError::ChecksumFormat);
    };
    if i == 0 || i + 1 == s.len() {
        return Err(ReferenceError::ChecksumFormat);
    }
    let (algorithm, encoded) = (&s[..i], &s[i + 1..]);
    let size = match algorithm {
        "sha256" => 32,
        "sha384" => 48,
        "sha512" => 64,
        _ => {
            return Err(if is_general_digest_syntax(s) {
                ReferenceError::DigestUnsupported
            } else {
                ReferenceError::ChecksumFormat
            });
        }
    };
    if encoded.len() != size * 2 {
        return Err(ReferenceError::DigestLength);
    }
    if !is_lower_hex(encoded) {
        return Err(ReferenceError::ChecksumFormat);
    }
    Ok(())
}

/// A successful match of the whole reference grammar, as borrowed pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Matched<'a> {
    /// The domain, when the first path element is one.
    pub domain: Option<&'a str>,
    /// The repository path (the name without its domain).
    pub path: &'a str,
    /// The tag, without its `:`.
    pub tag: Option<&'a str>,
    /// The digest, without its `@` (only the grammar is checked here).
    pub digest: Option<&'a str>,
}

/// Matches `reference := name [ ":" tag ] [ "@" digest ]` against the whole
/// string, with the same split into parts as Docker's anchored regular
/// expression.
///
/// The split is unambiguous: no part but the digest may follow an `@`, and a
/// tag holds neither `:` nor `/`, so a tag is whatever follows the last `:`
/// when no `/` comes after it (a `:` inside a name is always a domain's port
/// separator and so is followed by a `/`).
pub(crate) fn match_reference(s: &str) -> Option<Matched<'_>> {
    let (rest, digest) = match s.split_once('@') {
        Some((rest, digest)) => {
            if !is_reference_digest(digest) {
                return None;
            }
            (rest, Some(digest))
        }
        None => (s, None),
    };
    let (name, tag) = match rest.rfind(':') {
        Some(i) if !rest[i + 1..].contains('/') => {
            let tag = &rest[i + 1..];
            if !is_tag(tag) {
                return None;
            }
            (&rest[..i], Some(tag))
        }
        _ => (rest, None),
    };
    let (domain, path) = match_name(name)?;
    Some(Matched {
        domain,
        path,
        tag,
        digest,
    })
}

/// Matches `name := [domain '/'] path-component ['/' path-component]*`.
///
/// The domain group is optional and greedy, as in Go's leftmost-first
/// regular expressions: the first element is taken as the domain whenever it
/// is a valid domain and more elements follow.
pub(crate) fn match_name(name: &str) -> Option<(Option<&str>, &str)> {
    if let Some((first, rest)) = name.split_once('/') {
        if is_domain(first) && rest.split('/').all(is_path_component) {
            return Some((Some(first), rest));
        }
    }
    if name.split('/').all(is_path_component) {
        return Some((None, name));
    }
    None
}

/// Go's `strings.ToLower`: simple (one-to-one) Unicode lowercase mapping.
///
/// Rust's full mapping turns `İ` (U+0130) into two characters; Go maps it
/// to a plain `i`. Every other character lowercases to a single character
/// in both.
pub(crate) fn go_to_lower(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '\u{130}' {
                'i'
            } else {
                let mut lower = c.to_lowercase();
                match (lower.next(), lower.next()) {
                    (Some(l), None) => l,
                    _ => c,
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_components() {
        for ok in [
            "a",
            "a0",
            "a.b",
            "a_b",
            "a__b",
            "a-b",
            "a---b",
            "a.b-c_d__e",
        ] {
            assert!(is_path_component(ok), "{ok}");
        }
        for bad in [
            "", "A", "-a", "a-", ".a", "a.", "a..b", "a___b", "a._b", "a-.b", "a_-b", "a:b",
        ] {
            assert!(!is_path_component(bad), "{bad}");
        }
    }

    #[test]
    fn domains() {
        for ok in [
            "localhost",
            "localhost:5000",
            "Example.COM",
            "a-b.c",
            "1.2.3.4:80",
            "[::1]",
            "[::1]:5000",
            "[2001:DB8::1]",
        ] {
            assert!(is_domain(ok), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "a..b",
            "a:",
            "a:b",
            "a:1:2",
            "[]",
            "[::1",
            "[::1]:",
            "[::1]x",
            "[fe80::1%eth0]",
            "a_b",
        ] {
            assert!(!is_domain(bad), "{bad}");
        }
    }

    #[test]
    fn tags() {
        assert!(is_tag("latest"));
        assert!(is_tag("_x.Y-z"));
        assert!(is_tag(&"a".repeat(128)));
        assert!(!is_tag(&"a".repeat(129)));
        assert!(!is_tag(".a"));
        assert!(!is_tag("-a"));
        assert!(!is_tag(""));
    }

    #[test]
    fn digests() {
        let hex64 = "a".repeat(64);
        assert!(validate_digest(&format!("sha256:{hex64}")).is_ok());
        assert_eq!(
            validate_digest("sha256:abcd"),
            Err(ReferenceError::DigestLength)
        );
        assert_eq!(
            validate_digest(&format!("sha256:{}", "A".repeat(64))),
            Err(ReferenceError::ChecksumFormat)
        );
        assert_eq!(
            validate_digest(&format!("foo:{hex64}")),
            Err(ReferenceError::DigestUnsupported)
        );
        assert_eq!(
            validate_digest(&format!("Foo:{hex64}")),
            Err(ReferenceError::ChecksumFormat)
        );
        assert!(validate_digest(&format!("sha512:{}", "0".repeat(128))).is_ok());
        assert!(validate_digest(&format!("sha384:{}", "0".repeat(96))).is_ok());
    }

    #[test]
    fn go_lowercase() {
        assert_eq!(go_to_lower("\u{130}MAGE"), "image");
        assert_eq!(go_to_lower("\u{212A}ube"), "kube");
        assert_eq!(go_to_lower("ABC"), "abc");
    }
}
