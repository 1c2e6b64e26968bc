//! dpkg: `/var/lib/dpkg/status` and distroless `/var/lib/dpkg/status.d/*`.
//!
//! The status file is a sequence of RFC 822-style stanzas (`deb-status(5)`); a package is
//! installed when its `Status` ends in `installed`. Distroless images have no status file but
//! one control stanza per package under `status.d/` (and `*.md5sums` beside them, skipped);
//! those stanzas carry no `Status` and count as installed.

use plinth_fs::{ContentRequest, Kind, MergedFs};

use crate::catalog::package::{DbKind, Package, PackageDb, Packages, field, stanzas};

/// The dpkg status file.
pub const STATUS: &str = "/var/lib/dpkg/status";
/// The distroless per-package directory.
pub const STATUS_D: &str = "/var/lib/dpkg/status.d";

/// What the dpkg cataloger reads.
pub fn request() -> ContentRequest {
    ContentRequest::new()
        .path(STATUS)
        .glob(&format!("{STATUS_D}/*"))
        .max_size(64 << 20)
}

/// Parses a status file (or a status.d control file) into installed packages.
pub fn parse(text: &str, db: DbKind) -> Vec<Package> {
    let mut out = Vec::new();
    stanzas(text, |f| {
        let Some(name) = field(f, "Package") else {
            return;
        };
        if let Some(status) = field(f, "Status") {
            // "install ok installed"; "deinstall ok config-files" is not installed.
            if status.split_whitespace().nth(2) != Some("installed") {
                return;
            }
        }
        let Some(version) = field(f, "Version") else {
            return;
        };
        let (source, source_version) = match field(f, "Source") {
            Some(s) => match s.split_once('(') {
                Some((n, v)) => (
                    Some(n.trim().to_string()),
                    Some(v.trim_end_matches(')').trim().to_string()),
                ),
                None => (Some(s.trim().to_string()), None),
            },
            None => (None, None),
        };
        out.push(Package {
            name: name.to_string(),
            version: version.to_string(),
            arch: field(f, "Architecture").map(str::to_string),
            source_version: source_version.filter(|v| v != version),
            source: source.filter(|s| s != name),
            installed_size: field(f, "Installed-Size")
                .and_then(|s| s.parse::<u64>().ok())
                .map(|kib| kib * 1024),
            license: None,
            epoch: None,
            supplier: field(f, "Maintainer").map(str::to_string),
            db,
        });
    });
    out
}

/// Reads the dpkg databases of the image into `out`.
pub fn catalog(fs: &MergedFs, out: &mut Packages) {
    if fs.resolve(STATUS).is_some() {
        let (read, packages, note) = match fs.read(STATUS) {
            Some(b) => (true, parse(&String::from_utf8_lossy(b), DbKind::Dpkg), None),
            None => (
                false,
                Vec::new(),
                Some("content not kept (too large)".into()),
            ),
        };
        out.add(
            PackageDb {
                kind: DbKind::Dpkg,
                path: STATUS.into(),
                read,
                packages: 0,
                note,
            },
            packages,
        );
    }
    let entries = fs.list_dir(STATUS_D);
    if !entries.is_empty() {
        let mut packages = Vec::new();
        let mut unread = 0;
        for m in entries {
            if m.name().ends_with(".md5sums") || m.kind == Kind::Dir {
                continue;
            }
            match fs.read(&m.path) {
                Some(b) => packages.extend(parse(&String::from_utf8_lossy(b), DbKind::DpkgStatusD)),
                None => unread += 1,
            }
        }
        out.add(
            PackageDb {
                kind: DbKind::DpkgStatusD,
                path: STATUS_D.into(),
                read: true,
                packages: 0,
                note: (unread > 0).then(|| format!("{unread} files not read")),
            },
            packages,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::testfs::{file, fs};

    const STATUS_TEXT: &str = "Package: libc6
Status: install ok installed
Priority: optional
Installed-Size: 12985
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries
 Contains the standard libraries.
 .
 More.

Package: libgcc-s1
Status: install ok installed
Architecture: amd64
Source: gcc-12 (12.2.0-14)
Version: 12.2.0-14
Installed-Size: 140

Package: removed
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: bsdutils
Status: install ok installed
Architecture: amd64
Source: util-linux (2.38.1-5)
Version: 1:2.38.1-5+b1
";

    #[test]
    fn status_file() {
        let p = parse(STATUS_TEXT, DbKind::Dpkg);
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].name, "libc6");
        assert_eq!(p[0].source.as_deref(), Some("glibc"));
        assert_eq!(p[0].installed_size, Some(12985 * 1024));
        assert_eq!(p[1].source.as_deref(), Some("gcc-12"));
        assert_eq!(p[1].source_version, None);
        assert_eq!(p[2].version, "1:2.38.1-5+b1");
        assert_eq!(p[2].source_version.as_deref(), Some("2.38.1-5"));
    }

    #[test]
    fn distroless_status_d() {
        let fs = fs(vec![
            file(
                "/var/lib/dpkg/status.d/base-files",
                "Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n",
            ),
            file("/var/lib/dpkg/status.d/base-files.md5sums", "abc  etc/x\n"),
            file(
                "/var/lib/dpkg/status.d/tzdata",
                "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n",
            ),
        ]);
        let mut out = Packages::default();
        catalog(&fs, &mut out);
        assert_eq!(out.databases.len(), 1);
        assert_eq!(out.databases[0].kind, DbKind::DpkgStatusD);
        assert_eq!(out.packages.len(), 2);
        assert_eq!(out.databases[0].packages, 2);
    }
}
