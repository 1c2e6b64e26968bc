//! What changed from one image to another: packages (ordered by their package manager's
//! version rules, so a downgrade is called one), config, sizes per layer and per top-level
//! directory, and optionally every file.
//!
//! [`diff`] builds an [`ImageDiff`] from the two images' inspect [`Report`]s and, for the file
//! list, their [`MergedFs`] views. The leading layers both images share are named once and
//! never compared path by path: a path both images took from a shared layer is the same
//! entry. Its JSON form is the documented `plinth diff --json` schema (`docs/diff-json.md`).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use plinth_fs::{FileMeta, Kind, MergedFs};
use serde::Serialize;

use crate::catalog::{DbKind, Package};
use crate::compare::{Column, shared_prefix};
use crate::report::{ConfigSection, Report};

/// The version of the JSON schema; raised on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything that differs between two images.
#[derive(Clone, Debug, Serialize)]
pub struct ImageDiff {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The old image.
    pub a: Column,
    /// The new image.
    pub b: Column,
    /// Leading layers both have (same diff_ids, same order).
    pub shared_layers: usize,
    /// Sizes, per layer and per top-level directory.
    pub size: SizeDiff,
    /// Packages added, removed or changed, by name.
    pub packages: Vec<PackageChange>,
    /// Config fields that differ.
    pub config: Vec<ConfigChange>,
    /// Paths that differ (`None` unless asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<FilesDiff>,
    /// Whether anything above differs.
    pub differs: bool,
}

/// Sizes of both images.
#[derive(Clone, Debug, Serialize)]
pub struct SizeDiff {
    /// Compressed size of A and of B.
    pub compressed: [u64; 2],
    /// Uncompressed size of A and of B.
    pub uncompressed: [u64; 2],
    /// The shared layers, named once.
    pub shared: Vec<LayerRow>,
    /// A's own layers (after the shared ones).
    pub a_layers: Vec<LayerRow>,
    /// B's own layers.
    pub b_layers: Vec<LayerRow>,
    /// Bytes of regular files per top-level directory (`/usr`), in A and in B; only
    /// directories whose sizes differ, largest change first.
    pub dirs: Vec<DirSize>,
}

/// One layer, with the history line that made it.
#[derive(Clone, Debug, Serialize)]
pub struct LayerRow {
    /// Position in its image (0 = base).
    pub index: usize,
    /// The uncompressed tar's digest.
    pub diff_id: Option<String>,
    /// Blob size.
    pub compressed_size: u64,
    /// Tar size.
    pub uncompressed_size: u64,
    /// `created_by` of its history entry.
    pub created_by: Option<String>,
}

/// Bytes under one top-level directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DirSize {
    /// `/usr`, `/etc`; `/` for files at the root.
    pub dir: String,
    /// Bytes in A.
    pub a: u64,
    /// Bytes in B.
    pub b: u64,
}

/// How a package changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageChangeKind {
    /// Only in B.
    Added,
    /// Only in A.
    Removed,
    /// B's version is newer.
    Upgraded,
    /// B's version is older.
    Downgraded,
    /// The versions differ but do not order (one is not valid for its package manager), or
    /// order equal while spelled differently.
    Changed,
}

/// A package that differs.
#[derive(Clone, Debug, Serialize)]
pub struct PackageChange {
    /// The package name.
    pub name: String,
    /// Architecture, when the database records one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// The database it is in (`dpkg`, `apk`, …).
    pub db: DbKind,
    /// What happened.
    pub change: PackageChangeKind,
    /// A's version.
    pub old: Option<String>,
    /// B's version.
    pub new: Option<String>,
}

/// A config field that differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfigChange {
    /// `env`, `entrypoint`, `cmd`, `user`, `working_dir`, `labels`, `exposed_ports`,
    /// `volumes`, `stop_signal`, `shell`.
    pub field: &'static str,
    /// The key within the field (`PATH` for `env`, a label name, a port).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// A's value (`None`: unset).
    pub old: Option<String>,
    /// B's value.
    pub new: Option<String>,
}

/// Paths that differ.
#[derive(Clone, Debug, Serialize)]
pub struct FilesDiff {
    /// Only paths below this prefix were compared (`/` = all).
    pub prefix: String,
    /// Paths only in B.
    pub added: usize,
    /// Paths only in A.
    pub removed: usize,
    /// Paths in both that differ.
    pub changed: usize,
    /// The paths, sorted.
    pub changes: Vec<FileChange>,
}

