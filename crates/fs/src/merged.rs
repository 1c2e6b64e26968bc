//! The merged filesystem view: every path of an image after all layers are applied.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use plinth_oci::Digest;
use serde::{Deserialize, Serialize};

use crate::meta::{FileMeta, Kind, join, normalize, parent};

/// How many symlinks one lookup may follow (Linux's `MAXSYMLINKS`).
const MAX_LINKS: usize = 40;

/// What one layer did to the filesystem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LayerSummary {
    /// Position in the manifest (0 = base layer).
    pub index: usize,
    /// The layer blob's (compressed) digest.
    pub digest: Digest,
    /// The digest of the uncompressed tar, verified against the config's `rootfs.diff_ids`.
    pub diff_id: Option<Digest>,
    /// The layer's media type.
    pub media_type: String,
    /// Size of the blob as stored (compressed).
    pub compressed_size: u64,
    /// Size of the uncompressed tar stream.
    pub uncompressed_size: u64,
    /// Paths this layer created.
    pub added: u64,
    /// Paths this layer replaced (directories re-listed with identical metadata not counted).
    pub changed: u64,
    /// Paths this layer removed from lower layers (whiteouts and opaque directories, each
    /// removed descendant counted).
    pub removed: u64,
    /// Tar entries in the layer (whiteout markers included).
    pub entries: u64,
}

/// Where a regular file's bytes are: the layer and the position of the tar entry that holds
/// them (hard links share their target's origin).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct Origin {
    pub layer: u32,
    pub ordinal: u32,
}

/// Metadata a tar entry carries beyond [`FileMeta`], kept for a faithful export.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Extra {
    /// Device major and minor numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<(u32, u32)>,
    /// Extended attributes (`SCHILY.xattr.NAME` PAX records).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub xattrs: Vec<(String, Vec<u8>)>,
}

impl Extra {
    pub fn is_empty(&self) -> bool {
        self.dev.is_none() && self.xattrs.is_empty()
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub meta: FileMeta,
    pub content: Option<Arc<[u8]>>,
    pub origin: Option<Origin>,
    pub extra: Option<Arc<Extra>>,
}

/// An image's filesystem after every layer is applied: metadata for every path, and content
/// for the files a [`crate::ContentRequest`] asked for.
#[derive(Clone, Debug, Default)]
pub struct MergedFs {
    pub(crate) nodes: BTreeMap<String, Node>,
    pub(crate) layers: Vec<LayerSummary>,
    /// SHA-256 of file contents, for the layers the request hashed.
    pub(crate) hashes: std::collections::HashMap<Origin, Digest>,
}

fn dir_node(path: String, layer: usize) -> Node {
    Node {
        meta: FileMeta {
            path,
            kind: Kind::Dir,
            mode: 0o755,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 0,
            link: None,
            layer,
        },
        content: None,
        origin: None,
        extra: None,
    }
}

/// The end of the key range of `dir`'s descendants (`/a/b/` ..< `/a/b0`).
fn subtree_bounds(dir: &str) -> (String, String) {
    if dir == "/" {
        ("/".to_string(), "0".to_string())
    } else {
        (format!("{dir}/"), format!("{dir}0"))
    }
}

impl MergedFs {
    /// A view built from entries directly (for tests of catalogers). Missing parent
    /// directories are added (mode 0755, root-owned); a hard link without content shares the
    /// content of the file it links to.
    pub fn from_entries(entries: Vec<(FileMeta, Option<Vec<u8>>)>) -> MergedFs {
        let mut fs = MergedFs::default();
        for (mut meta, content) in entries {
            meta.path = normalize(&meta.path);
            if meta.kind == Kind::Hardlink {
                meta.link = meta.link.as_deref().map(normalize);
            }
            let layer = meta.layer;
            fs.ensure_parents(&meta.path, layer);
            let path = meta.path.clone();
            fs.nodes.insert(
                path,
                Node {
                    meta,
                    content: content.map(Arc::from),
                    origin: None,
                    extra: None,
                },
            );
        }
        let links: Vec<(String, String)> = fs
            .nodes
            .values()
            .filter(|n| n.meta.kind == Kind::Hardlink && n.content.is_none())
            .filter_map(|n| Some((n.meta.path.clone(), n.meta.link.clone()?)))
            .collect();
        for (path, target) in links {
            if let Some(c) = fs.nodes.get(&target).and_then(|t| t.content.clone()) {
                fs.nodes.get_mut(&path).expect("present").content = Some(c);
            }
        }
        if !fs.nodes.contains_key("/") {
            fs.nodes.insert("/".into(), dir_node("/".into(), 0));
        }
        fs
    }

