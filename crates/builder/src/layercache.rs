//! A cache of built layers, so that building unchanged inputs again does not compress them again.
//!
//! A layer is keyed by a **fingerprint** of its tree: every entry's path, kind, mode, owner and
//! clamped mtime; for file contents, the sha256 of the bytes (generated files, files extracted
//! from images) or the host file's identity (device, inode, size, mtime and ctime to the
//! nanosecond, as git's index and BuildKit's content-hash cache use); and the compression, its
//! level and the epoch.
//!
//! The fingerprint is only a hint. A hit is used after the tree has been written once more as a
//! plain tar whose sha256 equals the recorded diff_id — no compression, the cheap part — so a
//! file changed behind an unchanged stat is still caught. A miss costs nothing extra: the layer
//! is written as usual and then recorded.
//!
//! Under the content store's directory: the blob in `blobs/sha256/<hex>` (hard-linked from the
//! built file when on the same filesystem, else copied) and `build-layers/<fingerprint>.json`
//! with the descriptor, diff_id, tar size and entry count. `plinth cache prune` removes blobs; an
//! entry whose blob is gone is a miss and is removed on lookup.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use plinth_oci::digest::{Algorithm, Digest, Hasher};
use plinth_oci::manifest::Descriptor;
use plinth_oci::store::Store;
use serde::{Deserialize, Serialize};

use crate::error::{BuildError, Result};
use crate::layer::{Content, Kind, Tree};

/// Bumped when the layer format or the fingerprint changes, so old entries are not used.
const FORMAT: &str = "plinth-layer-cache-v1";

/// The layer cache of a content store.
#[derive(Clone, Debug)]
pub struct LayerCache {
    store: Store,
}

/// A recorded layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CachedLayer {
    /// The blob's descriptor.
    pub descriptor: Descriptor,
    /// The sha256 of the uncompressed tar.
    pub diff_id: Digest,
    /// The uncompressed size.
    pub tar_size: u64,
    /// The number of entries.
    pub entries: usize,
}

/// What is fingerprinted besides the tree.
#[derive(Clone, Copy, Debug)]
pub struct KeyParts<'a> {
    /// The compression's name.
    pub compression: &'a str,
    /// Its level.
    pub level: u32,
    /// The epoch mtimes are clamped to.
    pub epoch: u64,
}

impl LayerCache {
    /// The layer cache kept in `store`.
    pub fn new(store: Store) -> LayerCache {
        LayerCache { store }
    }

    fn index_dir(&self) -> PathBuf {
        self.store.dir().join("build-layers")
    }

    fn index_path(&self, fp: &Digest) -> PathBuf {
        self.index_dir().join(format!("{}.json", fp.hex()))
    }