/// How a path differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileChangeKind {
    /// Only in B.
    Added,
    /// Only in A.
    Removed,
    /// In both, different.
    Changed,
}

/// One path that differs.
#[derive(Clone, Debug, Serialize)]
pub struct FileChange {
    /// The path.
    pub path: String,
    /// What happened.
    pub change: FileChangeKind,
    /// For `changed`: which properties differ (`kind`, `mode`, `owner`, `size`, `link`,
    /// `content`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub what: Vec<&'static str>,
    /// The entry in A.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub a: Option<FileState>,
    /// The entry in B.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b: Option<FileState>,
}

/// A path's entry on one side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileState {
    /// `file`, `dir`, `symlink`, …
    pub kind: Kind,
    /// `-rwxr-xr-x`.
    pub mode: String,
    /// Owner uid.
    pub uid: u64,
    /// Owner gid.
    pub gid: u64,
    /// Size in bytes (regular files).
    pub size: u64,
    /// Symlink or hard link target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// `sha256:…` of the content, when it was hashed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The layer that wrote it.
    pub layer: usize,
}

/// The two filesystems, for [`diff`]'s file list.
pub struct FsPair<'a> {
    /// A's filesystem (with content digests for the layers that are not shared).
    pub a: &'a MergedFs,
    /// B's filesystem.
    pub b: &'a MergedFs,
    /// Compare only paths at or below this prefix.
    pub prefix: &'a str,
}

/// The differences between `a` and `b`; with `files`, path by path too.
pub fn diff(a: &Report, b: &Report, files: Option<FsPair<'_>>) -> ImageDiff {
    let shared = shared_prefix(a, b);
    let size = size_diff(a, b, shared, files.as_ref());
    let packages = package_changes(&a.packages.list, &b.packages.list);
    let config = config_changes(&a.config, &b.config);
    let files = files.map(|f| files_diff(&f, shared));
    let differs = a.image.manifest_digest != b.image.manifest_digest
        && (!packages.is_empty()
            || !config.is_empty()
            || files.as_ref().is_some_and(|f| !f.changes.is_empty())
            || size.a_layers.len() + size.b_layers.len() > 0);
    ImageDiff {
        schema_version: SCHEMA_VERSION,
        a: column(a),
        b: column(b),
        shared_layers: shared,
        size,
        packages,
        config,
        files,
        differs,
    }
}

fn column(r: &Report) -> Column {
    Column {
        reference: r.image.reference.clone(),
        manifest_digest: r.image.manifest_digest.to_string(),
        platform: r.image.platform.clone(),
    }
}

fn layer_rows(r: &Report, range: std::ops::Range<usize>) -> Vec<LayerRow> {
    r.image.layers[range]
        .iter()
        .map(|l| LayerRow {
            index: l.index,
            diff_id: l.diff_id.as_ref().map(|d| d.to_string()),
            compressed_size: l.compressed_size,
            uncompressed_size: l.uncompressed_size,
            created_by: l.created_by.clone(),
        })
        .collect()
}

/// The top-level directory of a path (`/usr/bin/x` → `/usr`; `/x` → `/`).
fn top_dir(path: &str) -> &str {
    match path[1..].find('/') {
        Some(i) => &path[..i + 1],
        None => "/",
    }
}

/// Bytes of regular files per top-level directory.
pub fn dir_sizes(fs: &MergedFs) -> BTreeMap<String, u64> {
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    for m in fs.iter() {
        if m.kind == Kind::File && m.path != "/" {
            *out.entry(top_dir(&m.path).to_string()).or_default() += m.size;
        }
    }
    out
}

fn size_diff(a: &Report, b: &Report, shared: usize, files: Option<&FsPair<'_>>) -> SizeDiff {
    let mut dirs = Vec::new();
    if let Some(f) = files {
        let (da, db) = (dir_sizes(f.a), dir_sizes(f.b));
        let keys: BTreeSet<&String> = da.keys().chain(db.keys()).collect();
        for k in keys {
            let (x, y) = (
                da.get(k).copied().unwrap_or(0),
                db.get(k).copied().unwrap_or(0),
            );
            if x != y {
                dirs.push(DirSize {
                    dir: k.clone(),
                    a: x,
                    b: y,
                });
            }
        }
        dirs.sort_by_key(|d| std::cmp::Reverse(d.a.abs_diff(d.b)));
    }
    SizeDiff {
        compressed: [a.image.compressed_size, b.image.compressed_size],
        uncompressed: [a.image.uncompressed_size, b.image.uncompressed_size],
        shared: layer_rows(a, 0..shared),
        a_layers: layer_rows(a, shared..a.image.layers.len()),
        b_layers: layer_rows(b, shared..b.image.layers.len()),
        dirs,
    }
}

