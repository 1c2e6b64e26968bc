//! Reading an image's layers into a [`MergedFs`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use plinth_oci::source::{BlobAction, SharedProgress};
use plinth_oci::store::Store;
use plinth_oci::{ConfigFile, Digest, ImageManifest, Source};
use serde::{Deserialize, Serialize};

use crate::error::FsError;
use crate::layer::{Change, Collector, Input, LayerInfo, Tee, Walked, walk};
use crate::merge;
use crate::merged::{LayerSummary, MergedFs, Origin};
use crate::meta::{FileMeta, Kind};
use crate::request::ContentRequest;

/// How [`read_image`] reads layers.
#[derive(Clone, Default)]
pub struct ReadOptions {
    /// The content store: layer blobs fetched from a registry are kept there, and so is an
    /// index of each layer's entries and the content of requested files, so a second read of
    /// the same image decompresses nothing it already saw.
    pub store: Option<Store>,
    /// Layers read at once (each on its own blocking thread); 0 means the number of CPUs, at
    /// least 2.
    pub concurrency: usize,
    /// Transfer progress, per layer blob (compressed bytes).
    pub progress: Option<SharedProgress>,
    /// Layers already read by this process, shared between the reads of several images (see
    /// [`LayerMemo`]).
    pub memo: Option<LayerMemo>,
}

/// Remembers the layers read for one [`ContentRequest`], so that reading several images that
/// share layers (`compare`, `diff`) streams each shared layer once, even when the images are
/// read concurrently: a second reader of a layer waits for the first one's result.
///
/// Use one memo with one request: what is remembered is what that request kept.
#[derive(Clone, Default)]
pub struct LayerMemo {
    layers: Arc<std::sync::Mutex<HashMap<Digest, MemoCell>>>,
}

/// One layer's result, filled by the first reader.
type MemoCell = Arc<tokio::sync::OnceCell<Arc<Walk>>>;

impl LayerMemo {
    /// An empty memo.
    pub fn new() -> LayerMemo {
        LayerMemo::default()
    }

    /// Layers streamed so far (each counted once however many images share it).
    pub fn len(&self) -> usize {
        self.layers
            .lock()
            .map(|m| m.values().filter(|c| c.initialized()).count())
            .unwrap_or(0)
    }

    /// True when no layer was read.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn cell(&self, digest: &Digest) -> MemoCell {
        let mut m = self.layers.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(digest.clone()).or_default().clone()
    }
}

/// What a first pass found in one layer, independent of the image it was read for.
struct Walk {
    changes: Vec<Change>,
    walked: Walked,
    contents: Contents,
}

impl std::fmt::Debug for ReadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOptions")
            .field("store", &self.store)
            .field("concurrency", &self.concurrency)
            .field("progress", &self.progress.is_some())
            .field("memo", &self.memo.is_some())
            .finish()
    }
}

impl ReadOptions {
    pub(crate) fn concurrency(&self) -> usize {
        if self.concurrency > 0 {
            return self.concurrency;
        }
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .max(2)
    }
}

/// One entry of a single layer, as [`read_layer`] reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum LayerChange {
    /// The layer writes this path.
    Entry(FileMeta),
    /// A `.wh.NAME` marker: the path is deleted from lower layers.
    Whiteout {
        /// The deleted path.
        path: String,
    },
    /// A `.wh..wh..opq` marker: the directory's contents from lower layers are hidden.
    Opaque {
        /// The directory.
        path: String,
    },
}

/// The layers of `manifest`, with the diff ids of `config`.
pub(crate) fn layer_infos(
    manifest: &ImageManifest,
    config: &ConfigFile,
) -> Result<Vec<LayerInfo>, FsError> {
    let diff_ids = config.diff_ids();
    if diff_ids.len() != manifest.layers.len() {
        return Err(FsError::LayerCount {
            layers: manifest.layers.len(),
            diff_ids: diff_ids.len(),
        });
    }
    Ok(manifest
        .layers
        .iter()
        .zip(diff_ids)
        .enumerate()
        .map(|(index, (desc, d))| LayerInfo {
            index,
            desc: desc.clone(),
            diff_id: Some(d.clone()),
        })
        .collect())
}

// ----------------------------------------------------------------------- layer index ----

const INDEX_VERSION: u32 = 1;