    /// Adds missing ancestors of `path` as directories; a non-directory ancestor is replaced
    /// by a directory (as overlayfs shows a directory of an upper layer over a lower file).
    /// Returns how many were added.
    pub(crate) fn ensure_parents(&mut self, path: &str, layer: usize) -> u64 {
        let mut added = 0;
        if path == "/" {
            return 0;
        }
        let mut end = 0;
        let bytes = path.as_bytes();
        loop {
            let next = bytes[end + 1..]
                .iter()
                .position(|&b| b == b'/')
                .map(|p| p + end + 1);
            let Some(next) = next else { break };
            let anc = &path[..next];
            match self.nodes.get(anc) {
                Some(n) if n.meta.kind == Kind::Dir => {}
                Some(_) => {
                    self.nodes
                        .insert(anc.to_string(), dir_node(anc.to_string(), layer));
                }
                None => {
                    self.nodes
                        .insert(anc.to_string(), dir_node(anc.to_string(), layer));
                    added += 1;
                }
            }
            end = next;
        }
        if !self.nodes.contains_key("/") {
            self.nodes.insert("/".into(), dir_node("/".into(), layer));
        }
        added
    }

    /// Removes every descendant of `dir` (not `dir` itself); returns how many.
    pub(crate) fn remove_subtree(&mut self, dir: &str) -> u64 {
        let (lo, hi) = subtree_bounds(dir);
        let keys: Vec<String> = self
            .nodes
            .range::<str, _>((Bound::Included(lo.as_str()), Bound::Excluded(hi.as_str())))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &keys {
            self.nodes.remove(k);
        }
        keys.len() as u64
    }

    /// The entry at `path` itself (a symlink is returned as a symlink; a symlink in a parent
    /// component is not followed).
    pub fn get(&self, path: &str) -> Option<&FileMeta> {
        self.nodes.get(&normalize(path)).map(|n| &n.meta)
    }

    /// The entry `path` leads to, following symlinks in every component, the last one
    /// included. Absolute targets are taken from the image root, `..` never leaves it, and a
    /// lookup that follows more than 40 links (a loop) finds nothing.
    pub fn resolve(&self, path: &str) -> Option<&FileMeta> {
        self.resolve_node(path, true).map(|n| &n.meta)
    }

    pub(crate) fn resolve_node(&self, path: &str, follow_last: bool) -> Option<&Node> {
        let mut pending: Vec<String> = Vec::new();
        push_components(&mut pending, path);
        let mut cur = String::from("/");
        let mut links = 0;
        while let Some(comp) = pending.pop() {
            if comp == ".." {
                cur = parent(&cur).to_string();
                continue;
            }
            let cand = join(&cur, &comp);
            let node = self.nodes.get(&cand)?;
            let last = pending.is_empty();
            if node.meta.kind == Kind::Symlink && (!last || follow_last) {
                links += 1;
                if links > MAX_LINKS {
                    return None;
                }
                let target = node.meta.link.as_deref().unwrap_or("");
                if target.starts_with('/') {
                    cur = "/".to_string();
                }
                push_components(&mut pending, target);
                continue;
            }
            if !last && node.meta.kind != Kind::Dir {
                return None;
            }
            cur = cand;
        }
        self.nodes.get(&cur)
    }

    /// The SHA-256 of the regular file (or hard link) at `path` (symlinks not followed), when
    /// the request hashed the layer its bytes are in ([`crate::ContentRequest::hash_files_of`]).
    pub fn content_digest(&self, path: &str) -> Option<&Digest> {
        let n = self.nodes.get(path)?;
        self.hashes.get(n.origin.as_ref()?)
    }

    /// The kept content of the file `path` leads to (symlinks followed; a hard link gives
    /// the content of the file it links to). `None` for paths that are not files and for
    /// files whose content was not requested.
    pub fn read(&self, path: &str) -> Option<&[u8]> {
        let n = self.resolve_node(path, true)?;
        match n.meta.kind {
            Kind::File | Kind::Hardlink => n.content.as_deref(),
            _ => None,
        }
    }

    /// Every entry, sorted by path (the root `/` first).
    pub fn iter(&self) -> impl Iterator<Item = &FileMeta> {
        self.nodes.values().map(|n| &n.meta)
    }