type PkgKey<'a> = (DbKind, &'a str, Option<&'a str>);

fn by_key(list: &[Package]) -> BTreeMap<PkgKey<'_>, &Package> {
    list.iter()
        .map(|p| ((p.db, p.name.as_str(), p.arch.as_deref()), p))
        .collect()
}

/// Packages added, removed, upgraded and downgraded from `a` to `b`, sorted by name. Versions
/// are ordered by their package manager's rules (dpkg, apk, rpm, epochs included).
pub fn package_changes(a: &[Package], b: &[Package]) -> Vec<PackageChange> {
    let (ma, mb) = (by_key(a), by_key(b));
    let keys: BTreeSet<&PkgKey<'_>> = ma.keys().chain(mb.keys()).collect();
    let mut out = Vec::new();
    for k in keys {
        let (old, new) = (ma.get(k), mb.get(k));
        let change = match (old, new) {
            (Some(_), None) => PackageChangeKind::Removed,
            (None, Some(_)) => PackageChangeKind::Added,
            (Some(o), Some(n)) if o.version == n.version => continue,
            (Some(o), Some(n)) => match k.0.ecosystem().compare(&o.version, &n.version) {
                Ok(Ordering::Less) => PackageChangeKind::Upgraded,
                Ok(Ordering::Greater) => PackageChangeKind::Downgraded,
                _ => PackageChangeKind::Changed,
            },
            (None, None) => continue,
        };
        out.push(PackageChange {
            name: k.1.to_string(),
            arch: k.2.map(str::to_string),
            db: k.0,
            change,
            old: old.map(|p| p.version.clone()),
            new: new.map(|p| p.version.clone()),
        });
    }
    out.sort_by(|x, y| x.name.cmp(&y.name).then(x.arch.cmp(&y.arch)));
    out
}

fn argv(v: &Option<Vec<String>>) -> Option<String> {
    v.as_ref()
        .map(|v| serde_json::to_string(v).unwrap_or_default())
}

fn keyed_changes(
    out: &mut Vec<ConfigChange>,
    field: &'static str,
    a: &BTreeMap<String, String>,
    b: &BTreeMap<String, String>,
) {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let (x, y) = (a.get(k), b.get(k));
        if x != y {
            out.push(ConfigChange {
                field,
                key: Some(k.clone()),
                old: x.cloned(),
                new: y.cloned(),
            });
        }
    }
}

fn env_map(env: &[String]) -> BTreeMap<String, String> {
    env.iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (e.clone(), String::new()),
        })
        .collect()
}

fn set_map(v: &[String]) -> BTreeMap<String, String> {
    v.iter().map(|k| (k.clone(), String::new())).collect()
}

/// Config fields that differ from `a` to `b`: env and labels key by key, exposed ports and
/// volumes as sets, the rest as values.
pub fn config_changes(a: &ConfigSection, b: &ConfigSection) -> Vec<ConfigChange> {
    let mut out = Vec::new();
    let mut single = |field: &'static str, x: Option<String>, y: Option<String>| {
        if x != y {
            out.push(ConfigChange {
                field,
                key: None,
                old: x,
                new: y,
            });
        }
    };
    single("user", a.user.clone(), b.user.clone());
    single("entrypoint", argv(&a.entrypoint), argv(&b.entrypoint));
    single("cmd", argv(&a.cmd), argv(&b.cmd));
    single("working_dir", a.working_dir.clone(), b.working_dir.clone());
    single("stop_signal", a.stop_signal.clone(), b.stop_signal.clone());
    single("shell", argv(&a.shell), argv(&b.shell));
    keyed_changes(&mut out, "env", &env_map(&a.env), &env_map(&b.env));
    keyed_changes(&mut out, "labels", &a.labels, &b.labels);
    let ports = |v: &[String]| set_map(v);
    keyed_changes(
        &mut out,
        "exposed_ports",
        &ports(&a.exposed_ports),
        &ports(&b.exposed_ports),
    );
    keyed_changes(
        &mut out,
        "volumes",
        &set_map(&a.volumes),
        &set_map(&b.volumes),
    );
    // A set member is there or not: say so instead of an empty value.
    for c in &mut out {
        if matches!(c.field, "exposed_ports" | "volumes") {
            c.old = c.old.as_ref().map(|_| "present".into());
            c.new = c.new.as_ref().map(|_| "present".into());
        }
    }
    out
}

