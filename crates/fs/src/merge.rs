//! Applying one layer's changes to the merged view (OCI image-spec layer semantics).

use std::sync::Arc;

use crate::layer::Change;
use crate::merged::{MergedFs, Node, Origin};
use crate::meta::{FileMeta, Kind};

/// What applying a layer did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub added: u64,
    pub changed: u64,
    pub removed: u64,
}

fn same_dir_meta(a: &FileMeta, b: &FileMeta) -> bool {
    a.kind == b.kind && a.mode == b.mode && a.uid == b.uid && a.gid == b.gid
}

/// Applies `changes` (one layer's tar, in order) on top of `fs`.
///
/// Whiteouts and opaque markers hide only what lower layers wrote, so they are applied first;
/// then entries are applied in tar order (a later entry for the same path wins). A directory
/// over a directory keeps the children; anything else over a directory replaces the subtree.
/// A hard link shares the content and origin of its target as it is at that moment, so it keeps
/// them when a later layer removes or replaces the target.
pub(crate) fn apply(fs: &mut MergedFs, layer: usize, changes: Vec<Change>) -> Counts {
    let mut c = Counts::default();
    for ch in &changes {
        match ch {
            Change::Whiteout { path, .. } => {
                if let Some(n) = fs.nodes.remove(path) {
                    c.removed += 1;
                    if n.meta.kind == Kind::Dir {
                        c.removed += fs.remove_subtree(path);
                    }
                }
            }
            Change::Opaque { path, .. } => {
                if fs.nodes.get(path).is_some_and(|n| n.meta.kind == Kind::Dir) {
                    c.removed += fs.remove_subtree(path);
                }
            }
            Change::Entry(_) => {}
        }
    }
    for ch in changes {
        let Change::Entry(rec) = ch else { continue };
        let mut meta = rec.meta;
        meta.layer = layer;
        let path = meta.path.clone();
        c.added += fs.ensure_parents(&path, layer);
        let (content, origin, size) = match meta.kind {
            Kind::File => (
                rec.content.map(Arc::<[u8]>::from),
                Some(Origin {
                    layer: layer as u32,
                    ordinal: rec.ordinal,
                }),
                meta.size,
            ),
            Kind::Hardlink => {
                let target = meta.link.as_deref().and_then(|t| fs.nodes.get(t));
                match target {
                    Some(t) if matches!(t.meta.kind, Kind::File | Kind::Hardlink) => {
                        (t.content.clone(), t.origin, t.meta.size)
                    }
                    _ => (None, None, 0),
                }
            }
            _ => (None, None, 0),
        };
        meta.size = size;
        match fs.nodes.get(&path) {
            None => c.added += 1,
            Some(old) => {
                let old_dir = old.meta.kind == Kind::Dir;
                if old.meta.layer != layer && !(old_dir && same_dir_meta(&old.meta, &meta)) {
                    c.changed += 1;
                }
                if old_dir && meta.kind != Kind::Dir {
                    c.removed += fs.remove_subtree(&path);
                }
            }
        }
        fs.nodes.insert(
            path,
            Node {
                meta,
                content,
                origin,
                extra: rec.extra.map(Arc::new),
            },
        );
    }
    c
}
