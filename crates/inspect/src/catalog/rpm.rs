//! rpm: the SQLite database (`rpmdb.sqlite`, rpm ≥ 4.16), its header blobs, and the older
//! formats that are found and named but not read.
//!
//! An `rpmdb.sqlite` holds a table `Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob
//! BLOB NOT NULL)`; each blob is an rpm header as `headerExport` writes it (the on-disk header
//! of the rpm file format without its 8-byte magic): a big-endian `u32` index entry count
//! `il`, a `u32` data length `dl`, `il` index entries of 16 bytes (`tag`, `type`, `offset`,
//! `count`, all big-endian), then `dl` bytes of data that the offsets point into.
//!
//! Berkeley DB `Packages` (rpm < 4.16: RHEL/CentOS ≤ 8, Amazon Linux 2) and NDB
//! `Packages.db` (SUSE) are reported as found and not read.

use plinth_fs::{ContentRequest, MergedFs};

use crate::catalog::package::{DbKind, Package, PackageDb, Packages};

/// Where rpm keeps its database (Fedora ≥ 36 and openSUSE moved it to `/usr/lib/sysimage`).
pub const DIRS: [&str; 2] = ["/var/lib/rpm", "/usr/lib/sysimage/rpm"];

/// What the rpm cataloger reads.
pub fn request() -> ContentRequest {
    let mut r = ContentRequest::new();
    for d in DIRS {
        r = r
            .path(&format!("{d}/rpmdb.sqlite"))
            .path(&format!("{d}/rpmdb.sqlite-wal"));
    }
    r.max_size(256 << 20)
}

// Tags and types of rpm's header format (rpmtag.h).
const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_SIZE: u32 = 1009;
const TAG_VENDOR: u32 = 1011;
const TAG_LICENSE: u32 = 1014;
const TAG_PACKAGER: u32 = 1015;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;
const TAG_LONGSIZE: u32 = 5009;

const TYPE_INT32: u32 = 4;
const TYPE_INT64: u32 = 5;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// Why a header blob could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The blob is shorter than its counts say.
    #[error("truncated rpm header ({0})")]
    Truncated(&'static str),
    /// An index entry points outside the data area.
    #[error("rpm header entry for tag {0} points outside the data")]
    BadOffset(u32),
}

/// A parsed rpm header: index entries over a data area.
pub struct Header<'a> {
    entries: Vec<(u32, u32, usize, usize)>,
    data: &'a [u8],
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

