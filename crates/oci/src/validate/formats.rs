//! String formats used by the OCI schemas: media types (RFC 6838), digests, URIs (RFC 3986),
//! RFC 3339 date-times and padded base64 (RFC 4648 §4).
//!
//! Each checker returns `Err(reason)` with a short, human explanation of what is wrong; the
//! caller adds the JSON path and the offending value.

/// Longest type or subtype name RFC 6838 §4.2 allows (and the OCI schema pattern enforces).
const MAX_MEDIA_TYPE_NAME: usize = 127;

/// Checks a media type against the OCI schema pattern
/// `^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$`,
/// which is RFC 6838's `type-name "/" subtype-name` without parameters.
pub(super) fn check_media_type(s: &str) -> Result<(), String> {
    let Some((ty, subtype)) = s.split_once('/') else {
        return Err("expected \"type/subtype\" (RFC 6838), found no \"/\"".to_string());
    };
    check_restricted_name(ty, "type")?;
    check_restricted_name(subtype, "subtype")
}

fn check_restricted_name(name: &str, what: &str) -> Result<(), String> {
    let Some(first) = name.chars().next() else {
        return Err(format!("the {what} is empty"));
    };
    if !first.is_ascii_alphanumeric() {
        return Err(format!(
            "the {what} must start with a letter or digit, found {first:?}"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c)))
    {
        return Err(format!(
            "the {what} contains {bad:?}, which RFC 6838 does not allow in a name"
        ));
    }
    if name.len() > MAX_MEDIA_TYPE_NAME {
        return Err(format!(
            "the {what} is {} characters long, more than the {MAX_MEDIA_TYPE_NAME} RFC 6838 allows",
            name.len()
        ));
    }
    Ok(())
}

/// Digest algorithms registered by the image spec, with the length of their lowercase-hex
/// encoded part.
const REGISTERED_ALGORITHMS: &[(&str, usize)] = &[("sha256", 64), ("sha512", 128)];

/// Checks a digest against the grammar of the image spec
///
/// ```text
/// digest                := algorithm ":" encoded
/// algorithm             := algorithm-component (algorithm-separator algorithm-component)*
/// algorithm-component   := [a-z0-9]+
/// algorithm-separator   := [+._-]
/// encoded               := [a-zA-Z0-9=_-]+
/// ```
///
/// and, for a registered algorithm (`sha256`, `sha512`), against its encoding: lowercase hex of
/// the hash length. Unregistered algorithms that follow the grammar pass, as the spec asks.
pub(super) fn check_digest(s: &str) -> Result<(), String> {
    let Some((algorithm, encoded)) = s.split_once(':') else {
        return Err("expected \"algorithm:encoded\", found no \":\"".to_string());
    };
    if algorithm.is_empty() {
        return Err("the algorithm is missing".to_string());
    }
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    if !algorithm.split(['+', '.', '_', '-']).all(component_ok) {
        return Err(format!(
            "algorithm {algorithm:?} must be lowercase letters and digits, with single \
             \"+\", \".\", \"_\" or \"-\" between components"
        ));
    }
    if encoded.is_empty() {
        return Err("the encoded part is missing".to_string());
    }
    if let Some(bad) = encoded
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || "=_-".contains(c)))
    {
        return Err(format!("the encoded part contains {bad:?}"));
    }
    if let Some(&(name, hex_len)) = REGISTERED_ALGORITHMS.iter().find(|(a, _)| *a == algorithm) {
        if let Some(bad) = encoded
            .chars()
            .find(|&c| !(c.is_ascii_digit() || ('a'..='f').contains(&c)))
        {
            return Err(format!(
                "{name} needs {hex_len} lowercase hex digits, found {bad:?}"
            ));
        }
        if encoded.len() != hex_len {
            return Err(format!(
                "{name} needs {hex_len} lowercase hex digits, found {}",
                encoded.len()
            ));
        }
    }
    Ok(())
}

