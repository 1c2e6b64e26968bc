//! The operating system, from `os-release` (`/etc/os-release`, else `/usr/lib/os-release`).
//!
//! The format is `os-release(5)`: `KEY=value` lines, values optionally quoted with shell
//! quoting rules (`"…"` with `\"`, `\\`, `\$`, `` \` `` escapes, or `'…'`), `#` comments.
//! An image without either file has no identifiable OS (`scratch`, a static binary, …): that
//! is a valid answer, not an error.

use std::collections::BTreeMap;

use plinth_fs::{ContentRequest, MergedFs};
use serde::Serialize;

/// The two places `os-release(5)` names, in the order they are read.
pub const PATHS: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];

/// What the OS cataloger needs to read.
pub fn request() -> ContentRequest {
    ContentRequest::new()
        .path(PATHS[0])
        .path(PATHS[1])
        .max_size(64 * 1024)
}

/// The OS an image is built on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OsRelease {
    /// `ID` (`debian`, `ubuntu`, `alpine`, `rhel`, `fedora`, `amzn`, `sles`, `wolfi`, …).
    pub id: String,
    /// `ID_LIKE`, split on whitespace.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub id_like: Vec<String>,
    /// `NAME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `VERSION_ID` (`12`, `3.19.1`, `9.3`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// `VERSION` (`12 (bookworm)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `VERSION_CODENAME`, else `UBUNTU_CODENAME`, else the word in parentheses of `VERSION`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codename: Option<String>,
    /// `PRETTY_NAME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
    /// The distribution as plinth names it for end-of-life purposes: `id`, except
    /// `distroless` for Google's distroless images (Debian underneath).
    pub distro: String,
    /// The file the values came from (`/etc/os-release` or `/usr/lib/os-release`), after
    /// following symlinks.
    pub source: String,
    /// Every key of the file, as read.
    #[serde(skip)]
    pub fields: BTreeMap<String, String>,
}

impl OsRelease {
    /// `ID-VERSION_ID` as purl `distro` qualifiers spell it (`debian-12`, `alpine-3.19.1`).
    pub fn purl_distro(&self) -> String {
        match &self.version_id {
            Some(v) => format!("{}-{v}", self.id),
            None => self.id.clone(),
        }
    }

    /// True for distroless images (Debian files, `PRETTY_NAME="Distroless"`).
    pub fn is_distroless(&self) -> bool {
        self.distro == "distroless"
    }
}

/// Parses `os-release` text into its key/value pairs.
pub fn parse_pairs(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        out.insert(key.to_string(), unquote(raw.trim()));
    }
    out
}

/// Shell-style unquoting as `os-release(5)` allows it.
fn unquote(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.peek() {
                            Some(&n @ ('"' | '\\' | '$' | '`')) => {
                                out.push(n);
                                chars.next();
                            }
                            _ => out.push('\\'),
                        },
                        c => out.push(c),
                    }
                }
            }
            '\'' => {
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    out.push(c);
                }
            }
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            // An unquoted comment ends the value.
            '#' if out.is_empty() || out.ends_with(' ') => break,
            c => out.push(c),
        }
    }
    out.trim_end().to_string()
}

/// Builds the OS description from parsed pairs; `None` without an `ID` or `NAME`.
pub fn from_pairs(fields: BTreeMap<String, String>, source: &str) -> Option<OsRelease> {
    let get = |k: &str| fields.get(k).filter(|v| !v.is_empty()).cloned();
    // os-release(5): ID defaults to "linux" when absent.
    let id = get("ID").map(|s| s.to_ascii_lowercase());
    if id.is_none() && get("NAME").is_none() && get("PRETTY_NAME").is_none() {
        return None;
    }
    let id = id.unwrap_or_else(|| "linux".to_string());
    let version = get("VERSION");
    let codename = get("VERSION_CODENAME")
        .or_else(|| get("UBUNTU_CODENAME"))
        .or_else(|| {
            let v = version.as_deref()?;
            let open = v.find('(')?;
            let close = v[open..].find(')')? + open;
            let word = v[open + 1..close].trim();
            // "12 (bookworm)" → bookworm; "22.04.3 LTS (Jammy Jellyfish)" → jammy.
            let first = word.split_whitespace().next()?;
            (!first.is_empty()).then(|| first.to_ascii_lowercase())
        });
    let pretty = get("PRETTY_NAME");
    let home = get("HOME_URL").unwrap_or_default();
    let distroless = pretty.as_deref() == Some("Distroless") || home.contains("distroless");
    Some(OsRelease {
        distro: if distroless {
            "distroless".to_string()
        } else {
            id.clone()
        },
        id,
        id_like: get("ID_LIKE")
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default(),
        name: get("NAME"),
        version_id: get("VERSION_ID"),
        version,
        codename,
        pretty_name: pretty,
        source: source.to_string(),
        fields,
    })
}

/// Reads the OS from the image, `None` when it has no `os-release`.
pub fn catalog(fs: &MergedFs) -> Option<OsRelease> {
    for path in PATHS {
        let Some(bytes) = fs.read(path) else { continue };
        let source = fs
            .resolve(path)
            .map(|m| m.path.clone())
            .unwrap_or_else(|| path.to_string());
        let text = String::from_utf8_lossy(bytes);
        if let Some(os) = from_pairs(parse_pairs(&text), &source) {
            return Some(os);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::testfs::{file, fs, symlink};

    const DEBIAN: &str = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"#;

    #[test]
    fn debian_through_the_symlink() {
        let fs = fs(vec![
            file("/usr/lib/os-release", DEBIAN),
            symlink("/etc/os-release", "../usr/lib/os-release"),
        ]);
        let os = catalog(&fs).unwrap();
        assert_eq!(os.id, "debian");
        assert_eq!(os.version_id.as_deref(), Some("12"));
        assert_eq!(os.codename.as_deref(), Some("bookworm"));
        assert_eq!(
            os.pretty_name.as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(os.source, "/usr/lib/os-release");
        assert_eq!(os.purl_distro(), "debian-12");
        assert_eq!(os.distro, "debian");
    }

    #[test]
    fn quoting_and_fallbacks() {
        let p = parse_pairs("A='x y'\nB=\"a \\\"q\\\" \\$x\"\n# c\nC=plain # comment\nbad line\n");
        assert_eq!(p["A"], "x y");
        assert_eq!(p["B"], "a \"q\" $x");
        assert_eq!(p["C"], "plain");
        let ubuntu = from_pairs(
            parse_pairs("NAME=\"Ubuntu\"\nVERSION=\"22.04.3 LTS (Jammy Jellyfish)\"\nID=ubuntu\nVERSION_ID=\"22.04\"\n"),
            "/etc/os-release",
        )
        .unwrap();
        assert_eq!(ubuntu.codename.as_deref(), Some("jammy"));
        let distroless = from_pairs(
            parse_pairs("PRETTY_NAME=\"Distroless\"\nNAME=\"Debian GNU/Linux\"\nID=\"debian\"\nVERSION_ID=\"12\"\nHOME_URL=\"https://github.com/GoogleContainerTools/distroless\"\n"),
            "/etc/os-release",
        )
        .unwrap();
        assert!(distroless.is_distroless());
        assert_eq!(distroless.id, "debian");
    }

    #[test]
    fn scratch_has_no_os() {
        assert!(catalog(&fs(vec![file("/hello", "x")])).is_none());
        assert!(from_pairs(parse_pairs("# nothing\n"), "/etc/os-release").is_none());
    }
}
