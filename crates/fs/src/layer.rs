//! One pass over one layer: compressed digest, decompression, diff-id and the tar walk, on a
//! blocking thread, with the compressed bytes optionally teed into the content store.

use std::collections::HashMap;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

use plinth_oci::digest::{Algorithm, Hasher, Verifier, VerifyError};
use plinth_oci::media::Compression;
use plinth_oci::{Descriptor, Digest};
use serde::{Deserialize, Serialize};

use crate::error::FsError;
use crate::merged::Extra;
use crate::meta::{FileMeta, Kind, PathProblem, entry_path, join, parent};
use crate::request::ContentRequest;

/// Bytes of a layer blob as they arrive.
pub(crate) type Input = Box<dyn Read + Send>;

/// The reader a layer's tar is walked from.
pub(crate) type TarReader = BufReader<DiffReader>;

const BUF: usize = 256 * 1024;

/// One layer as the manifest and the config describe it.
#[derive(Clone, Debug)]
pub(crate) struct LayerInfo {
    pub index: usize,
    pub desc: Descriptor,
    pub diff_id: Option<Digest>,
}

impl LayerInfo {
    pub fn compression(&self) -> Result<Compression, FsError> {
        plinth_oci::media::layer_compression(&self.desc.media_type).ok_or_else(|| {
            FsError::MediaType {
                index: self.index,
                digest: self.desc.digest.clone(),
                media_type: self.desc.media_type.clone(),
            }
        })
    }

    fn malformed(&self, message: impl Into<String>) -> FsError {
        FsError::Malformed {
            index: self.index,
            digest: self.desc.digest.clone(),
            message: message.into(),
        }
    }
}

/// A regular or special entry of a layer tar.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct EntryRec {
    /// Metadata (`layer` is filled in when merged).
    pub meta: FileMeta,
    /// Position of the entry in the tar (0-based, extension headers not counted).
    pub ordinal: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Extra>,
    /// SHA-256 of a regular file's content, when the request hashes this layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Digest>,
    /// The bytes, when requested.
    #[serde(skip)]
    pub content: Option<Vec<u8>>,
}

/// What a layer's tar says, entry by entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Change {
    /// A path written by the layer.
    Entry(EntryRec),
    /// `.wh.NAME`: the path is removed from lower layers.
    Whiteout { path: String, ordinal: u32 },
    /// `.wh..wh..opq`: the directory's lower-layer contents are hidden.
    Opaque { path: String, ordinal: u32 },
}

/// Counts and hashes the compressed bytes, tees them to a file, reports progress.
pub(crate) struct HashIn {
    inner: Input,
    verifier: Verifier,
    mismatch: Option<VerifyError>,
    read_error: Option<String>,
    tee: Option<BufWriter<std::fs::File>>,
    tee_failed: bool,
    progress: Option<Box<dyn Fn(u64) + Send>>,
}

impl Read for HashIn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) => {
                self.read_error = Some(e.to_string());
                return Err(e);
            }
        };
        if n == 0 {
            return Ok(0);
        }
        if let Err(e) = self.verifier.update(&buf[..n]) {
            let msg = e.to_string();
            self.mismatch = Some(e);
            return Err(io::Error::other(msg));
        }
        if let Some(t) = &mut self.tee
            && t.write_all(&buf[..n]).is_err()
        {
            self.tee = None;
            self.tee_failed = true;
        }
        if let Some(p) = &self.progress {
            p(n as u64);
        }
        Ok(n)
    }
}

enum Decoder {
    Gzip(Box<flate2::bufread::MultiGzDecoder<BufReader<HashIn>>>),
    Zstd(Box<zstd::stream::read::Decoder<'static, BufReader<HashIn>>>),
    Plain(Box<BufReader<HashIn>>),
}

impl Decoder {
    fn into_inner(self) -> BufReader<HashIn> {
        match self {
            Decoder::Gzip(d) => d.into_inner(),
            Decoder::Zstd(d) => d.finish(),
            Decoder::Plain(r) => *r,
        }
    }
}

impl Read for Decoder {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Zstd(d) => d.read(buf),
            Decoder::Plain(r) => r.read(buf),
        }
    }
}

/// Decompressed bytes: read in place, or produced by a helper thread so that inflating and
/// the rest of the pass (hashing, tar walk, writing) use two cores.
enum Feed {
    Direct(Decoder),
    Threaded(Threaded),
}