/// What the content store remembers of a layer: its entries (written once, after the layer
/// was streamed and both digests checked out).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct LayerIndex {
    pub v: u32,
    pub digest: Digest,
    pub diff_id: Digest,
    pub uncompressed: u64,
    pub entries: u64,
    pub changes: Vec<Change>,
}

/// A kept file content: tar ordinal and bytes.
type Kept = (u32, Arc<[u8]>);

/// File contents of a layer stored as blobs: tar ordinal → (digest, size).
type Contents = BTreeMap<u32, (Digest, u64)>;

fn index_path(store: &Store, digest: &Digest, suffix: &str) -> std::path::PathBuf {
    store
        .dir()
        .join("fs-index")
        .join(format!("v{INDEX_VERSION}"))
        .join(digest.algorithm().name())
        .join(format!("{}{suffix}", digest.hex()))
}

fn load_index(store: &Store, layer: &LayerInfo) -> Option<(LayerIndex, Contents)> {
    let bytes = std::fs::read(index_path(store, &layer.desc.digest, ".json")).ok()?;
    let idx: LayerIndex = serde_json::from_slice(&bytes).ok()?;
    if idx.v != INDEX_VERSION || idx.digest != layer.desc.digest {
        return None;
    }
    let contents = std::fs::read(index_path(store, &layer.desc.digest, ".contents.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    Some((idx, contents))
}

fn write_json(path: &std::path::Path, value: &impl Serialize) -> Result<(), FsError> {
    use std::io::Write;
    let dir = path.parent().expect("has a parent");
    let what = || format!("writing {}", path.display());
    std::fs::create_dir_all(dir).map_err(|e| FsError::io(what(), e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| FsError::io(what(), e))?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        serde_json::to_writer(&mut w, value).map_err(|e| FsError::io(what(), e.into()))?;
        w.flush().map_err(|e| FsError::io(what(), e))?;
    }
    tmp.persist(path)
        .map_err(|e| FsError::io(what(), e.error))?;
    Ok(())
}

/// Saves a layer's entries (contents are not serialized).
fn save_index(
    store: &Store,
    layer: &LayerInfo,
    walked: &Walked,
    changes: Vec<Change>,
) -> Result<Vec<Change>, FsError> {
    let idx = LayerIndex {
        v: INDEX_VERSION,
        digest: layer.desc.digest.clone(),
        diff_id: walked.diff_id.clone(),
        uncompressed: walked.uncompressed,
        entries: walked.entries,
        changes,
    };
    write_json(&index_path(store, &layer.desc.digest, ".json"), &idx)?;
    Ok(idx.changes)
}

// ----------------------------------------------------------------------- streaming ------

/// Opens a layer's bytes: from the content store when it has the blob, else from the source
/// (then teed into the store when the source is a registry).
pub(crate) async fn open_layer(
    src: &dyn Source,
    layer: &LayerInfo,
    opts: &ReadOptions,
) -> Result<(Input, Option<Tee>), FsError> {
    if let Some(store) = &opts.store
        && store.blobs().has(&layer.desc).await.unwrap_or(false)
        && let Ok(f) = std::fs::File::open(store.blobs().path(&layer.desc.digest))
    {
        store.touch(&layer.desc.digest);
        return Ok((Box::new(f), None));
    }
    let stream = src.blob(&layer.desc).await?;
    let input: Input = Box::new(tokio_util::io::SyncIoBridge::new(stream));
    let tee = match (&opts.store, src.origin()) {
        (Some(store), Some(_)) => make_tee(store, &layer.desc.digest),
        _ => None,
    };
    Ok((input, tee))
}

fn make_tee(store: &Store, digest: &Digest) -> Option<Tee> {
    let target = store.blobs().path(digest);
    let dir = target.parent()?;
    std::fs::create_dir_all(dir).ok()?;
    let temp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .ok()?;
    Some(Tee { temp, target })
}

pub(crate) fn progress_fn(
    opts: &ReadOptions,
    layer: &LayerInfo,
) -> Option<Box<dyn Fn(u64) + Send>> {
    let p = opts.progress.clone()?;
    let desc = layer.desc.clone();
    p.start(&desc);
    Some(Box::new(move |n| p.advance(&desc, n)))
}

fn progress_done(opts: &ReadOptions, layer: &LayerInfo) {
    if let Some(p) = &opts.progress {
        p.done(&layer.desc, BlobAction::Copied);
    }
}

async fn join<T>(task: tokio::task::JoinHandle<T>) -> T {
    match task.await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// One layer after the first phase: its changes, and which contents the store has.
struct LayerData {
    info: LayerInfo,
    changes: Vec<Change>,
    walked: Walked,
    contents: Contents,
}

async fn first_pass(
    src: &dyn Source,
    layer: LayerInfo,
    req: Arc<ContentRequest>,
    opts: &ReadOptions,
) -> Result<LayerData, FsError> {
    let Some(memo) = &opts.memo else {
        return read_layer_once(src, layer, req, opts).await;
    };
    let cell = memo.cell(&layer.desc.digest);
    let walk = cell
        .get_or_try_init(|| async {
            let d = read_layer_once(src, layer.clone(), req.clone(), opts).await?;
            Ok::<_, FsError>(Arc::new(Walk {
                changes: d.changes,
                walked: d.walked,
                contents: d.contents,
            }))
        })
        .await?;
    if let Some(expected) = &layer.diff_id
        && *expected != walk.walked.diff_id
    {
        return Err(FsError::DiffId {
            index: layer.index,
            digest: layer.desc.digest.clone(),
            expected: expected.clone(),
            actual: walk.walked.diff_id.clone(),
        });
    }
    Ok(LayerData {
        info: layer,
        changes: walk.changes.clone(),
        walked: walk.walked.clone(),
        contents: walk.contents.clone(),
    })
}

/// Whether a layer's recorded entries carry the hashes the request wants.
fn has_hashes(changes: &[Change]) -> bool {
    changes.iter().all(|c| match c {
        Change::Entry(rec) => rec.meta.kind != Kind::File || rec.sha256.is_some(),
        _ => true,
    })
}

async fn read_layer_once(
    src: &dyn Source,
    layer: LayerInfo,
    req: Arc<ContentRequest>,
    opts: &ReadOptions,
) -> Result<LayerData, FsError> {
    let want_hashes = req.hashes(&layer.desc.digest);
    if let Some(store) = &opts.store {
        let (s, l) = (store.clone(), layer.clone());
        if let Some((idx, contents)) = join(tokio::task::spawn_blocking(move || load_index(&s, &l)))
            .await
            .filter(|(idx, _)| !want_hashes || has_hashes(&idx.changes))
        {
            if let Some(expected) = &layer.diff_id
                && *expected != idx.diff_id
            {
                return Err(FsError::DiffId {
                    index: layer.index,
                    digest: layer.desc.digest.clone(),
                    expected: expected.clone(),
                    actual: idx.diff_id,
                });
            }
            let walked = Walked {
                diff_id: idx.diff_id,
                uncompressed: idx.uncompressed,
                entries: idx.entries,
            };
            return Ok(LayerData {
                info: layer,
                changes: idx.changes,
                walked,
                contents,
            });
        }
    }
    let (input, tee) = open_layer(src, &layer, opts).await?;
    let progress = progress_fn(opts, &layer);
    let l = layer.clone();
    let store = opts.store.clone();
    let (changes, walked) = join(tokio::task::spawn_blocking(move || {
        let mut collector = Collector::new(&l, &req);
        let walked = walk(input, &l, tee, progress, |i, e| collector.visit(i, e))?;
        let mut changes = collector.changes;
        if let Some(store) = &store {
            changes = save_index(store, &l, &walked, changes)?;
        }
        Ok::<_, FsError>((changes, walked))
    }))
    .await?;
    progress_done(opts, &layer);
    Ok(LayerData {
        info: layer,
        changes,
        walked,
        contents: Contents::new(),
    })
}

/// Streams a layer again and returns the bytes of the entries at `ordinals`.
async fn fetch_contents(
    src: &dyn Source,
    layer: &LayerInfo,
    ordinals: BTreeSet<u32>,
    opts: &ReadOptions,
) -> Result<HashMap<u32, Vec<u8>>, FsError> {
    let (input, tee) = open_layer(src, layer, opts).await?;
    let progress = progress_fn(opts, layer);
    let l = layer.clone();
    let out = join(tokio::task::spawn_blocking(move || {
        let mut out = HashMap::new();
        walk(input, &l, tee, progress, |i, e| {
            if ordinals.contains(&i) {
                let mut buf = Vec::with_capacity(e.size().min(64 << 20) as usize);
                e.read_to_end(&mut buf).map_err(|err| FsError::Malformed {
                    index: l.index,
                    digest: l.desc.digest.clone(),
                    message: format!("reading tar entry {i}: {err}"),
                })?;
                out.insert(i, buf);
            }
            Ok(())
        })?;
        Ok::<_, FsError>(out)
    }))
    .await?;
    progress_done(opts, layer);
    Ok(out)
}

/// Reads every layer of an image once and merges them into a [`MergedFs`].
///
/// Each layer is streamed on a blocking thread (at most `opts.concurrency` at once): the
/// compressed bytes are hashed and checked against the descriptor, decompressed (gzip,
/// zstd or none, by media type), hashed again and checked against the config's
/// `rootfs.diff_ids` (the tar is read to its end first), and walked; only the requested
/// files' bytes are kept. Layers are then merged in order with whiteouts and opaque
/// directories applied. Files that requested paths reach through symlinks or hard links
/// into other layers are fetched with a second pass over just those layers.
///
/// With a store, layer blobs from registries are cached (written under a temp name, renamed
/// once both digests check out), and so are an index of each layer's entries and the kept
/// contents: a warm read of the same image and request decompresses nothing.
pub async fn read_image(
    src: &dyn Source,
    manifest: &ImageManifest,
    config: &ConfigFile,
    req: &ContentRequest,
    opts: &ReadOptions,
) -> Result<MergedFs, FsError> {
    let mut layers = layer_infos(manifest, config)?;
    let req_arc = Arc::new(req.clone());
    // Largest layers first: the biggest one is the critical path, so it should not wait for a
    // free slot behind small ones. Results are put back in layer order for the merge.
    layers.sort_by_key(|l| std::cmp::Reverse(l.desc.size));
    let mut data: Vec<LayerData> = futures::stream::iter(layers)
        .map(|l| first_pass(src, l, req_arc.clone(), opts))
        .buffer_unordered(opts.concurrency())
        .try_collect()
        .await?;
    data.sort_by_key(|d| d.info.index);

    // Merge, base layer first.
    let mut fs = MergedFs::default();
    for d in &mut data {
        let changes = std::mem::take(&mut d.changes);
        for c in &changes {
            if let Change::Entry(rec) = c
                && let Some(h) = &rec.sha256
            {
                let origin = Origin {
                    layer: d.info.index as u32,
                    ordinal: rec.ordinal,
                };
                fs.hashes.insert(origin, h.clone());
            }
        }
        let counts = merge::apply(&mut fs, d.info.index, changes);
        fs.layers.push(LayerSummary {
            index: d.info.index,
            digest: d.info.desc.digest.clone(),
            diff_id: Some(d.walked.diff_id.clone()),
            media_type: d.info.desc.media_type.clone(),
            compressed_size: d.info.desc.size,
            uncompressed_size: d.walked.uncompressed,
            added: counts.added,
            changed: counts.changed,
            removed: counts.removed,
            entries: d.walked.entries,
        });
    }
    if !fs.nodes.contains_key("/") {
        fs.ensure_parents("/x", 0);
    }

    // Content the request reaches but the first pass did not keep.
    let missing = missing_contents(&fs, req);
    let mut fetched: HashMap<Origin, Arc<[u8]>> = HashMap::new();
    let mut by_layer: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for o in missing {
        let d = &data[o.layer as usize];
        if let Some(store) = &opts.store
            && let Some((digest, size)) = d.contents.get(&o.ordinal)
        {
            let desc = plinth_oci::Descriptor::new("", digest.clone(), *size);
            if let Ok(bytes) = store.blobs().read(&desc).await {
                fetched.insert(o, Arc::from(bytes));
                continue;
            }
        }
        by_layer.entry(o.layer).or_default().insert(o.ordinal);
    }
    for (layer, ordinals) in by_layer {
        let info = &data[layer as usize].info;
        for (ordinal, bytes) in fetch_contents(src, info, ordinals, opts).await? {
            fetched.insert(Origin { layer, ordinal }, Arc::from(bytes));
        }
    }
    if !fetched.is_empty() {
        for n in fs.nodes.values_mut() {
            if n.content.is_none()
                && let Some(o) = n.origin
                && let Some(c) = fetched.get(&o)
            {
                n.content = Some(c.clone());
            }
        }
    }

    if let Some(store) = &opts.store {
        save_contents(store, &fs, data).await?;
    }
    Ok(fs)
}

/// The origins of files that `req` reaches (directly, through symlinks, or as the target of
/// a requested hard link) whose content is not in `fs`.
fn missing_contents(fs: &MergedFs, req: &ContentRequest) -> BTreeSet<Origin> {
    let mut out = BTreeSet::new();
    if req.is_empty() {
        return out;
    }
    let mut check = |via: &str| {
        if let Some(t) = fs.resolve_node(via, true)
            && matches!(t.meta.kind, Kind::File | Kind::Hardlink)
            && t.content.is_none()
            && let Some(o) = t.origin
            && req.wants_via(via, t.meta.size)
        {
            out.insert(o);
        }
    };
    for p in req.exact_paths() {
        check(p);
    }
    for n in fs.nodes.values() {
        if matches!(n.meta.kind, Kind::File | Kind::Hardlink | Kind::Symlink)
            && req.matches_path(&n.meta.path)
        {
            check(&n.meta.path);
        }
    }
    out
}

/// Stores the kept contents of final files as blobs and records them per layer, so the next
/// read of the same request needs no layer at all.
async fn save_contents(store: &Store, fs: &MergedFs, data: Vec<LayerData>) -> Result<(), FsError> {
    let mut kept: BTreeMap<u32, Vec<Kept>> = BTreeMap::new();
    for n in fs.nodes.values() {
        if let (Some(o), Some(c)) = (n.origin, &n.content)
            && !data[o.layer as usize].contents.contains_key(&o.ordinal)
        {
            kept.entry(o.layer)
                .or_default()
                .push((o.ordinal, c.clone()));
        }
    }
    if kept.is_empty() {
        return Ok(());
    }
    let store = store.clone();
    join(tokio::task::spawn_blocking(move || {
        for d in data {
            let Some(new) = kept.remove(&(d.info.index as u32)) else {
                continue;
            };
            let mut contents = d.contents;
            for (ordinal, c) in new {
                let digest = Digest::sha256(&c);
                let desc = plinth_oci::Descriptor::new("", digest.clone(), c.len() as u64);
                if !store.blobs().path(&digest).exists() {
                    write_blob(&store, &desc, &c)?;
                }
                contents.insert(ordinal, (digest, c.len() as u64));
            }
            let path = index_path(&store, &d.info.desc.digest, ".contents.json");
            write_json(&path, &contents)?;
        }
        Ok::<_, FsError>(())
    }))
    .await
}

fn write_blob(store: &Store, desc: &plinth_oci::Descriptor, bytes: &[u8]) -> Result<(), FsError> {
    use std::io::Write;
    let target = store.blobs().path(&desc.digest);
    let dir = target.parent().expect("has a parent");
    let what = || format!("writing blob {}", target.display());
    std::fs::create_dir_all(dir).map_err(|e| FsError::io(what(), e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| FsError::io(what(), e))?;
    tmp.write_all(bytes).map_err(|e| FsError::io(what(), e))?;
    tmp.persist(&target)
        .map_err(|e| FsError::io(what(), e.error))?;
    Ok(())
}

/// Reads one layer's entries as its tar has them, whiteout markers included (no content).
pub async fn read_layer(
    src: &dyn Source,
    manifest: &ImageManifest,
    config: &ConfigFile,
    index: usize,
    opts: &ReadOptions,
) -> Result<Vec<LayerChange>, FsError> {
    let layers = layer_infos(manifest, config)?;
    let count = layers.len();
    let layer = layers.into_iter().nth(index).ok_or(FsError::NoLayer {
        index,
        layers: count,
    })?;
    let d = first_pass(src, layer, Arc::new(ContentRequest::new()), opts).await?;
    let out = d
        .changes
        .iter()
        .map(|c| match c {
            Change::Entry(rec) => LayerChange::Entry(rec.meta.clone()),
            Change::Whiteout { path, .. } => LayerChange::Whiteout { path: path.clone() },
            Change::Opaque { path, .. } => LayerChange::Opaque { path: path.clone() },
        })
        .collect();
    Ok(out)
}