/// The registered algorithm of a digest that passed [`check_digest`], with its encoded part.
pub(super) fn registered_digest(s: &str) -> Option<(&str, &str)> {
    let (algorithm, encoded) = s.split_once(':')?;
    REGISTERED_ALGORITHMS
        .iter()
        .any(|(a, _)| *a == algorithm)
        .then_some((algorithm, encoded))
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

fn is_sub_delim(b: u8) -> bool {
    b"!$&'()*+,;=".contains(&b)
}

/// Checks that `s` is an absolute URI per RFC 3986 (JSON Schema's `"format": "uri"`): a scheme,
/// then only URI characters (anything else percent-encoded), a well-formed authority when
/// there is one, and at most one fragment.
pub(super) fn check_uri(s: &str) -> Result<(), String> {
    let scheme_end = s.find(':').filter(|&i| {
        let scheme = &s.as_bytes()[..i];
        !scheme.is_empty()
            && scheme[0].is_ascii_alphabetic()
            && scheme
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    });
    let Some(scheme_end) = scheme_end else {
        return Err("not an absolute URI: it has no scheme (such as \"https:\")".to_string());
    };
    let rest = &s[scheme_end + 1..];

    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return Err("a \"%\" is not followed by two hex digits".to_string());
            }
            i += 3;
            continue;
        }
        if !(is_unreserved(b) || is_sub_delim(b) || b":/?#[]@".contains(&b)) {
            let c = rest[i..].chars().next().unwrap_or('?');
            return Err(format!(
                "it contains {c:?}, which a URI must percent-encode"
            ));
        }
        i += 1;
    }
    if rest.matches('#').count() > 1 {
        return Err("it has more than one \"#\"".to_string());
    }

    // Brackets are only allowed around an IP literal in the authority.
    let (authority, after_authority) = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            (Some(&after[..end]), &after[end..])
        }
        None => (None, rest),
    };
    if after_authority.contains(['[', ']']) {
        return Err("\"[\" and \"]\" are only allowed around an IP literal host".to_string());
    }
    if let Some(authority) = authority {
        let host_port = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => {
                if userinfo.contains(['[', ']', '@']) {
                    return Err("the user information contains \"[\", \"]\" or \"@\"".to_string());
                }
                host_port
            }
            None => authority,
        };
        let port = if let Some(literal) = host_port.strip_prefix('[') {
            let Some((inside, after)) = literal.split_once(']') else {
                return Err("an IP literal host is missing its \"]\"".to_string());
            };
            let ok = !inside.is_empty()
                && inside
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b":.".contains(&b) || b == b'v')
                && !inside.contains(['[', ']']);
            if !ok {
                return Err(format!("{inside:?} is not an IP literal"));
            }
            match after {
                "" => None,
                _ => match after.strip_prefix(':') {
                    Some(port) => Some(port),
                    None => return Err("unexpected text after an IP literal host".to_string()),
                },
            }
        } else {
            if host_port.contains(['[', ']']) {
                return Err(
                    "\"[\" and \"]\" are only allowed around an IP literal host".to_string()
                );
            }
            host_port.split_once(':').map(|(_, port)| port)
        };
        if let Some(port) = port.filter(|p| !p.bytes().all(|b| b.is_ascii_digit())) {
            return Err(format!("port {port:?} is not a number"));
        }
    }
    Ok(())
}

/// Checks an RFC 3339 `date-time` (JSON Schema's `"format": "date-time"`), e.g.
/// `2015-10-31T22:22:56.015925234Z` or `2023-01-02T03:04:05+01:00`.
pub(super) fn check_date_time(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let digits = |from: usize, to: usize| -> Option<u32> {
        let part = b.get(from..to)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(part.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let at = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
    let shape = "expected YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)";

    let (Some(year), Some(month), Some(day)) = (digits(0, 4), digits(5, 7), digits(8, 10)) else {
        return Err(shape.to_string());
    };
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt") && at(13, b":") && at(16, b":")) {
        return Err(shape.to_string());
    }
    let (Some(hour), Some(minute), Some(second)) = (digits(11, 13), digits(14, 16), digits(17, 19))
    else {
        return Err(shape.to_string());
    };
    let mut i = 19;
    if at(i, b".") {
        let start = i + 1;
        i = start;
        while at(i, b"0123456789") {
            i += 1;
        }
        if i == start {
            return Err("a \".\" must be followed by fractional seconds".to_string());
        }
    }
    match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => {}
        Some(b'+' | b'-') if i + 6 == b.len() && at(i + 3, b":") => {
            let (Some(off_hour), Some(off_minute)) = (digits(i + 1, i + 3), digits(i + 4, i + 6))
            else {
                return Err(shape.to_string());
            };
            if off_hour > 23 || off_minute > 59 {
                return Err("the time zone offset is out of range".to_string());
            }
        }
        _ => return Err(format!("{shape}; the time zone is missing or malformed")),
    }

    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(format!("month {month:02} does not exist")),
    };
    if day == 0 || day > month_days {
        return Err(format!(
            "day {day:02} does not exist in {year:04}-{month:02}"
        ));
    }
    // RFC 3339 allows second 60 for leap seconds.
    if hour > 23 || minute > 59 || second > 60 {
        return Err(format!(
            "time {hour:02}:{minute:02}:{second:02} is out of range"
        ));
    }
    Ok(())
}