impl Feed {
    fn into_decoder(self) -> Decoder {
        match self {
            Feed::Direct(d) => d,
            Feed::Threaded(t) => t.finish(),
        }
    }
}

impl Read for Feed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Feed::Direct(d) => d.read(buf),
            Feed::Threaded(t) => t.read(buf),
        }
    }
}

type Chunk = io::Result<Vec<u8>>;

/// A decoder running on its own thread, handing over chunks through a bounded channel (at
/// most 4 chunks of 256 KiB in flight; buffers are recycled).
struct Threaded {
    rx: Option<std::sync::mpsc::Receiver<Chunk>>,
    back: std::sync::mpsc::SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    eof: bool,
    handle: Option<std::thread::JoinHandle<Decoder>>,
}

impl Threaded {
    fn spawn(mut dec: Decoder) -> io::Result<Threaded> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(4);
        let (back, spare) = std::sync::mpsc::sync_channel::<Vec<u8>>(8);
        let handle = std::thread::Builder::new()
            .name("plinth-inflate".into())
            .spawn(move || {
                loop {
                    let mut buf = spare.try_recv().unwrap_or_default();
                    buf.resize(BUF, 0);
                    let mut filled = 0;
                    let mut failed = None;
                    while filled < buf.len() {
                        match dec.read(&mut buf[filled..]) {
                            Ok(0) => break,
                            Ok(n) => filled += n,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => {
                                failed = Some(e);
                                break;
                            }
                        }
                    }
                    buf.truncate(filled);
                    if filled > 0 && tx.send(Ok(buf)).is_err() {
                        break;
                    }
                    if let Some(e) = failed {
                        let _ = tx.send(Err(e));
                        break;
                    }
                    if filled == 0 {
                        break;
                    }
                }
                dec
            })?;
        Ok(Threaded {
            rx: Some(rx),
            back,
            cur: Vec::new(),
            pos: 0,
            eof: false,
            handle: Some(handle),
        })
    }

    /// Stops the thread (it ends at its next hand-over) and returns the decoder.
    fn finish(mut self) -> Decoder {
        drop(self.rx.take());
        match self.handle.take().expect("joined once").join() {
            Ok(d) => d,
            Err(p) => std::panic::resume_unwind(p),
        }
    }
}

impl Read for Threaded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            if self.eof {
                return Ok(0);
            }
            match self.rx.as_ref().map(|rx| rx.recv()) {
                Some(Ok(Ok(chunk))) => {
                    let old = std::mem::replace(&mut self.cur, chunk);
                    let _ = self.back.try_send(old);
                    self.pos = 0;
                }
                Some(Ok(Err(e))) => {
                    self.eof = true;
                    return Err(e);
                }
                Some(Err(_)) | None => self.eof = true,
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Whether decompression gets a thread of its own (more than one CPU).
pub(crate) fn thread_decoders() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
}

/// Hashes and counts the uncompressed tar stream.
pub(crate) struct DiffReader {
    inner: Feed,
    hasher: Hasher,
    count: u64,
}

impl Read for DiffReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Where a streamed blob is saved when every check passes.
pub(crate) struct Tee {
    pub temp: tempfile::NamedTempFile,
    pub target: PathBuf,
}

/// What a finished walk measured.
#[derive(Clone, Debug)]
pub(crate) struct Walked {
    pub diff_id: Digest,
    pub uncompressed: u64,
    /// Entries seen (extension headers not counted).
    pub entries: u64,
}