fn under(path: &str, prefix: &str) -> bool {
    prefix == "/"
        || path == prefix
        || (path.starts_with(prefix) && path.as_bytes().get(prefix.len()) == Some(&b'/'))
}

fn state(fs: &MergedFs, m: &FileMeta) -> FileState {
    FileState {
        kind: m.kind,
        mode: m.mode_string(),
        uid: m.uid,
        gid: m.gid,
        size: m.size,
        link: m.link.clone(),
        sha256: fs.content_digest(&m.path).map(|d| d.to_string()),
        layer: m.layer,
    }
}

/// Paths of `a` and `b` that need their content compared but lack a digest on one side
/// because a shared layer wrote them there (same kind and size, so only a hash can tell).
/// Returns the layers to hash, by index (shared layers, so the same in both images).
pub fn unhashed_shared(f: &FsPair<'_>, shared: usize) -> BTreeSet<usize> {
    let mut out = BTreeSet::new();
    for (x, y) in both(f) {
        if x.layer < shared && y.layer < shared {
            continue;
        }
        let files = matches!(x.kind, Kind::File | Kind::Hardlink)
            && matches!(y.kind, Kind::File | Kind::Hardlink);
        if files && x.size == y.size {
            if f.a.content_digest(&x.path).is_none() && x.layer < shared {
                out.insert(x.layer);
            }
            if f.b.content_digest(&y.path).is_none() && y.layer < shared {
                out.insert(y.layer);
            }
        }
    }
    out
}

/// Pairs of entries at the same path in both (below the prefix).
fn both<'a>(f: &'a FsPair<'a>) -> impl Iterator<Item = (&'a FileMeta, &'a FileMeta)> + 'a {
    f.a.iter()
        .filter(|m| under(&m.path, f.prefix))
        .filter_map(|x| f.b.get(&x.path).map(|y| (x, y)))
}

fn files_diff(f: &FsPair<'_>, shared: usize) -> FilesDiff {
    let prefix = plinth_fs::normalize(f.prefix);
    let mut changes = Vec::new();
    let (mut added, mut removed, mut changed) = (0, 0, 0);
    for x in f.a.iter().filter(|m| under(&m.path, &prefix)) {
        match f.b.get(&x.path) {
            None => {
                removed += 1;
                changes.push(FileChange {
                    path: x.path.clone(),
                    change: FileChangeKind::Removed,
                    what: Vec::new(),
                    a: Some(state(f.a, x)),
                    b: None,
                });
            }
            // Both took it from the same shared layer: the same entry, not compared.
            Some(y) if x.layer < shared && y.layer < shared => {}
            Some(y) => {
                let what = differences(f, x, y);
                if !what.is_empty() {
                    changed += 1;
                    changes.push(FileChange {
                        path: x.path.clone(),
                        change: FileChangeKind::Changed,
                        what,
                        a: Some(state(f.a, x)),
                        b: Some(state(f.b, y)),
                    });
                }
            }
        }
    }
    for y in f.b.iter().filter(|m| under(&m.path, &prefix)) {
        if f.a.get(&y.path).is_none() {
            added += 1;
            changes.push(FileChange {
                path: y.path.clone(),
                change: FileChangeKind::Added,
                what: Vec::new(),
                a: None,
                b: Some(state(f.b, y)),
            });
        }
    }
    changes.sort_by(|p, q| p.path.cmp(&q.path));
    FilesDiff {
        prefix,
        added,
        removed,
        changed,
        changes,
    }
}

