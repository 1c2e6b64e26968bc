//! Tag shapes for `update --precise`: `3.12-slim` is version `3.12` with suffix `-slim`.
//!
//! A tag is read as `PREFIX VERSION SUFFIX`: an optional non-digit prefix (`v`), a version of
//! dot-separated numbers, and whatever follows (`-slim`, `-alpine3.20`, `-slim-bookworm`).
//! A more precise tag of `3.12-slim` keeps the prefix and the suffix *exactly* and extends
//! the version: `3.12.7-slim` is one, `3.12.7`, `3.12.7-alpine` and `3.13-slim` are not.

use std::cmp::Ordering;

/// A tag split into prefix, version numbers and suffix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagShape<'a> {
    /// Before the version, e.g. `v`.
    pub prefix: &'a str,
    /// The version's numbers, e.g. `[3, 12]`.
    pub version: Vec<u64>,
    /// After the version, e.g. `-slim`.
    pub suffix: &'a str,
}

impl<'a> TagShape<'a> {
    /// Splits `tag`; `None` when it has no version (`latest`, `bookworm`).
    pub fn parse(tag: &'a str) -> Option<TagShape<'a>> {
        let start = tag.find(|c: char| c.is_ascii_digit())?;
        let prefix = &tag[..start];
        // Only a short letter prefix (`v`, `V`, `r`) counts: `alpine3.20` has no version.
        if prefix.len() > 1 || prefix.chars().any(|c| !c.is_ascii_alphabetic()) {
            return None;
        }
        let rest = &tag[start..];
        let mut version = Vec::new();
        let mut end = 0;
        loop {
            let digits = rest[end..]
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len() - end);
            if digits == 0 || digits > 18 {
                return None;
            }
            version.push(rest[end..end + digits].parse().ok()?);
            end += digits;
            // Another component only when a dot is followed by a digit.
            let more = rest[end..].starts_with('.')
                && rest[end + 1..].starts_with(|c: char| c.is_ascii_digit());
            if !more {
                break;
            }
            end += 1;
        }
        Some(TagShape {
            prefix,
            version,
            suffix: &rest[end..],
        })
    }

    /// True when `other` has the same prefix and suffix and a longer version that starts
    /// with this one's.
    pub fn refined_by(&self, other: &TagShape<'_>) -> bool {
        self.prefix == other.prefix
            && self.suffix == other.suffix
            && other.version.len() > self.version.len()
            && other.version.starts_with(&self.version)
    }
}

/// Newest first: higher versions first; where one version extends the other, the longer
/// (more precise) first.
fn newest_first(a: &TagShape<'_>, b: &TagShape<'_>) -> Ordering {
    for (x, y) in a.version.iter().zip(&b.version) {
        match y.cmp(x) {
            Ordering::Equal => continue,
            o => return o,
        }
    }
    b.version.len().cmp(&a.version.len())
}

/// The tags of `all` that refine `tag`, newest first. Empty when `tag` has no version.
pub fn more_precise<'a>(tag: &str, all: &'a [String]) -> Vec<&'a str> {
    let Some(shape) = TagShape::parse(tag) else {
        return Vec::new();
    };
    let mut found: Vec<(TagShape<'a>, &'a str)> = all
        .iter()
        .filter_map(|t| TagShape::parse(t).map(|s| (s, t.as_str())))
        .filter(|(s, _)| shape.refined_by(s))
        .collect();
    found.sort_by(|(a, ta), (b, tb)| newest_first(a, b).then_with(|| ta.cmp(tb)));
    found.into_iter().map(|(_, t)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let s = TagShape::parse("3.12-slim").unwrap();
        assert_eq!(
            (s.prefix, &s.version[..], s.suffix),
            ("", &[3, 12][..], "-slim")
        );
        let s = TagShape::parse("3.12-alpine3.20").unwrap();
        assert_eq!((&s.version[..], s.suffix), (&[3, 12][..], "-alpine3.20"));
        let s = TagShape::parse("v1.2.3").unwrap();
        assert_eq!(
            (s.prefix, &s.version[..], s.suffix),
            ("v", &[1, 2, 3][..], "")
        );
        let s = TagShape::parse("1.").unwrap();
        assert_eq!((&s.version[..], s.suffix), (&[1][..], "."));
        assert!(TagShape::parse("latest").is_none());
        assert!(TagShape::parse("bookworm").is_none());
        assert!(TagShape::parse("alpine3.20").is_none());
    }

    #[test]
    fn precise_candidates_keep_suffix() {
        let all: Vec<String> = [
            "3.12-slim",
            "3.12.7-slim",
            "3.12.10-slim",
            "3.12.7",
            "3.12.7-alpine3.20",
            "3.13.0-slim",
            "3.12.7-slim-bookworm",
            "3.12-slim",
            "3.12.10.1-slim",
            "latest",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            more_precise("3.12-slim", &all),
            ["3.12.10.1-slim", "3.12.10-slim", "3.12.7-slim"]
        );
        assert_eq!(more_precise("3.12", &all), ["3.12.7"]);
        assert_eq!(more_precise("3.12-alpine3.20", &all), ["3.12.7-alpine3.20"]);
        assert!(more_precise("latest", &all).is_empty());
        let v: Vec<String> = ["3", "3.11", "3.11.2", "3.12", "3.12.7", "3.9.18"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            more_precise("3", &v),
            ["3.12.7", "3.12", "3.11.2", "3.11", "3.9.18"]
        );
    }
}