/// Streams one layer: `visit` sees every tar entry with its ordinal. The compressed digest and
/// size are checked against the descriptor, the uncompressed digest against the diff id (when
/// known) after reading the tar to its very end; the tee is renamed into place only then.
pub(crate) fn walk(
    input: Input,
    layer: &LayerInfo,
    tee: Option<Tee>,
    progress: Option<Box<dyn Fn(u64) + Send>>,
    mut visit: impl FnMut(u32, &mut tar::Entry<'_, TarReader>) -> Result<(), FsError>,
) -> Result<Walked, FsError> {
    let compression = layer.compression()?;
    let (tee_writer, tee_path) = match tee {
        Some(t) => {
            let (file, path) = t.temp.into_parts();
            (
                Some(BufWriter::with_capacity(BUF, file)),
                Some((path, t.target)),
            )
        }
        None => (None, None),
    };
    let hash_in = HashIn {
        inner: input,
        verifier: Verifier::new(&layer.desc.digest, Some(layer.desc.size)),
        mismatch: None,
        read_error: None,
        tee: tee_writer,
        tee_failed: false,
        progress,
    };
    let buffered = BufReader::with_capacity(BUF, hash_in);
    let decoder = match compression {
        Compression::Gzip => {
            Decoder::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(buffered)))
        }
        Compression::Zstd => match zstd::stream::read::Decoder::with_buffer(buffered) {
            Ok(d) => Decoder::Zstd(Box::new(d)),
            Err(e) => return Err(layer.malformed(format!("zstd: {e}"))),
        },
        Compression::None => Decoder::Plain(Box::new(buffered)),
    };
    let diff_alg = layer
        .diff_id
        .as_ref()
        .map(|d| d.algorithm())
        .unwrap_or(plinth_oci::digest::Algorithm::Sha256);
    let feed = if thread_decoders() {
        match Threaded::spawn(decoder) {
            Ok(t) => Feed::Threaded(t),
            Err(e) => return Err(FsError::io("starting a decompression thread", e)),
        }
    } else {
        Feed::Direct(decoder)
    };
    let diff = DiffReader {
        inner: feed,
        hasher: Hasher::new(diff_alg),
        count: 0,
    };
    let mut archive = tar::Archive::new(BufReader::with_capacity(BUF, diff));
    let mut entries = 0u64;
    let walked: Result<(), FsError> = (|| {
        let iter = archive
            .entries()
            .map_err(|e| layer.malformed(format!("reading tar: {e}")))?;
        for (i, entry) in iter.enumerate() {
            let mut entry = entry.map_err(|e| layer.malformed(format!("reading tar: {e}")))?;
            entries += 1;
            visit(i as u32, &mut entry)?;
        }
        Ok(())
    })();
    // Read the tar to its end (past the zero blocks) so the diff id covers every byte.
    let mut rest = archive.into_inner();
    let drained = walked.and_then(|()| {
        io::copy(&mut rest, &mut io::sink())
            .map(|_| ())
            .map_err(|e| layer.malformed(format!("decompressing: {e}")))
    });
    let diff = rest.into_inner();
    let uncompressed = diff.count;
    let diff_id = diff.hasher.finish();
    let mut compressed = diff.inner.into_decoder().into_inner();
    // Whatever happened, find out whether the blob itself was intact: corrupt bytes explain
    // decompression and tar errors better than those errors do.
    let tail = io::copy(&mut compressed, &mut io::sink());
    let mut hash_in = compressed.into_inner();
    if let Some(e) = hash_in.mismatch.take() {
        return Err(FsError::Digest {
            index: layer.index,
            digest: layer.desc.digest.clone(),
            source: e,
        });
    }
    if let Some(e) = hash_in.read_error.take() {
        return Err(FsError::Read {
            index: layer.index,
            digest: layer.desc.digest.clone(),
            source: io::Error::other(e),
        });
    }
    if let Err(e) = tail {
        return Err(FsError::Read {
            index: layer.index,
            digest: layer.desc.digest.clone(),
            source: e,
        });
    }
    let verified = std::mem::replace(
        &mut hash_in.verifier,
        Verifier::new(&layer.desc.digest, None),
    )
    .finish();
    if let Err(source) = verified {
        return Err(FsError::Digest {
            index: layer.index,
            digest: layer.desc.digest.clone(),
            source,
        });
    }
    drained?;
    if let Some(expected) = &layer.diff_id
        && *expected != diff_id
    {
        return Err(FsError::DiffId {
            index: layer.index,
            digest: layer.desc.digest.clone(),
            expected: expected.clone(),
            actual: diff_id,
        });
    }
    if let (Some(mut w), Some((temp_path, target)), false) =
        (hash_in.tee.take(), tee_path, hash_in.tee_failed)
        && w.flush().is_ok()
    {
        drop(w);
        // A failed cache write is not a failed read: the blob is simply not cached.
        let _ = temp_path.persist(&target);
    }
    Ok(Walked {
        diff_id,
        uncompressed,
        entries,
    })
}

/// Parsed header of one tar entry.
pub(crate) enum Parsed {
    Entry(EntryRec),
    Whiteout(String),
    Opaque(String),
    /// Global PAX headers, aufs metadata and other entries that are not files.
    Skip,
}

fn traversal(layer: &LayerInfo, path: &str, p: PathProblem) -> FsError {
    FsError::Traversal {
        index: layer.index,
        digest: layer.desc.digest.clone(),
        path: path.to_string(),
        why: match p {
            PathProblem::Absolute => "absolute paths are not allowed in layers",
            PathProblem::DotDot => "'..' components are not allowed in layers",
        },
    }
}