impl<'a> Header<'a> {
    /// Parses a header blob as stored in `rpmdb.sqlite`.
    pub fn parse(blob: &'a [u8]) -> Result<Header<'a>, HeaderError> {
        let il = be32(blob, 0).ok_or(HeaderError::Truncated("index count"))? as usize;
        let dl = be32(blob, 4).ok_or(HeaderError::Truncated("data length"))? as usize;
        let index_end = il
            .checked_mul(16)
            .and_then(|n| n.checked_add(8))
            .ok_or(HeaderError::Truncated("index"))?;
        let data_end = index_end
            .checked_add(dl)
            .ok_or(HeaderError::Truncated("data"))?;
        if blob.len() < data_end {
            return Err(HeaderError::Truncated("data"));
        }
        let data = &blob[index_end..data_end];
        let mut entries = Vec::with_capacity(il);
        for i in 0..il {
            let at = 8 + i * 16;
            let tag = be32(blob, at).unwrap_or(0);
            let ty = be32(blob, at + 4).unwrap_or(0);
            let offset = be32(blob, at + 8).unwrap_or(0) as i32;
            let count = be32(blob, at + 12).unwrap_or(0) as usize;
            if offset < 0 || offset as usize > data.len() {
                // Region tags (63 and friends) have negative trailer offsets; skip them.
                if (61..=64).contains(&tag) {
                    continue;
                }
                return Err(HeaderError::BadOffset(tag));
            }
            entries.push((tag, ty, offset as usize, count));
        }
        Ok(Header { entries, data })
    }

    fn entry(&self, tag: u32) -> Option<(u32, usize, usize)> {
        self.entries
            .iter()
            .find(|e| e.0 == tag)
            .map(|&(_, ty, off, count)| (ty, off, count))
    }

    /// A string tag (the first string of an array or i18n string).
    pub fn string(&self, tag: u32) -> Option<String> {
        let (ty, off, _) = self.entry(tag)?;
        if !matches!(ty, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING) {
            return None;
        }
        let rest = self.data.get(off..)?;
        let end = rest.iter().position(|b| *b == 0)?;
        Some(String::from_utf8_lossy(&rest[..end]).into_owned())
    }

    /// A numeric tag (the first value of an `INT32` or `INT64` array).
    pub fn number(&self, tag: u32) -> Option<u64> {
        let (ty, off, count) = self.entry(tag)?;
        if count == 0 {
            return None;
        }
        match ty {
            TYPE_INT32 => be32(self.data, off).map(u64::from),
            TYPE_INT64 => self
                .data
                .get(off..off + 8)
                .map(|s| u64::from_be_bytes(s.try_into().expect("8 bytes"))),
            _ => None,
        }
    }

    /// The package this header describes; `None` for headers without a name or version and
    /// for `gpg-pubkey` pseudo-packages (imported signing keys).
    pub fn package(&self) -> Option<Package> {
        let name = self.string(TAG_NAME)?;
        if name == "gpg-pubkey" {
            return None;
        }
        let version = self.string(TAG_VERSION)?;
        let release = self.string(TAG_RELEASE);
        let epoch = self.number(TAG_EPOCH).map(|e| e as u32);
        let mut evr = String::new();
        if let Some(e) = epoch {
            evr.push_str(&format!("{e}:"));
        }
        evr.push_str(&version);
        if let Some(r) = &release {
            evr.push('-');
            evr.push_str(r);
        }
        let (source, source_version) = match self.string(TAG_SOURCERPM) {
            Some(s) => split_source_rpm(&s),
            None => (None, None),
        };
        let vr = match &release {
            Some(r) => format!("{version}-{r}"),
            None => version.clone(),
        };
        Some(Package {
            source: source.filter(|s| *s != name),
            source_version: source_version.filter(|v| *v != vr),
            name,
            version: evr,
            arch: self.string(TAG_ARCH),
            installed_size: self.number(TAG_LONGSIZE).or_else(|| self.number(TAG_SIZE)),
            license: self.string(TAG_LICENSE),
            epoch,
            supplier: self
                .string(TAG_VENDOR)
                .or_else(|| self.string(TAG_PACKAGER)),
            db: DbKind::RpmSqlite,
        })
    }
}

/// `bash-5.1.8-6.el9.src.rpm` → (`bash`, `5.1.8-6.el9`).
fn split_source_rpm(s: &str) -> (Option<String>, Option<String>) {
    let base = s
        .strip_suffix(".src.rpm")
        .or_else(|| s.strip_suffix(".nosrc.rpm"))
        .unwrap_or(s);
    let mut it = base.rsplitn(3, '-');
    match (it.next(), it.next(), it.next()) {
        (Some(rel), Some(ver), Some(name)) => {
            (Some(name.to_string()), Some(format!("{ver}-{rel}")))
        }
        _ => (Some(base.to_string()), None),
    }
}

/// Why an `rpmdb.sqlite` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RpmDbError {
    /// SQLite refused the file.
    #[cfg(feature = "rpm-sqlite")]
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Writing the temporary copy failed.
    #[error("temporary copy: {0}")]
    Io(#[from] std::io::Error),
    /// plinth was built without the `rpm-sqlite` feature.
    #[error("plinth was built without SQLite support (feature rpm-sqlite)")]
    NoSqlite,
}

/// Reads every package header of an `rpmdb.sqlite` file image (and its write-ahead log, if
/// the image has a non-empty one). Headers that do not parse are counted, not fatal.
#[cfg(feature = "rpm-sqlite")]
pub fn read_sqlite(db: &[u8], wal: Option<&[u8]>) -> Result<(Vec<Package>, usize), RpmDbError> {
    use rusqlite::{Connection, OpenFlags};
    // SQLite reads files, so the bytes go to a private temporary directory first.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("rpmdb.sqlite");
    std::fs::write(&path, db)?;
    let conn = match wal.filter(|w| !w.is_empty()) {
        Some(w) => {
            std::fs::write(dir.path().join("rpmdb.sqlite-wal"), w)?;
            Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE)?
        }
        None => {
            let uri = format!("file:{}?immutable=1", path.display());
            Connection::open_with_flags(
                uri,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
            )?
        }
    };
    let mut stmt = conn.prepare("SELECT blob FROM Packages ORDER BY hnum")?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    let mut bad = 0;
    while let Some(row) = rows.next()? {
        let blob: Vec<u8> = row.get(0)?;
        match Header::parse(&blob) {
            Ok(h) => out.extend(h.package()),
            Err(_) => bad += 1,
        }
    }
    Ok((out, bad))
}

/// Without the `rpm-sqlite` feature, SQLite databases are found and not read.
#[cfg(not(feature = "rpm-sqlite"))]
pub fn read_sqlite(_db: &[u8], _wal: Option<&[u8]>) -> Result<(Vec<Package>, usize), RpmDbError> {
    Err(RpmDbError::NoSqlite)
}