/// Decodes standard, padded base64 (RFC 4648 §4), the encoding of a descriptor's `data`.
pub(super) fn decode_base64(s: &str) -> Result<Vec<u8>, String> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    let quads = bytes.len() / 4;
    if quads * 4 != bytes.len() {
        return Err(format!(
            "not padded base64: its length {} is not a multiple of 4",
            bytes.len()
        ));
    }
    let mut out = Vec::with_capacity(quads * 3);
    for (q, chunk) in bytes.chunks_exact(4).enumerate() {
        let padding = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if padding > 2 || (padding > 0 && q + 1 != quads) {
            return Err("not base64: \"=\" padding in the wrong place".to_string());
        }
        let mut acc = 0u32;
        for (k, &c) in chunk.iter().enumerate() {
            let v = if k >= 4 - padding {
                0
            } else {
                value(c).ok_or_else(|| format!("not base64: it contains {:?}", char::from(c)))?
            };
            acc = (acc << 6) | v;
        }
        let decoded = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        out.extend_from_slice(&decoded[..3 - padding]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        assert!(check_media_type("application/vnd.oci.image.manifest.v1+json").is_ok());
        assert!(check_media_type("text/plain").is_ok());
        assert!(check_media_type("application/json; charset=utf-8").is_err());
        assert!(check_media_type("a/b/c").is_err());
        assert!(check_media_type("/b").is_err());
        assert!(check_media_type("a/").is_err());
        let long = "a".repeat(127);
        assert!(check_media_type(&format!("{long}/{long}")).is_ok());
        assert!(check_media_type(&format!("{long}a/b")).is_err());
    }

    #[test]
    fn digests() {
        let hex64 = "a".repeat(64);
        assert!(check_digest(&format!("sha256:{hex64}")).is_ok());
        assert!(check_digest(&format!("sha512:{hex64}{hex64}")).is_ok());
        assert!(check_digest(&format!("sha512:{hex64}")).is_err());
        assert!(check_digest(&format!("sha256:{}", "A".repeat(64))).is_err());
        assert!(check_digest("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564").is_ok());
        assert!(
            check_digest("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8").is_ok()
        );
        assert!(check_digest("sha256+foo+-b:abc").is_err());
        assert!(check_digest("sha256-:abc").is_err());
        assert!(check_digest("sha256:ab:c").is_err());
        assert!(check_digest(":abc").is_err());
        assert!(check_digest("sha256:").is_err());
    }

    #[test]
    fn uris() {
        for ok in [
            "https://example.com/foo",
            "https://user:pw@example.com:8443/a/b?c=d&e#frag",
            "http://[::1]:5000/v2/",
            "urn:isbn:0451450523",
            "https://example.com/%20space",
            "file:///tmp/x",
        ] {
            assert!(check_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "value",
            "",
            "/relative/path",
            "1http://x",
            "https://example.com/a b",
            "https://example.com/%zz",
            "https://example.com:80a/",
            "https://example.com/[x]",
            "https://exa[mple.com/",
            "https://example.com/#a#b",
            "https://example.com/é",
            "https://ex\\ample.com/",
        ] {
            assert!(check_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn date_times() {
        for ok in [
            "2015-10-31T22:22:56.015925234Z",
            "2016-02-29T00:00:00Z",
            "2023-01-02T03:04:05+01:00",
            "2023-01-02t03:04:05z",
            "0001-01-01T00:00:00Z",
            "2016-12-31T23:59:60Z",
        ] {
            assert!(check_date_time(ok).is_ok(), "{ok}");
        }
        for bad in [
            "2015-10-31",
            "2015-10-31 22:22:56Z",
            "2015-10-31T22:22:56",
            "2015-13-01T00:00:00Z",
            "2015-02-29T00:00:00Z",
            "2015-10-31T24:00:00Z",
            "2015-10-31T22:22:56.Z",
            "2015-10-31T22:22:56+0100",
            "2015-10-31T22:22:56Zjunk",
            "yesterday",
        ] {
            assert!(check_date_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn base64() {
        assert_eq!(decode_base64("e30=").unwrap(), b"{}");
        assert_eq!(decode_base64("").unwrap(), b"");
        assert_eq!(decode_base64("YWJj").unwrap(), b"abc");
        assert_eq!(decode_base64("YQ==").unwrap(), b"a");
        assert!(decode_base64("YQ").is_err());
        assert!(decode_base64("Y===").is_err());
        assert!(decode_base64("YQ==YWJj").is_err());
        assert!(decode_base64("YW-j").is_err());
    }
}
