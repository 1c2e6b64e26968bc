//! apk: `/lib/apk/db/installed`.
//!
//! The installed database is apk-tools' text format: one record per package, records
//! separated by blank lines, each line a one-letter key, `:`, and a value (`P:` name, `V:`
//! version, `A:` architecture, `o:` origin (source package), `I:` installed size in bytes,
//! `L:` license, `m:` maintainer; `F:`/`R:` list the files).

use plinth_fs::{ContentRequest, MergedFs};

use crate::catalog::package::{DbKind, Package, PackageDb, Packages};

/// The installed database.
pub const INSTALLED: &str = "/lib/apk/db/installed";

/// What the apk cataloger reads.
pub fn request() -> ContentRequest {
    ContentRequest::new()
        .path(INSTALLED)
        .path("/usr/lib/apk/db/installed")
        .max_size(64 << 20)
}

#[derive(Default)]
struct Record {
    name: Option<String>,
    version: Option<String>,
    arch: Option<String>,
    origin: Option<String>,
    size: Option<u64>,
    license: Option<String>,
    maintainer: Option<String>,
}

impl Record {
    fn finish(self, out: &mut Vec<Package>) {
        let (Some(name), Some(version)) = (self.name, self.version) else {
            return;
        };
        out.push(Package {
            source: self.origin.filter(|o| *o != name),
            name,
            version,
            arch: self.arch,
            source_version: None,
            installed_size: self.size,
            license: self.license,
            epoch: None,
            supplier: self.maintainer,
            db: DbKind::Apk,
        });
    }
}

/// Parses an installed database.
pub fn parse(text: &str) -> Vec<Package> {
    let mut out = Vec::new();
    let mut rec = Record::default();
    let mut any = false;
    for line in text.lines() {
        if line.is_empty() {
            if any {
                std::mem::take(&mut rec).finish(&mut out);
                any = false;
            }
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        any = true;
        let v = v.to_string();
        match k {
            "P" => rec.name = Some(v),
            "V" => rec.version = Some(v),
            "A" => rec.arch = Some(v),
            "o" => rec.origin = Some(v),
            "I" => rec.size = v.parse().ok(),
            "L" => rec.license = Some(v),
            "m" => rec.maintainer = Some(v),
            _ => {}
        }
    }
    if any {
        rec.finish(&mut out);
    }
    out
}

/// Reads the apk database of the image into `out`.
pub fn catalog(fs: &MergedFs, out: &mut Packages) {
    for path in [INSTALLED, "/usr/lib/apk/db/installed"] {
        let Some(meta) = fs.resolve(path) else {
            continue;
        };
        let real = meta.path.clone();
        if out.databases.iter().any(|d| d.path == real) {
            continue;
        }
        let (read, packages, note) = match fs.read(path) {
            Some(b) => (true, parse(&String::from_utf8_lossy(b)), None),
            None => (
                false,
                Vec::new(),
                Some("content not kept (too large)".into()),
            ),
        };
        out.add(
            PackageDb {
                kind: DbKind::Apk,
                path: real,
                read,
                packages: 0,
                note,
            },
            packages,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_db() {
        let db = "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nS:383152\nI:622592\nT:the musl c library\nU:https://musl.libc.org/\nL:MIT\no:musl\nm:Timo Teräs <timo.teras@iki.fi>\nt:1695385187\nc:abc\nF:lib\nR:ld-musl-x86_64.so.1\n\nP:busybox-binsh\nV:1.36.1-r5\nA:x86_64\nI:1\nL:GPL-2.0-only\no:busybox\n\n";
        let p = parse(db);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "musl");
        assert_eq!(p[0].version, "1.2.4-r2");
        assert_eq!(p[0].installed_size, Some(622592));
        assert_eq!(p[0].license.as_deref(), Some("MIT"));
        assert_eq!(p[0].source, None);
        assert_eq!(p[1].source.as_deref(), Some("busybox"));
    }
}