    /// Number of entries (the root included).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when the view has no entries at all.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The direct children of the directory `path` leads to (symlinks followed), sorted by
    /// name. Empty when it is not a directory.
    pub fn list_dir(&self, path: &str) -> Vec<&FileMeta> {
        let Some(dir) = self.resolve_node(path, true) else {
            return Vec::new();
        };
        if dir.meta.kind != Kind::Dir {
            return Vec::new();
        }
        let prefix = if dir.meta.path == "/" {
            "/".to_string()
        } else {
            format!("{}/", dir.meta.path)
        };
        let mut out = Vec::new();
        let mut from = Bound::Included(prefix.clone());
        while let Some((k, n)) = self
            .nodes
            .range::<String, _>((from.clone(), Bound::Unbounded))
            .next()
        {
            let Some(rest) = k.strip_prefix(&prefix) else {
                break;
            };
            match rest.find('/') {
                // A deeper entry: skip the whole subtree of that child.
                Some(i) => from = Bound::Included(format!("{prefix}{}0", &rest[..i])),
                None => {
                    if !rest.is_empty() {
                        out.push(&n.meta);
                    }
                    from = Bound::Excluded(k.clone());
                }
            }
        }
        out
    }

    /// What each layer did, base first.
    pub fn layers(&self) -> &[LayerSummary] {
        &self.layers
    }

    pub(crate) fn node(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }
}

/// Pushes `path`'s components onto a stack so that the first component pops first.
fn push_components(stack: &mut Vec<String>, path: &str) {
    for c in path.rsplit('/') {
        if !c.is_empty() && c != "." {
            stack.push(c.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn meta(path: &str, kind: Kind, link: Option<&str>) -> FileMeta {
        FileMeta {
            path: path.into(),
            kind,
            mode: if kind == Kind::Dir { 0o755 } else { 0o644 },
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 0,
            link: link.map(str::to_string),
            layer: 0,
        }
    }

    fn sample() -> MergedFs {
        MergedFs::from_entries(vec![
            (
                meta("/usr/lib/os-release", Kind::File, None),
                Some(b"ID=debian\n".to_vec()),
            ),
            (
                meta(
                    "/etc/os-release",
                    Kind::Symlink,
                    Some("../usr/lib/os-release"),
                ),
                None,
            ),
            (meta("/lib", Kind::Symlink, Some("usr/lib")), None),
            (
                meta("/abs", Kind::Symlink, Some("/usr/lib/os-release")),
                None,
            ),
            (
                meta("/up", Kind::Symlink, Some("../../../../usr/lib/os-release")),
                None,
            ),
            (meta("/loop1", Kind::Symlink, Some("loop2")), None),
            (meta("/loop2", Kind::Symlink, Some("/loop1")), None),
            (meta("/self", Kind::Symlink, Some("self/x")), None),
            (
                meta("/hard", Kind::Hardlink, Some("/usr/lib/os-release")),
                None,
            ),
        ])
    }

    #[test]
    fn resolves_symlinks() {
        let fs = sample();
        assert_eq!(fs.get("/etc/os-release").unwrap().kind, Kind::Symlink);
        assert_eq!(
            fs.resolve("/etc/os-release").unwrap().path,
            "/usr/lib/os-release"
        );
        assert_eq!(
            fs.resolve("/lib/os-release").unwrap().path,
            "/usr/lib/os-release"
        );
        assert_eq!(
            fs.resolve("lib/../lib/./os-release").unwrap().path,
            "/usr/lib/os-release"
        );
        assert_eq!(fs.resolve("/abs").unwrap().path, "/usr/lib/os-release");
        assert_eq!(fs.resolve("/up").unwrap().path, "/usr/lib/os-release");
        assert!(fs.get("/lib/os-release").is_none());
        assert_eq!(fs.read("/etc/os-release").unwrap(), b"ID=debian\n");
        assert_eq!(fs.read("/hard").unwrap(), b"ID=debian\n");
        assert!(fs.resolve("/loop1").is_none());
        assert!(fs.resolve("/self").is_none());
        assert!(fs.read("/usr/lib/os-release/x").is_none());
        assert_eq!(fs.resolve("/lib").unwrap().path, "/usr/lib");
    }

    #[test]
    fn lists_directories() {
        let fs = MergedFs::from_entries(vec![
            (meta("/a/b/c", Kind::File, None), None),
            (meta("/a/b-x", Kind::File, None), None),
            (meta("/a/b.y/z", Kind::File, None), None),
            (meta("/a/c", Kind::File, None), None),
            (meta("/ab", Kind::File, None), None),
        ]);
        let names: Vec<&str> = fs.list_dir("/a").iter().map(|m| m.name()).collect();
        assert_eq!(names, ["b", "b-x", "b.y", "c"]);
        let top: Vec<&str> = fs.list_dir("/").iter().map(|m| m.name()).collect();
        assert_eq!(top, ["a", "ab"]);
        assert!(fs.list_dir("/a/c").is_empty());
        let all: Vec<&str> = fs.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(all[0], "/");
        assert_eq!(fs.get("/a/b").unwrap().kind, Kind::Dir);
    }
}