fn differences(f: &FsPair<'_>, x: &FileMeta, y: &FileMeta) -> Vec<&'static str> {
    let mut what = Vec::new();
    let file = |k: Kind| matches!(k, Kind::File | Kind::Hardlink);
    if x.kind != y.kind && !(file(x.kind) && file(y.kind)) {
        what.push("kind");
    }
    if x.mode != y.mode {
        what.push("mode");
    }
    if (x.uid, x.gid) != (y.uid, y.gid) {
        what.push("owner");
    }
    if x.size != y.size {
        what.push("size");
    }
    if x.kind == Kind::Symlink && y.kind == Kind::Symlink && x.link != y.link {
        what.push("link");
    }
    if file(x.kind) && file(y.kind) && x.size == y.size {
        let (hx, hy) = (f.a.content_digest(&x.path), f.b.content_digest(&y.path));
        if let (Some(hx), Some(hy)) = (hx, hy)
            && hx != hy
        {
            what.push("content");
        }
    }
    what
}

/// A unified diff (3 lines of context) of one text file, `--- a/PATH` / `+++ b/PATH`; `None`
/// when the contents are equal.
pub fn text_diff(path: &str, a: Option<&[u8]>, b: Option<&[u8]>) -> Option<String> {
    if a == b {
        return None;
    }
    let name = path.trim_start_matches('/');
    // As diff(1): a NUL byte makes a file binary, and binary files are only said to differ.
    let binary = |c: Option<&[u8]>| c.is_some_and(|c| c.contains(&0));
    if binary(a) || binary(b) {
        return Some(format!("Binary files a/{name} and b/{name} differ\n"));
    }
    let (ta, tb) = (
        String::from_utf8_lossy(a.unwrap_or_default()),
        String::from_utf8_lossy(b.unwrap_or_default()),
    );
    let d = similar::TextDiff::from_lines(ta.as_ref(), tb.as_ref());
    let (old, new) = (
        if a.is_some() {
            format!("a/{name}")
        } else {
            "/dev/null".into()
        },
        if b.is_some() {
            format!("b/{name}")
        } else {
            "/dev/null".into()
        },
    );
    Some(
        d.unified_diff()
            .context_radius(3)
            .header(&old, &new)
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, version: &str, db: DbKind) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            arch: Some("amd64".into()),
            source: None,
            source_version: None,
            installed_size: None,
            license: None,
            epoch: None,
            supplier: None,
            db,
        }
    }

    #[test]
    fn versions_order_by_the_package_manager_so_downgrades_are_called_so() {
        let a = [
            pkg("libc6", "2.36-9+deb12u4", DbKind::Dpkg),
            pkg("tzdata", "2024a-0+deb12u1", DbKind::Dpkg),
            pkg("epoch", "1:1.0-1", DbKind::Dpkg),
            pkg("gone", "1", DbKind::Dpkg),
            pkg("musl", "1.2.4-r2", DbKind::Apk),
        ];
        let b = [
            pkg("libc6", "2.36-9+deb12u10", DbKind::Dpkg),
            pkg("tzdata", "2023c-5", DbKind::Dpkg),
            pkg("epoch", "2.0-1", DbKind::Dpkg),
            pkg("new", "1", DbKind::Dpkg),
            pkg("musl", "1.2.4_git20230717-r4", DbKind::Apk),
        ];
        let got: Vec<(String, PackageChangeKind)> = package_changes(&a, &b)
            .into_iter()
            .map(|c| (c.name, c.change))
            .collect();
        use PackageChangeKind::*;
        assert_eq!(
            got,
            vec![
                ("epoch".into(), Downgraded), // 1:1.0 > 2.0: the epoch wins
                ("gone".into(), Removed),
                ("libc6".into(), Upgraded), // u10 > u4 numerically, not as text
                ("musl".into(), Upgraded),
                ("new".into(), Added),
                ("tzdata".into(), Downgraded),
            ]
        );
    }

    #[test]
    fn a_text_diff_is_unified_with_headers() {
        let d = text_diff("/etc/x", Some(b"a\nb\nc\n"), Some(b"a\nB\nc\n")).unwrap();
        assert!(
            d.starts_with("--- a/etc/x\n+++ b/etc/x\n@@ -1,3 +1,3 @@\n"),
            "{d}"
        );
        assert!(d.contains("-b\n+B\n"));
        assert_eq!(text_diff("/etc/x", Some(b"same"), Some(b"same")), None);
        let added = text_diff("/etc/y", None, Some(b"new\n")).unwrap();
        assert!(added.starts_with("--- /dev/null\n+++ b/etc/y\n"));
        assert_eq!(
            text_diff("/bin/x", Some(b"\x7fELF\0a"), Some(b"\x7fELF\0b")).unwrap(),
            "Binary files a/bin/x and b/bin/x differ\n"
        );
    }

    #[test]
    fn top_dirs() {
        assert_eq!(top_dir("/usr/bin/x"), "/usr");
        assert_eq!(top_dir("/x"), "/");
    }
}