    /// Where the blob of a recorded layer is.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.store.blobs().path(digest)
    }

    /// The layer recorded under `fp`, when its blob is still in the store. Unreadable or
    /// dangling entries are misses (and dangling ones are removed).
    pub fn lookup(&self, fp: &Digest) -> Option<CachedLayer> {
        let path = self.index_path(fp);
        let bytes = std::fs::read(&path).ok()?;
        let Ok(hit) = serde_json::from_slice::<CachedLayer>(&bytes) else {
            tracing::debug!(path = %path.display(), "unreadable layer cache entry");
            return None;
        };
        match std::fs::metadata(self.blob_path(&hit.descriptor.digest)) {
            Ok(m) if m.len() == hit.descriptor.size => {
                self.store.touch(&hit.descriptor.digest);
                Some(hit)
            }
            _ => {
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Records a layer built from `file` under `fp`: the blob goes into the store, then the
    /// entry (both by temp file and rename, so readers never see a partial one).
    pub fn insert(&self, fp: &Digest, layer: &CachedLayer, file: &Path) -> Result<()> {
        let target = self.blob_path(&layer.descriptor.digest);
        let present = std::fs::metadata(&target).is_ok_and(|m| m.len() == layer.descriptor.size);
        if !present {
            let dir = target.parent().expect("blob paths have a parent");
            std::fs::create_dir_all(dir).map_err(|e| BuildError::io(dir, e))?;
            // A name of this process's own, so concurrent builds never touch each other's.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let tmp = dir.join(format!(".tmp-layer-{}-{nanos}", std::process::id()));
            if std::fs::hard_link(file, &tmp).is_err() {
                // Another filesystem (or no hard links): copy.
                if let Err(e) = std::fs::copy(file, &tmp) {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(BuildError::io(&tmp, e));
                }
            }
            if let Err(e) = std::fs::rename(&tmp, &target) {
                let _ = std::fs::remove_file(&tmp);
                return Err(BuildError::io(&target, e));
            }
        }
        let dir = self.index_dir();
        std::fs::create_dir_all(&dir).map_err(|e| BuildError::io(&dir, e))?;
        let json = serde_json::to_vec(layer).expect("a cached layer serializes");
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&dir)
            .map_err(|e| BuildError::io(&dir, e))?;
        io::Write::write_all(&mut tmp, &json).map_err(|e| BuildError::io(tmp.path(), e))?;
        let path = self.index_path(fp);
        tmp.persist(&path)
            .map_err(|e| BuildError::io(&path, e.error))?;
        Ok(())
    }
}

/// The fingerprint of `tree` (parents already added) written with `key`. Reads the bytes of
/// in-memory and extracted contents, and stats host files.
pub fn fingerprint(tree: &Tree, key: KeyParts<'_>) -> Result<Digest> {
    use std::os::unix::fs::MetadataExt;
    let mut h = Hasher::new(Algorithm::Sha256);
    // Paths and link targets cannot hold NUL, so NUL-separated fields are unambiguous.
    let field = |h: &mut Hasher, s: &[u8]| {
        h.update(s);
        h.update(b"\0");
    };
    field(&mut h, FORMAT.as_bytes());
    field(
        &mut h,
        format!("{} {} {}", key.compression, key.level, key.epoch).as_bytes(),
    );
    for (path, e) in tree.iter() {
        field(&mut h, path.as_bytes());
        field(
            &mut h,
            format!(
                "{:o} {} {} {}",
                e.mode,
                e.uid,
                e.gid,
                e.mtime.min(key.epoch)
            )
            .as_bytes(),
        );
        match &e.kind {
            Kind::Dir => field(&mut h, b"dir"),
            Kind::Symlink(t) => {
                field(&mut h, b"symlink");
                field(&mut h, t.as_bytes());
            }
            Kind::Hardlink(t) => {
                field(&mut h, b"hardlink");
                field(&mut h, t.as_bytes());
            }
            Kind::File { content, size } => {
                field(&mut h, format!("file {size}").as_bytes());
                match content {
                    Content::Host(p) => {
                        let m = std::fs::metadata(p).map_err(|e| BuildError::io(p, e))?;
                        field(&mut h, p.as_os_str().as_encoded_bytes());
                        field(
                            &mut h,
                            format!(
                                "host {} {} {} {}.{} {}.{}",
                                m.dev(),
                                m.ino(),
                                m.len(),
                                m.mtime(),
                                m.mtime_nsec(),
                                m.ctime(),
                                m.ctime_nsec()
                            )
                            .as_bytes(),
                        );
                    }
                    Content::Bytes(b) => {
                        field(&mut h, Digest::sha256(b).to_string().as_bytes());
                    }
                    Content::Range { file, offset, len } => {
                        let d = hash_range(file, *offset, *len)?;
                        field(&mut h, d.to_string().as_bytes());
                    }
                }
            }
        }
    }
    Ok(h.finish())
}

fn hash_range(file: &Path, offset: u64, len: u64) -> Result<Digest> {
    let mut f = std::fs::File::open(file).map_err(|e| BuildError::io(file, e))?;
    f.seek(SeekFrom::Start(offset))
        .map_err(|e| BuildError::io(file, e))?;
    let mut h = Hasher::new(Algorithm::Sha256);
    let mut r = f.take(len);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = r.read(&mut buf).map_err(|e| BuildError::io(file, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{Compression, Entry, HostOptions, LayerOptions, write_layer};

    fn opts(store: &Path, compression: Compression) -> LayerOptions {
        LayerOptions {
            compression,
            epoch: 0,
            cache: Some(LayerCache::new(Store::at(store))),
            ..LayerOptions::default()
        }
    }

    fn host_tree(dir: &Path) -> Tree {
        let mut t = Tree::new();
        t.add_host_path(dir, "/srv", &HostOptions::default())
            .unwrap();
        t.insert("etc/motd", Entry::bytes(b"hello\n".to_vec(), 0o644));
        t
    }

    #[test]
    fn second_write_of_the_same_tree_is_a_verified_hit() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("a"), vec![7u8; 100_000]).unwrap();
        let store = tempfile::tempdir().unwrap();
        for c in [Compression::Gzip, Compression::Zstd] {
            let first = write_layer(&host_tree(src.path()), &opts(store.path(), c)).unwrap();
            assert!(!first.cached);
            let again = write_layer(&host_tree(src.path()), &opts(store.path(), c)).unwrap();
            assert!(again.cached, "{c:?}");
            assert_eq!(again.descriptor, first.descriptor);
            assert_eq!(
                (again.diff_id, again.entries),
                (first.diff_id, first.entries)
            );
            let bytes = std::fs::read(again.file.path()).unwrap();
            assert_eq!(Digest::sha256(&bytes), first.descriptor.digest);
            assert!(again.file.path().starts_with(store.path()));
        }
        // Another level is another layer.
        let mut o = opts(store.path(), Compression::Gzip);
        o.level = Some(1);
        assert!(!write_layer(&host_tree(src.path()), &o).unwrap().cached);
    }

    #[test]
    fn changed_contents_are_never_served_from_the_cache() {
        let src = tempfile::tempdir().unwrap();
        let file = src.path().join("a");
        std::fs::write(&file, b"version 1").unwrap();
        let store = tempfile::tempdir().unwrap();
        let o = opts(store.path(), Compression::Gzip);
        let v1 = write_layer(&host_tree(src.path()), &o).unwrap();
        // Same size, new bytes: the stat changes (ctime at least), so the fingerprint does.
        std::fs::write(&file, b"version 2").unwrap();
        let v2 = write_layer(&host_tree(src.path()), &o).unwrap();
        assert!(!v2.cached);
        assert_ne!(v2.diff_id, v1.diff_id);

        // An entry that matches the fingerprint but not the contents (a file rewritten behind an
        // unchanged stat, simulated by pointing the current fingerprint at v1's layer) fails the
        // diff_id check and is replaced.
        let mut tree = host_tree(src.path());
        tree.add_parents();
        let id = Compression::Gzip.cache_id();
        let key = KeyParts {
            compression: &id,
            level: Compression::Gzip.default_level(),
            epoch: 0,
        };
        let fp = fingerprint(&tree, key).unwrap();
        let cache = LayerCache::new(Store::at(store.path()));
        let stale = CachedLayer {
            descriptor: v1.descriptor.clone(),
            diff_id: v1.diff_id.clone(),
            tar_size: v1.tar_size,
            entries: v1.entries,
        };
        cache.insert(&fp, &stale, v1.file.path()).unwrap();
        let v2b = write_layer(&host_tree(src.path()), &o).unwrap();
        assert!(!v2b.cached);
        assert_eq!(v2b.descriptor, v2.descriptor);
        assert_eq!(cache.lookup(&fp).unwrap().diff_id, v2.diff_id);
    }

    #[test]
    fn a_pruned_blob_is_a_miss() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("a"), b"x").unwrap();
        let store = tempfile::tempdir().unwrap();
        let o = opts(store.path(), Compression::Zstd);
        let first = write_layer(&host_tree(src.path()), &o).unwrap();
        std::fs::remove_file(
            Store::at(store.path())
                .blobs()
                .path(&first.descriptor.digest),
        )
        .unwrap();
        let again = write_layer(&host_tree(src.path()), &o).unwrap();
        assert!(!again.cached);
        assert_eq!(again.descriptor, first.descriptor);
        assert!(write_layer(&host_tree(src.path()), &o).unwrap().cached);
    }

    #[test]
    fn an_unwritable_cache_does_not_fail_the_build() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("a"), b"x").unwrap();
        let store = tempfile::tempdir().unwrap();
        // A file where the store's directories should go.
        std::fs::write(store.path().join("blobs"), b"").unwrap();
        let o = opts(store.path(), Compression::Gzip);
        let built = write_layer(&host_tree(src.path()), &o).unwrap();
        assert!(!built.cached);
        assert!(std::fs::metadata(built.file.path()).is_ok());
    }
}
