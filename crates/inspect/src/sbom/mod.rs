//! Software bills of materials from an inspect [`Report`]: SPDX 2.3 JSON ([`spdx`]) and
//! CycloneDX 1.5 JSON ([`cyclonedx`]), every package with a purl.
//!
//! purls follow the purl specification's types: `pkg:deb/debian/NAME@VERSION?arch=…&distro=
//! debian-12` (namespace: the OS id, `debian` or `ubuntu`), `pkg:apk/alpine/…` (or `wolfi`,
//! `chainguard`), `pkg:rpm/ID/…` with the epoch as an `epoch` qualifier. The source package
//! is the `upstream` qualifier, as the ecosystem's tools write it. The image itself is
//! `pkg:oci/NAME@sha256%3A…?repository_url=…`.

pub mod cyclonedx;
pub mod spdx;

use crate::catalog::package::{DbKind, Package};
use crate::report::Report;

/// Options common to both formats.
#[derive(Clone, Debug)]
pub struct SbomOptions {
    /// The document's creation time as Unix seconds (the CLI uses now, or
    /// `SOURCE_DATE_EPOCH` when set, for reproducible documents).
    pub created_unix: i64,
}

/// Percent-encodes a purl component: everything but unreserved characters, and `:` and `+`
/// which the specification leaves as they are in versions.
fn encode(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The purl `type/namespace` of a package, from its database and the OS.
fn purl_type(pkg: &Package, os_id: Option<&str>) -> (&'static str, String) {
    match pkg.db {
        DbKind::Dpkg | DbKind::DpkgStatusD => (
            "deb",
            match os_id {
                Some("ubuntu") => "ubuntu".into(),
                _ => "debian".into(),
            },
        ),
        DbKind::Apk => (
            "apk",
            match os_id {
                Some(id @ ("wolfi" | "chainguard" | "postmarketos")) => id.into(),
                _ => "alpine".into(),
            },
        ),
        DbKind::RpmSqlite | DbKind::RpmBdb | DbKind::RpmNdb => (
            "rpm",
            match os_id {
                Some("rhel") | None => "redhat".into(),
                Some("opensuse-leap" | "opensuse-tumbleweed" | "opensuse") => "opensuse".into(),
                Some(id) => id.into(),
            },
        ),
    }
}

/// The purl of an installed package.
pub fn package_purl(pkg: &Package, report: &Report) -> String {
    let os = report.os.as_ref().map(|o| &o.release);
    let os_id = os.map(|o| o.id.as_str());
    let (ty, ns) = purl_type(pkg, os_id);
    let mut q: Vec<(&str, String)> = Vec::new();
    if let Some(a) = &pkg.arch {
        q.push(("arch", a.clone()));
    }
    if let Some(os) = os {
        q.push(("distro", os.purl_distro()));
    }
    if let Some(e) = pkg.epoch
        && ty == "rpm"
    {
        q.push(("epoch", e.to_string()));
    }
    if let Some(s) = &pkg.source {
        q.push(("upstream", s.clone()));
    }
    q.sort_by(|a, b| a.0.cmp(b.0));
    let version = if ty == "rpm" {
        pkg.version_without_epoch()
    } else {
        &pkg.version
    };
    let mut out = format!(
        "pkg:{ty}/{}/{}@{}",
        encode(&ns, b""),
        encode(&pkg.name, b"+"),
        encode(version, b":+")
    );
    for (i, (k, v)) in q.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(k);
        out.push('=');
        out.push_str(&encode(v, b":+/"));
    }
    out
}

/// The purl of the image: `pkg:oci/NAME@DIGEST?arch=…&repository_url=…` (name: the last
/// path component of the repository).
pub fn image_purl(report: &Report) -> String {
    let (repo_url, name) = image_name(report);
    let mut out = format!(
        "pkg:oci/{}@{}",
        encode(&name, b""),
        encode(&report.image.manifest_digest.to_string(), b"")
    );
    let arch = report
        .image
        .platform
        .split('/')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let mut q: Vec<(&str, String)> = Vec::new();
    if !arch.is_empty() {
        q.push(("arch", arch));
    }
    if let Some(u) = repo_url {
        q.push(("repository_url", u));
    }
    for (i, (k, v)) in q.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(k);
        out.push('=');
        out.push_str(&encode(v, b"/:"));
    }
    out
}

/// (repository URL without tag or digest, short name) of the image reference.
pub fn image_name(report: &Report) -> (Option<String>, String) {
    let r = &report.image.reference;
    if r.starts_with("oci:") || r.starts_with("docker-archive:") {
        let path = r.split_once(':').map_or(r.as_str(), |(_, p)| p);
        let base = path
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(path);
        return (None, base.split(':').next().unwrap_or(base).to_lowercase());
    }
    let no_digest = r.split('@').next().unwrap_or(r);
    // A tag is a ':' after the last '/'.
    let repo = match no_digest.rfind(':') {
        Some(c) if !no_digest[c..].contains('/') => &no_digest[..c],
        _ => no_digest,
    };
    let name = repo.rsplit('/').next().unwrap_or(repo).to_string();
    (Some(repo.to_string()), name)
}

/// A UUID (version 5 layout) derived from `seed`: stable for the same input.
pub(crate) fn uuid_from(seed: &str) -> String {
    let d = plinth_oci::Digest::sha256(seed.as_bytes());
    let mut h: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&d.hex()[i * 2..i * 2 + 2], 16).unwrap_or(0))
        .collect();
    h[6] = (h[6] & 0x0f) | 0x50;
    h[8] = (h[8] & 0x3f) | 0x80;
    let x: String = h.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_the_spec() {
        assert_eq!(encode("1:2.38.1-5+b1", b":+"), "1:2.38.1-5+b1");
        assert_eq!(encode("a b@c", b""), "a%20b%40c");
        assert_eq!(encode("sha256:ab", b""), "sha256%3Aab");
        let u = uuid_from("x");
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "5");
        assert_eq!(u, uuid_from("x"));
    }
}