/// Reads an entry's header (and PAX records) into an [`EntryRec`] without its content.
pub(crate) fn parse_entry(
    layer: &LayerInfo,
    ordinal: u32,
    entry: &mut tar::Entry<'_, TarReader>,
) -> Result<Parsed, FsError> {
    let bad = |e: io::Error| layer.malformed(format!("tar entry {ordinal}: {e}"));
    let mut pax_uid = None;
    let mut pax_gid = None;
    let mut pax_mtime = None;
    let mut xattrs = Vec::new();
    if let Some(exts) = entry.pax_extensions().map_err(bad)? {
        for ext in exts {
            let ext = ext.map_err(bad)?;
            let Ok(key) = ext.key() else { continue };
            let value = ext.value_bytes();
            let num = || std::str::from_utf8(value).ok().map(str::trim);
            match key {
                "uid" => pax_uid = num().and_then(|v| v.parse::<u64>().ok()),
                "gid" => pax_gid = num().and_then(|v| v.parse::<u64>().ok()),
                "mtime" => {
                    pax_mtime = num()
                        .and_then(|v| v.split('.').next())
                        .and_then(|v| v.parse::<i64>().ok())
                }
                k => {
                    if let Some(name) = k.strip_prefix("SCHILY.xattr.") {
                        xattrs.push((name.to_string(), value.to_vec()));
                    }
                }
            }
        }
    }
    let raw_path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
    let hdr = entry.header();
    let et = hdr.entry_type();
    let mut kind = match et {
        tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
            Kind::File
        }
        tar::EntryType::Directory => Kind::Dir,
        tar::EntryType::Symlink => Kind::Symlink,
        tar::EntryType::Link => Kind::Hardlink,
        tar::EntryType::Char => Kind::CharDevice,
        tar::EntryType::Block => Kind::BlockDevice,
        tar::EntryType::Fifo => Kind::Fifo,
        _ => return Ok(Parsed::Skip),
    };
    if kind == Kind::File && raw_path.ends_with('/') {
        kind = Kind::Dir;
    }
    let path = entry_path(&raw_path).map_err(|p| traversal(layer, &raw_path, p))?;
    let name = path.rsplit('/').next().unwrap_or("");
    if let Some(hidden) = name.strip_prefix(".wh.") {
        let dir = parent(&path);
        if hidden == ".wh..opq" {
            return Ok(Parsed::Opaque(dir.to_string()));
        }
        if hidden.starts_with(".wh.") || hidden.is_empty() {
            // aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not part of the filesystem.
            return Ok(Parsed::Skip);
        }
        return Ok(Parsed::Whiteout(join(dir, hidden)));
    }
    let mode = hdr.mode().map_err(bad)? & 0o7777;
    let uid = match pax_uid {
        Some(u) => u,
        None => hdr.uid().map_err(bad)?,
    };
    let gid = match pax_gid {
        Some(g) => g,
        None => hdr.gid().map_err(bad)?,
    };
    let mtime = match pax_mtime {
        Some(m) => m,
        None => hdr.mtime().map_err(bad)? as i64,
    };
    let link = match kind {
        Kind::Symlink => Some(
            entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default(),
        ),
        Kind::Hardlink => {
            let raw = entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            Some(entry_path(&raw).map_err(|p| traversal(layer, &raw, p))?)
        }
        _ => None,
    };
    let hdr = entry.header();
    let dev = match kind {
        Kind::CharDevice | Kind::BlockDevice => Some((
            hdr.device_major().ok().flatten().unwrap_or(0),
            hdr.device_minor().ok().flatten().unwrap_or(0),
        )),
        _ => None,
    };
    let size = if kind == Kind::File { entry.size() } else { 0 };
    let extra = Extra { dev, xattrs };
    Ok(Parsed::Entry(EntryRec {
        meta: FileMeta {
            path,
            kind,
            mode,
            uid,
            gid,
            size,
            mtime,
            link,
            layer: layer.index,
        },
        ordinal,
        extra: (!extra.is_empty()).then_some(extra),
        sha256: None,
        content: None,
    }))
}

/// An `io::Write` that only hashes.
struct HashWriter(Hasher);