/// Reads (or names) the rpm databases of the image into `out`.
pub fn catalog(fs: &MergedFs, out: &mut Packages) {
    let mut seen: Vec<String> = Vec::new();
    for dir in DIRS {
        // /var/lib/rpm is often a symlink to /usr/lib/sysimage/rpm: read each database once.
        let Some(real_dir) = fs.resolve(dir).map(|m| m.path.clone()) else {
            continue;
        };
        if seen.contains(&real_dir) {
            continue;
        }
        seen.push(real_dir.clone());
        let sqlite = format!("{real_dir}/rpmdb.sqlite");
        if fs.resolve(&sqlite).is_some() {
            let (read, packages, note) = match fs.read(&sqlite) {
                Some(bytes) => {
                    let wal = fs.read(&format!("{real_dir}/rpmdb.sqlite-wal"));
                    match read_sqlite(bytes, wal) {
                        Ok((p, 0)) => (true, p, None),
                        Ok((p, bad)) => (true, p, Some(format!("{bad} headers not readable"))),
                        Err(e) => (false, Vec::new(), Some(format!("not read: {e}"))),
                    }
                }
                None => (
                    false,
                    Vec::new(),
                    Some("content not kept (larger than 256 MiB)".into()),
                ),
            };
            out.add(
                PackageDb {
                    kind: DbKind::RpmSqlite,
                    path: sqlite,
                    read,
                    packages: 0,
                    note,
                },
                packages,
            );
        }
        let bdb = format!("{real_dir}/Packages");
        if fs.resolve(&bdb).is_some() {
            out.add(
                PackageDb {
                    kind: DbKind::RpmBdb,
                    path: bdb,
                    read: false,
                    packages: 0,
                    note: Some(
                        "Berkeley DB rpm database (rpm < 4.16): plinth does not read this \
                         format; packages are not listed"
                            .into(),
                    ),
                },
                Vec::new(),
            );
        }
        let ndb = format!("{real_dir}/Packages.db");
        if fs.resolve(&ndb).is_some() {
            out.add(
                PackageDb {
                    kind: DbKind::RpmNdb,
                    path: ndb,
                    read: false,
                    packages: 0,
                    note: Some(
                        "NDB rpm database (SUSE): plinth does not read this format; packages \
                         are not listed"
                            .into(),
                    ),
                },
                Vec::new(),
            );
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a header blob from (tag, type, value bytes, count).
    pub(crate) fn blob(entries: &[(u32, u32, Vec<u8>, u32)]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, ty, bytes, count) in entries {
            if *ty == TYPE_INT32 {
                while data.len() % 4 != 0 {
                    data.push(0);
                }
            }
            index.extend_from_slice(&tag.to_be_bytes());
            index.extend_from_slice(&ty.to_be_bytes());
            index.extend_from_slice(&(data.len() as u32).to_be_bytes());
            index.extend_from_slice(&count.to_be_bytes());
            data.extend_from_slice(bytes);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend(index);
        out.extend(data);
        out
    }

    fn s(v: &str) -> Vec<u8> {
        let mut b = v.as_bytes().to_vec();
        b.push(0);
        b
    }

    #[test]
    fn header_blob() {
        let b = blob(&[
            (TAG_NAME, TYPE_STRING, s("bash"), 1),
            (TAG_VERSION, TYPE_STRING, s("5.1.8"), 1),
            (TAG_RELEASE, TYPE_STRING, s("6.el9"), 1),
            (TAG_EPOCH, TYPE_INT32, 1u32.to_be_bytes().to_vec(), 1),
            (TAG_SIZE, TYPE_INT32, 7_000_000u32.to_be_bytes().to_vec(), 1),
            (TAG_ARCH, TYPE_STRING, s("x86_64"), 1),
            (TAG_LICENSE, TYPE_STRING, s("GPLv3+"), 1),
            (TAG_SOURCERPM, TYPE_STRING, s("bash-5.1.8-6.el9.src.rpm"), 1),
        ]);
        let p = Header::parse(&b).unwrap().package().unwrap();
        assert_eq!(p.name, "bash");
        assert_eq!(p.version, "1:5.1.8-6.el9");
        assert_eq!(p.version_without_epoch(), "5.1.8-6.el9");
        assert_eq!(p.epoch, Some(1));
        assert_eq!(p.installed_size, Some(7_000_000));
        assert_eq!(p.source, None);
        assert_eq!(p.arch.as_deref(), Some("x86_64"));
        assert!(Header::parse(&b[..b.len() - 3]).is_err());
        assert!(Header::parse(&[0, 0]).is_err());
        assert_eq!(
            split_source_rpm("glibc-2.34-60.el9.src.rpm"),
            (Some("glibc".into()), Some("2.34-60.el9".into()))
        );
    }

    #[test]
    fn hostile_offsets() {
        let mut b = blob(&[(TAG_NAME, TYPE_STRING, s("x"), 1)]);
        b[16..20].copy_from_slice(&1000u32.to_be_bytes());
        assert!(Header::parse(&b).is_err());
        let huge = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(Header::parse(&huge).is_err());
    }
}