impl io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Collects a layer's changes, keeping the content of requested files. Requested paths that
/// lead through symlinks of the same layer (`/etc/os-release` → `../usr/lib/os-release`) are
/// followed here already; links into other layers are followed after the merge.
pub(crate) struct Collector<'a> {
    layer: &'a LayerInfo,
    req: &'a ContentRequest,
    pub changes: Vec<Change>,
    symlinks: HashMap<String, String>,
    /// Requested paths and requested symlinks, followed through this layer's symlinks.
    vias: Vec<String>,
    /// Paths reached from `vias`, with the via that reached them.
    targets: HashMap<String, String>,
}

impl<'a> Collector<'a> {
    pub fn new(layer: &'a LayerInfo, req: &'a ContentRequest) -> Self {
        let vias: Vec<String> = req.exact_paths().map(str::to_string).collect();
        Collector {
            layer,
            req,
            changes: Vec::new(),
            symlinks: HashMap::new(),
            vias,
            targets: HashMap::new(),
        }
    }

    fn refresh_targets(&mut self) {
        self.targets.clear();
        for via in &self.vias {
            for hop in local_chain(via, &self.symlinks) {
                self.targets.entry(hop).or_insert_with(|| via.clone());
            }
        }
    }

    fn relevant(&self, link_path: &str) -> bool {
        let is_prefix = |p: &str| {
            p == link_path
                || (p.starts_with(link_path) && p.as_bytes().get(link_path.len()) == Some(&b'/'))
        };
        self.vias.iter().any(|v| is_prefix(v)) || self.targets.keys().any(|t| is_prefix(t))
    }

    pub fn visit(
        &mut self,
        ordinal: u32,
        entry: &mut tar::Entry<'_, TarReader>,
    ) -> Result<(), FsError> {
        match parse_entry(self.layer, ordinal, entry)? {
            Parsed::Skip => {}
            Parsed::Whiteout(path) => self.changes.push(Change::Whiteout { path, ordinal }),
            Parsed::Opaque(path) => self.changes.push(Change::Opaque { path, ordinal }),
            Parsed::Entry(mut rec) => {
                match rec.meta.kind {
                    Kind::Symlink if !self.req.is_empty() => {
                        let target = rec.meta.link.clone().unwrap_or_default();
                        let path = rec.meta.path.clone();
                        let wanted = self.req.matches_path(&path);
                        self.symlinks.insert(path.clone(), target);
                        if wanted && !self.vias.contains(&path) {
                            self.vias.push(path.clone());
                        }
                        if wanted || self.relevant(&path) {
                            self.refresh_targets();
                        }
                    }
                    Kind::File => {
                        let keep = self.req.wants(&rec.meta)
                            || self
                                .targets
                                .get(&rec.meta.path)
                                .is_some_and(|via| self.req.wants_via(via, rec.meta.size));
                        let hash = self.req.hashes(&self.layer.desc.digest);
                        let bad = |e: io::Error| {
                            self.layer
                                .malformed(format!("reading {}: {e}", rec.meta.path))
                        };
                        if keep {
                            let mut buf = Vec::with_capacity(rec.meta.size.min(64 << 20) as usize);
                            entry.read_to_end(&mut buf).map_err(bad)?;
                            if hash {
                                rec.sha256 = Some(Digest::sha256(&buf));
                            }
                            rec.content = Some(buf);
                        } else if hash {
                            let mut h = HashWriter(Hasher::new(Algorithm::Sha256));
                            io::copy(entry, &mut h).map_err(bad)?;
                            rec.sha256 = Some(h.0.finish());
                        }
                    }
                    _ => {}
                }
                self.changes.push(Change::Entry(rec));
            }
        }
        Ok(())
    }
}

/// The paths `path` passes through when followed through `links` (the symlinks of one layer;
/// components not among them are taken as directories), the final one included.
pub(crate) fn local_chain(path: &str, links: &HashMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    let push = |stack: &mut Vec<String>, p: &str| {
        for c in p.rsplit('/') {
            if !c.is_empty() && c != "." {
                stack.push(c.to_string());
            }
        }
    };
    push(&mut pending, path);
    let mut cur = String::from("/");
    let mut hops = 0;
    while let Some(comp) = pending.pop() {
        if comp == ".." {
            cur = parent(&cur).to_string();
            continue;
        }
        let cand = join(&cur, &comp);
        if let Some(target) = links.get(&cand) {
            hops += 1;
            if hops > 40 {
                break;
            }
            if target.starts_with('/') {
                cur = "/".to_string();
            }
            push(&mut pending, target);
            continue;
        }
        cur = cand;
    }
    out.push(cur);
    out
}
