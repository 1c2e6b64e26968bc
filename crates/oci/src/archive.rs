//! Docker archives (`docker-archive:PATH[:REF]`): the tar files `docker save` writes and
//! `docker load` reads.
//!
//! Two generations exist and both are read:
//!
//! - **Docker 25 and later** put an OCI image layout (`oci-layout`, `index.json`,
//!   `blobs/sha256/…`) in the tar beside `manifest.json`. The image manifest is served as its
//!   exact bytes, found by the config digest `manifest.json` names.
//! - **Classic** archives hold `<id>/layer.tar`, `<hex>.json` configs and `repositories`. There is
//!   no manifest, so one is made (Docker v2 schema 2): uncompressed layers take their digest
//!   from the config's `diff_ids`, compressed ones are hashed once.
//!
//! The tar is indexed once (entry name → byte range, links resolved) and entries are then read
//! by seeking in the file: nothing is extracted and no layer is held in memory.
//!
//! [`ArchiveWriter`] writes the Docker 25 layout, which every `docker load` since Docker 1.10
//! reads (it only looks at `manifest.json`) and skopeo reads too. Blobs are written as they
//! arrive, verified while streaming, into a temp file beside the target that is renamed only
//! when the image is complete.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use plinth_reference::Reference;
use serde::{Deserialize, Deserializer, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::{Mutex, OnceCell, mpsc};

use crate::digest::{Digest, Hasher, Verifier, VerifyError};
use crate::error::{Error, ErrorKind, Result};
use crate::layout::REF_NAME;
use crate::manifest::{ConfigFile, Descriptor, ImageIndex, ImageManifest, RawManifest};
use crate::media::{self, Compression, ManifestKind};
use crate::source::{BlobStream, Sink, Source};

/// The annotation containerd and Docker 25 put on `index.json` entries: the full reference.
pub const CONTAINERD_IMAGE_NAME: &str = "io.containerd.image.name";
/// containerd's media type for a zstd layer in a Docker v2 schema 2 manifest.
const DOCKER_LAYER_ZSTD: &str = "application/vnd.docker.image.rootfs.diff.tar.zstd";
const MANIFEST_JSON: &str = "manifest.json";
const INDEX_JSON: &str = "index.json";
const OCI_LAYOUT: &str = "oci-layout";
const OCI_LAYOUT_CONTENT: &[u8] = b"{\"imageLayoutVersion\":\"1.0.0\"}";
const REPOSITORIES: &str = "repositories";
/// The largest entry read into memory (manifest.json, configs, manifests).
const MAX_SMALL: u64 = 64 << 20;
/// How many links are followed before giving up.
const MAX_LINKS: usize = 16;
/// How deep nested indexes of an embedded layout are searched.
const MAX_INDEX_DEPTH: usize = 8;
const CHUNK: usize = 256 * 1024;

/// Which image of an archive to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// The only image; an error when the archive holds several.
    Only,
    /// The image whose `RepoTags` include this reference (both sides normalized).
    Ref(Reference),
    /// The N-th entry of `manifest.json`, counting from 0 (skopeo's `@N`).
    Index(usize),
}

impl Selector {
    /// Parses the `REF` part of `docker-archive:PATH:REF`: `@N`, or a reference as users write
    /// it (`debian:12`; `latest` is added when there is no tag). Digests are refused, as by
    /// skopeo: archives name images by tag only.
    pub fn parse(s: &str) -> Result<Selector> {
        if let Some(n) = s.strip_prefix('@') {
            return n.parse().map(Selector::Index).map_err(|_| {
                Error::Invalid(format!(
                    "invalid docker-archive image index {s:?}: expected @N, N counting from 0"
                ))
            });
        }
        archive_reference(s).map(Selector::Ref)
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Only => Ok(()),
            Selector::Ref(r) => write!(f, "{}", r.familiar()),
            Selector::Index(n) => write!(f, "@{n}"),
        }
    }
}

/// Parses and checks a reference for an archive: normalized, tagged (`latest` when absent),
/// without digest.
fn archive_reference(s: &str) -> Result<Reference> {
    let r = Reference::parse_normalized(s)
        .map_err(|e| Error::Invalid(format!("invalid docker-archive reference {s:?}: {e}")))?;
    if r.digest().is_some() {
        return Err(Error::Invalid(format!(
            "docker-archive references name a tag, not a digest: {s:?}"
        )));
    }
    Ok(r.tag_name_only())
}

/// One entry of an archive's `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManifestItem {
    /// The config's entry name (`blobs/sha256/<hex>` or `<hex>.json`).
    pub config: String,
    /// Tags in Docker's familiar form (`debian:12`); Docker writes `null` when untagged.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub repo_tags: Vec<String>,
    /// Layer entry names, base first.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub layers: Vec<String>,
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// A docker archive read as an image [`Source`].
#[derive(Clone, Debug)]
pub struct DockerArchive {
    path: PathBuf,
    selector: Selector,
    tar: Arc<OnceCell<Arc<TarIndex>>>,
    image: Arc<OnceCell<Arc<Selected>>>,
}

impl DockerArchive {
    /// The archive at `path`; nothing is read until used.
    pub fn new(path: impl Into<PathBuf>, selector: Selector) -> DockerArchive {
        DockerArchive {
            path: path.into(),
            selector,
            tar: Arc::default(),
            image: Arc::default(),
        }
    }

    /// Parses what follows `docker-archive:`: `PATH`, `PATH:REF` or `PATH:@N` (split at the
    /// first `:`, as skopeo does).
    pub fn parse(spec: &str) -> Result<DockerArchive> {
        let (path, selector) = match spec.split_once(':') {
            Some((path, sel)) => (path, Selector::parse(sel)?),
            None => (spec, Selector::Only),
        };
        if path.is_empty() {
            return Err(Error::Invalid(format!(
                "docker-archive:{spec}: the archive path is empty"
            )));
        }
        Ok(DockerArchive::new(path, selector))
    }

    /// A writer of a new archive at `path`, tagging the image with `reference` when given
    /// (`latest` is added when it has no tag; a digest is refused).
    pub fn writer(path: impl Into<PathBuf>, reference: Option<Reference>) -> Result<ArchiveWriter> {
        ArchiveWriter::create(path.into(), reference)
    }

    /// The archive's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Which image is read.
    pub fn selector(&self) -> &Selector {
        &self.selector
    }

    /// A writer of a new archive at this path, tagged with this selector's reference (the
    /// counterpart of [`DockerArchive::parse`] for `docker-archive:PATH[:REF]` destinations).
    /// `@N` is refused: it selects an image to read.
    pub fn into_writer(self) -> Result<ArchiveWriter> {
        let reference = match self.selector {
            Selector::Only => None,
            Selector::Ref(r) => Some(r),
            Selector::Index(n) => {
                return Err(Error::Invalid(format!(
                    "docker-archive:{}:@{n}: @N selects an image to read; name the image to \
                     write with a reference",
                    self.path.display()
                )));
            }
        };
        DockerArchive::writer(self.path, reference)
    }

    /// The images `manifest.json` lists, in order.
    pub async fn images(&self) -> Result<Vec<ManifestItem>> {
        let tar = self.tar_index().await?;
        blocking(move || {
            let mut file = tar.open()?;
            tar.manifest_items(&mut file)
        })
        .await
    }

    async fn tar_index(&self) -> Result<Arc<TarIndex>> {
        let index = self
            .tar
            .get_or_try_init(|| {
                let path = self.path.clone();
                async move { blocking(move || TarIndex::build(&path).map(Arc::new)).await }
            })
            .await?;
        Ok(index.clone())
    }

    async fn selected(&self) -> Result<Arc<Selected>> {
        let tar = self.tar_index().await?;
        let selected = self
            .image
            .get_or_try_init(|| {
                let selector = self.selector.clone();
                async move { blocking(move || Selected::load(&tar, &selector).map(Arc::new)).await }
            })
            .await?;
        Ok(selected.clone())
    }

    /// Where a blob's bytes are: a blob of the selected image, or `blobs/<alg>/<hex>`.
    async fn locate(&self, desc: &Descriptor) -> Result<Span> {
        let selected = self.selected().await?;
        if let Some(span) = selected.blobs.get(&desc.digest) {
            return Ok(*span);
        }
        let tar = self.tar_index().await?;
        tar.resolve(&blob_entry(&desc.digest))
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound => {
                    Error::NotFound(format!("blob {} in {}", desc.digest, Source::name(self)))
                }
                _ => e,
            })
    }
}

#[async_trait]
impl Source for DockerArchive {
    fn name(&self) -> String {
        match &self.selector {
            Selector::Only => format!("docker-archive:{}", self.path.display()),
            sel => format!("docker-archive:{}:{sel}", self.path.display()),
        }
    }

    async fn root(&self) -> Result<RawManifest> {
        Ok(self.selected().await?.root.clone())
    }

    async fn manifest(&self, desc: &Descriptor) -> Result<RawManifest> {
        let selected = self.selected().await?;
        if &desc.digest == selected.root.digest() {
            return Ok(selected.root.clone());
        }
        let tar = self.tar_index().await?;
        let desc = desc.clone();
        blocking(move || {
            let mut file = tar.open()?;
            tar.read_manifest(&mut file, &desc)
        })
        .await
    }

    async fn blob(&self, desc: &Descriptor) -> Result<BlobStream> {
        let span = self.locate(desc).await?;
        if span.size != desc.size {
            return Err(Error::Verify {
                what: format!("blob {} in {}", desc.digest, Source::name(self)),
                source: VerifyError::Size {
                    digest: desc.digest.clone(),
                    expected: desc.size,
                    actual: span.size,
                },
            });
        }
        let mut file = tokio::fs::File::open(&self.path)
            .await
            .map_err(|e| Error::io(&self.path, e))?;
        file.seek(SeekFrom::Start(span.offset))
            .await
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(Box::pin(file.take(span.size)))
    }
}

/// Runs blocking work (file reads, hashing, tar writing) off the async reactor.
async fn blocking<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    join(tokio::task::spawn_blocking(f)).await?
}

/// The entry name of a blob in an embedded OCI layout.
fn blob_entry(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm().name(), digest.hex())
}

fn archive_error(path: &Path, msg: impl fmt::Display) -> Error {
    Error::Invalid(format!("docker-archive {}: {msg}", path.display()))
}

/// Normalizes an entry name: `./a//b/` → `a/b`. Absolute names and `..` components are
/// refused (the reason is returned).
fn clean_name(name: &str) -> Result<String, &'static str> {
    if name.starts_with('/') {
        return Err("is an absolute path");
    }
    let mut parts = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("has a `..` component"),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// Resolves a symlink target relative to the link's directory, staying inside the archive.
fn symlink_target(link: &str, target: &str) -> Result<String, &'static str> {
    if target.starts_with('/') {
        return Err("points at an absolute path");
    }
    let mut parts: Vec<&str> = link.split('/').collect();
    parts.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop().ok_or("points outside the archive")?;
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// A byte range of the archive file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    offset: u64,
    size: u64,
}

/// What an entry name stands for.
#[derive(Clone, Debug)]
enum Node {
    File(Span),
    HardLink(String),
    Symlink(String),
    Dir,
    Other(tar::EntryType),
}

/// Every entry of the tar, by cleaned name.
#[derive(Debug)]
struct TarIndex {
    path: PathBuf,
    nodes: HashMap<String, Node>,
}

impl TarIndex {
    /// Reads every header once (seeking over contents) and checks the archive is complete and
    /// has no entry escaping its root.
    fn build(path: &Path) -> Result<TarIndex> {
        let mut file = open_archive(path)?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        refuse_compressed(path, &mut file)?;
        let mut archive = tar::Archive::new(file);
        let entries = archive
            .entries_with_seek()
            .map_err(|e| Error::io(path, e))?;
        let mut nodes = HashMap::new();
        for entry in entries {
            let entry = entry.map_err(|e| unreadable(path, len, nodes.is_empty(), e))?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let name = clean_name(&raw).map_err(|why| {
                archive_error(path, format!("refusing the archive: entry {raw:?} {why}"))
            })?;
            let node = entry_node(path, len, &raw, &entry)?;
            if !name.is_empty() {
                nodes.insert(name, node);
            }
        }
        Ok(TarIndex {
            path: path.to_path_buf(),
            nodes,
        })
    }

    fn open(&self) -> Result<std::fs::File> {
        open_archive(&self.path)
    }

    fn has(&self, name: &str) -> bool {
        self.nodes.contains_key(name)
    }

    /// The byte range of a regular file, following hard and symbolic links.
    fn resolve(&self, name: &str) -> Result<Span> {
        let mut current = name.to_string();
        for _ in 0..MAX_LINKS {
            let node = self.nodes.get(&current).ok_or_else(|| {
                Error::NotFound(format!(
                    "docker-archive {}: entry {name:?}",
                    self.path.display()
                ))
            })?;
            current = match node {
                Node::File(span) => return Ok(*span),
                Node::HardLink(target) => target.clone(),
                Node::Symlink(target) => symlink_target(&current, target).map_err(|why| {
                    archive_error(
                        &self.path,
                        format!("symlink {current:?} -> {target:?} {why}"),
                    )
                })?,
                Node::Dir => {
                    return Err(archive_error(
                        &self.path,
                        format!("{name:?} is a directory"),
                    ));
                }
                Node::Other(kind) => {
                    return Err(archive_error(
                        &self.path,
                        format!("{name:?} is a {kind:?} entry, not a regular file"),
                    ));
                }
            };
        }
        Err(archive_error(
            &self.path,
            format!("{name:?}: too many levels of links"),
        ))
    }

    /// Resolves a name listed in `manifest.json`, saying so when it is missing.
    fn resolve_listed(&self, name: &str) -> Result<Span> {
        let clean = clean_name(name).map_err(|why| {
            archive_error(
                &self.path,
                format!("manifest.json names {name:?}, which {why}"),
            )
        })?;
        self.resolve(&clean).map_err(|e| match e {
            Error::NotFound(_) => Error::NotFound(format!(
                "docker-archive {}: {name:?} (listed in manifest.json)",
                self.path.display()
            )),
            e => e,
        })
    }

    /// Reads a small entry (a manifest, config, `manifest.json`) into memory.
    fn read_small(&self, file: &mut std::fs::File, name: &str, span: Span) -> Result<Vec<u8>> {
        if span.size > MAX_SMALL {
            return Err(archive_error(
                &self.path,
                format!(
                    "{name:?} is {} bytes, too large for a manifest or config",
                    span.size
                ),
            ));
        }
        let mut buf = vec![0; span.size as usize];
        file.seek(SeekFrom::Start(span.offset))
            .and_then(|_| file.read_exact(&mut buf))
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(buf)
    }

    /// The first bytes of an entry (for sniffing compression).
    fn head(&self, file: &mut std::fs::File, span: Span) -> Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(8);
        file.seek(SeekFrom::Start(span.offset))
            .and_then(|_| {
                Read::by_ref(file)
                    .take(span.size.min(8))
                    .read_to_end(&mut buf)
            })
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(buf)
    }

    /// The sha256 of an entry, streamed.
    fn hash(&self, file: &mut std::fs::File, span: Span) -> Result<Digest> {
        let mut hasher = Hasher::new(crate::digest::Algorithm::Sha256);
        let mut buf = vec![0; CHUNK];
        file.seek(SeekFrom::Start(span.offset))
            .map_err(|e| Error::io(&self.path, e))?;
        let mut rest = span.size;
        while rest > 0 {
            let n = rest.min(CHUNK as u64) as usize;
            file.read_exact(&mut buf[..n])
                .map_err(|e| Error::io(&self.path, e))?;
            hasher.update(&buf[..n]);
            rest -= n as u64;
        }
        Ok(hasher.finish())
    }

    /// Parses `manifest.json`.
    fn manifest_items(&self, file: &mut std::fs::File) -> Result<Vec<ManifestItem>> {
        let span = self.resolve(MANIFEST_JSON).map_err(|e| match e {
            Error::NotFound(_) => archive_error(
                &self.path,
                "no manifest.json: not an archive written by docker save",
            ),
            e => e,
        })?;
        let bytes = self.read_small(file, MANIFEST_JSON, span)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| archive_error(&self.path, format!("malformed manifest.json: {e}")))
    }

    /// Reads a manifest of the embedded layout by descriptor, verified.
    fn read_manifest(&self, file: &mut std::fs::File, desc: &Descriptor) -> Result<RawManifest> {
        let name = blob_entry(&desc.digest);
        let span = self.resolve(&name)?;
        let bytes = self.read_small(file, &name, span)?;
        let mut verifier = Verifier::new(&desc.digest, Some(desc.size));
        verifier
            .update(&bytes)
            .and_then(|_| verifier.finish())
            .map_err(|source| Error::Verify {
                what: format!("docker-archive {}: {name}", self.path.display()),
                source,
            })?;
        RawManifest::from_bytes(bytes, Some(&desc.media_type)).map_err(|source| Error::Manifest {
            what: format!("docker-archive {}: {name}", self.path.display()),
            source,
        })
    }

    /// Searches the embedded layout (`index.json`, nested indexes) for the image manifest
    /// whose config is `config`.
    fn find_embedded(
        &self,
        file: &mut std::fs::File,
        config: &Digest,
    ) -> Result<Option<RawManifest>> {
        if !self.has(OCI_LAYOUT) || !self.has(INDEX_JSON) {
            return Ok(None);
        }
        let span = self.resolve(INDEX_JSON)?;
        let bytes = self.read_small(file, INDEX_JSON, span)?;
        let index: ImageIndex = serde_json::from_slice(&bytes)
            .map_err(|e| archive_error(&self.path, format!("malformed index.json: {e}")))?;
        self.search(file, &index.manifests, config, 0)
    }

    fn search(
        &self,
        file: &mut std::fs::File,
        descs: &[Descriptor],
        config: &Digest,
        depth: usize,
    ) -> Result<Option<RawManifest>> {
        for desc in descs {
            let Some(kind) = media::manifest_kind(&desc.media_type) else {
                continue;
            };
            if !self.has(&blob_entry(&desc.digest)) {
                continue; // children of other platforms are often left out
            }
            // A manifest plinth cannot parse may belong to another image (an attestation, a
            // newer format): skip it. Corrupt bytes (a digest mismatch) are an error.
            let raw = match self.read_manifest(file, desc) {
                Ok(raw) => raw,
                Err(Error::Manifest { .. }) => continue,
                Err(e) => return Err(e),
            };
            let found = match (kind, raw.as_index(), raw.as_image()) {
                (ManifestKind::Index, Some(index), _) if depth < MAX_INDEX_DEPTH => {
                    self.search(file, &index.manifests, config, depth + 1)?
                }
                (ManifestKind::Image, _, Some(image)) if &image.config.digest == config => {
                    Some(raw)
                }
                _ => None,
            };
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }
}

fn open_archive(path: &Path) -> Result<std::fs::File> {
    std::fs::File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => Error::NotFound(format!("docker-archive {}", path.display())),
        _ => Error::io(path, e),
    })
}

/// Explains why the tar cannot be read: cut short, not a tar at all, or corrupt.
fn unreadable(path: &Path, len: u64, first: bool, e: io::Error) -> Error {
    if !len.is_multiple_of(512) {
        archive_error(
            path,
            format!(
                "truncated archive: {len} bytes is not a whole number of 512-byte tar blocks ({e})"
            ),
        )
    } else if first {
        archive_error(path, "not a tar archive")
    } else {
        archive_error(path, format!("corrupt tar archive: {e}"))
    }
}

/// Refuses gzip/zstd-compressed archives: entries are read by seeking, which needs a plain tar.
fn refuse_compressed(path: &Path, file: &mut std::fs::File) -> Result<()> {
    let mut head = Vec::with_capacity(4);
    Read::by_ref(file)
        .take(4)
        .read_to_end(&mut head)
        .and_then(|_| file.seek(SeekFrom::Start(0)))
        .map_err(|e| Error::io(path, e))?;
    let how = match media::sniff_compression(&head) {
        Compression::None => return Ok(()),
        Compression::Gzip => "gzip",
        Compression::Zstd => "zstd",
    };
    Err(Error::Unsupported(format!(
        "docker-archive {}: the archive is {how}-compressed; decompress it first \
         (plinth reads the tar in place)",
        path.display()
    )))
}

/// Classifies one tar entry, checking that its data lies inside the file.
fn entry_node<R: Read>(
    path: &Path,
    len: u64,
    raw: &str,
    entry: &tar::Entry<'_, R>,
) -> Result<Node> {
    use tar::EntryType;
    let kind = entry.header().entry_type();
    let node = match kind {
        EntryType::Regular | EntryType::Continuous => {
            let span = Span {
                offset: entry.raw_file_position(),
                size: entry.size(),
            };
            let end = span.offset.saturating_add(span.size);
            if end > len {
                return Err(archive_error(
                    path,
                    format!(
                        "truncated archive: entry {raw:?} ends at byte {end} but the file has \
                         {len} bytes"
                    ),
                ));
            }
            Node::File(span)
        }
        EntryType::Link | EntryType::Symlink => {
            let target = entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            if kind == EntryType::Symlink {
                Node::Symlink(target)
            } else {
                Node::HardLink(clean_name(&target).map_err(|why| {
                    archive_error(
                        path,
                        format!("refusing the archive: hard link {raw:?} -> {target:?} {why}"),
                    )
                })?)
            }
        }
        EntryType::Directory => Node::Dir,
        other => Node::Other(other),
    };
    Ok(node)
}

/// The selected image: its manifest and where its blobs are.
#[derive(Debug)]
struct Selected {
    root: RawManifest,
    blobs: HashMap<Digest, Span>,
}

impl Selected {
    fn load(tar: &TarIndex, selector: &Selector) -> Result<Selected> {
        let mut file = tar.open()?;
        let items = tar.manifest_items(&mut file)?;
        let item = pick(&tar.path, &items, selector)?;
        let config_span = tar.resolve_listed(&item.config)?;
        let layer_spans = item
            .layers
            .iter()
            .map(|l| tar.resolve_listed(l))
            .collect::<Result<Vec<_>>>()?;
        let config_bytes = tar.read_small(&mut file, &item.config, config_span)?;
        let config_digest = Digest::sha256(&config_bytes);
        let mut blobs = HashMap::from([(config_digest.clone(), config_span)]);
        if let Some(root) = tar.find_embedded(&mut file, &config_digest)? {
            return Ok(Selected { root, blobs });
        }
        let config = ConfigFile::from_slice(&config_bytes).map_err(|e| {
            archive_error(
                &tar.path,
                format!("malformed image config {:?}: {e}", item.config),
            )
        })?;
        let diff_ids = config.diff_ids();
        if diff_ids.len() != layer_spans.len() {
            return Err(archive_error(
                &tar.path,
                format!(
                    "image config {:?} lists {} diff_ids but manifest.json lists {} layers",
                    item.config,
                    diff_ids.len(),
                    layer_spans.len()
                ),
            ));
        }
        let mut layers = Vec::with_capacity(layer_spans.len());
        for (span, diff_id) in layer_spans.iter().zip(diff_ids) {
            let desc = layer_descriptor(tar, &mut file, *span, diff_id)?;
            blobs.insert(desc.digest.clone(), *span);
            layers.push(desc);
        }
        let config_desc = Descriptor::new(media::DOCKER_CONFIG, config_digest, config_span.size);
        Ok(Selected {
            root: synthesize(config_desc, layers),
            blobs,
        })
    }
}

/// A Docker v2 schema 2 manifest for a classic archive's image.
fn synthesize(config: Descriptor, layers: Vec<Descriptor>) -> RawManifest {
    RawManifest::from_image(&ImageManifest {
        schema_version: 2,
        media_type: Some(media::DOCKER_MANIFEST.into()),
        artifact_type: None,
        config,
        layers,
        subject: None,
        annotations: None,
        extra: Default::default(),
    })
}

/// A layer's descriptor: an uncompressed tar is named by its diff id, a compressed one is
/// hashed.
fn layer_descriptor(
    tar: &TarIndex,
    file: &mut std::fs::File,
    span: Span,
    diff_id: &Digest,
) -> Result<Descriptor> {
    let head = tar.head(file, span)?;
    let (media_type, digest) = match media::sniff_compression(&head) {
        Compression::None => (media::DOCKER_LAYER, diff_id.clone()),
        Compression::Gzip => (media::DOCKER_LAYER_GZIP, tar.hash(file, span)?),
        Compression::Zstd => (DOCKER_LAYER_ZSTD, tar.hash(file, span)?),
    };
    Ok(Descriptor::new(media_type, digest, span.size))
}

/// Picks the image of `manifest.json` the selector names.
fn pick<'a>(
    path: &Path,
    items: &'a [ManifestItem],
    selector: &Selector,
) -> Result<&'a ManifestItem> {
    match selector {
        Selector::Index(n) => items.get(*n).ok_or_else(|| {
            Error::NotFound(format!(
                "image @{n} in docker-archive {} (it holds {} images, @0 to @{})",
                path.display(),
                items.len(),
                items.len().saturating_sub(1)
            ))
        }),
        Selector::Ref(wanted) => items
            .iter()
            .find(|item| item.repo_tags.iter().any(|t| same_reference(t, wanted)))
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "image {} in docker-archive {} (it has: {})",
                    wanted.familiar(),
                    path.display(),
                    describe_tags(items)
                ))
            }),
        Selector::Only => match items {
            [one] => Ok(one),
            [] => Err(Error::NotFound(format!(
                "an image in docker-archive {} (manifest.json is empty)",
                path.display()
            ))),
            many => Err(Error::Invalid(format!(
                "docker-archive {} holds {} images; name one with docker-archive:{}:REF or \
                 :@N (it has: {})",
                path.display(),
                many.len(),
                path.display(),
                describe_tags(many)
            ))),
        },
    }
}

/// Whether a `RepoTags` entry names the same image as `wanted` after normalization.
fn same_reference(tag: &str, wanted: &Reference) -> bool {
    Reference::parse_normalized(tag).is_ok_and(|r| r.tag_name_only() == wanted.tag_name_only())
}

/// `debian:12, debian:latest, @2 (untagged)` for error messages.
fn describe_tags(items: &[ManifestItem]) -> String {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item.repo_tags.as_slice() {
            [] => format!("@{i} (untagged)"),
            tags => format!("@{i} {}", tags.join(" ")),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Writes one image as a Docker 25 style archive; made by [`DockerArchive::writer`].
///
/// Blobs and manifests become `blobs/<alg>/<hex>` entries as they arrive; [`Sink::put_root`]
/// adds `oci-layout`, `index.json`, `manifest.json` and `repositories` and renames the temp file
/// to the target. Any failure discards the temp file; later calls then fail too.
pub struct ArchiveWriter {
    path: PathBuf,
    reference: Option<Reference>,
    state: Mutex<Phase>,
}

enum Phase {
    Open(Box<Open>),
    Failed(String),
    Done,
}

/// The temp file being written, with what it holds.
struct Open {
    builder: tar::Builder<std::fs::File>,
    temp: tempfile::TempPath,
    written: HashSet<Digest>,
    dirs: HashSet<String>,
}

impl fmt::Debug for ArchiveWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArchiveWriter")
            .field("path", &self.path)
            .field("reference", &self.reference)
            .finish_non_exhaustive()
    }
}

impl ArchiveWriter {
    fn create(path: PathBuf, reference: Option<Reference>) -> Result<ArchiveWriter> {
        let reference = match reference {
            Some(r) if r.digest().is_some() => {
                return Err(Error::Invalid(format!(
                    "docker-archive references name a tag, not a digest: {r}"
                )));
            }
            r => r.map(|r| r.tag_name_only()),
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{file_name}.tmp-"))
            .tempfile_in(dir)
            .map_err(|e| Error::io(dir, e))?;
        let (file, temp) = temp.into_parts();
        let builder = tar::Builder::new(file);
        let open = Open {
            builder,
            temp,
            written: HashSet::new(),
            dirs: HashSet::new(),
        };
        Ok(ArchiveWriter {
            path,
            reference,
            state: Mutex::new(Phase::Open(Box::new(open))),
        })
    }

    /// The target path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The reference the image is tagged with (`latest` added when it had no tag).
    pub fn reference(&self) -> Option<&Reference> {
        self.reference.as_ref()
    }

    /// Takes the open archive out of the state, leaving a failure behind in case the caller
    /// is cancelled before putting it back.
    fn take_open(&self, phase: &mut Phase) -> Result<Box<Open>> {
        let interrupted = Phase::Failed("an earlier write was interrupted".into());
        match std::mem::replace(phase, interrupted) {
            Phase::Open(open) => Ok(open),
            Phase::Failed(why) => {
                *phase = Phase::Failed(why.clone());
                Err(Error::Invalid(format!(
                    "{}: an earlier write failed ({why}); nothing was written",
                    Sink::name(self)
                )))
            }
            Phase::Done => {
                *phase = Phase::Done;
                Err(Error::Invalid(format!(
                    "{} is already complete",
                    Sink::name(self)
                )))
            }
        }
    }

    /// Records the outcome of an operation on the open archive: put it back, or discard it.
    fn settle(phase: &mut Phase, outcome: Result<Box<Open>>) -> Result<()> {
        match outcome {
            Ok(open) => {
                *phase = Phase::Open(open);
                Ok(())
            }
            Err(e) => {
                *phase = Phase::Failed(e.to_string());
                Err(e)
            }
        }
    }

    /// Streams a blob into a new entry: the async side reads, verifies and reports progress;
    /// a blocking task appends the chunks to the tar.
    async fn stream_blob(
        &self,
        open: Box<Open>,
        desc: &Descriptor,
        mut data: BlobStream,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Box<Open>> {
        let (tx, rx) = mpsc::channel::<Result<Bytes, ()>>(4);
        let (digest, size) = (desc.digest.clone(), desc.size);
        let task = tokio::task::spawn_blocking(move || {
            let mut open = open;
            let result = open.append_blob(&digest, size, ChannelReader::new(rx));
            (open, result)
        });
        let fed = feed(desc, &mut data, progress, &tx).await;
        if fed.is_err() {
            let _ = tx.send(Err(())).await;
        }
        drop(tx);
        let (open, appended) = join(task).await?;
        let complete = fed?;
        appended.map_err(|e| Error::io(&self.path, e))?;
        if !complete {
            return Err(archive_error(&self.path, "the tar writer stopped early"));
        }
        Ok(open)
    }

    /// Runs a blocking operation on the open archive.
    async fn with_open<F>(&self, f: F) -> Result<()>
    where
        F: FnOnce(&mut Open) -> io::Result<()> + Send + 'static,
    {
        let mut phase = self.state.lock().await;
        let open = self.take_open(&mut phase)?;
        let path = self.path.clone();
        let outcome = blocking(move || {
            let mut open = open;
            f(&mut open).map_err(|e| Error::io(&path, e))?;
            Ok(open)
        })
        .await;
        Self::settle(&mut phase, outcome)
    }

    /// The files that finish the archive.
    fn closing_files(
        &self,
        manifest: &RawManifest,
        image: &ImageManifest,
    ) -> Vec<(String, Vec<u8>)> {
        let mut files = vec![
            (OCI_LAYOUT.to_string(), OCI_LAYOUT_CONTENT.to_vec()),
            (INDEX_JSON.to_string(), self.index_json(manifest)),
            (MANIFEST_JSON.to_string(), self.manifest_json(image)),
        ];
        if let Some(r) = &self.reference {
            files.push((REPOSITORIES.to_string(), repositories(r, image)));
        }
        files
    }

    fn index_json(&self, manifest: &RawManifest) -> Vec<u8> {
        let mut desc = manifest.descriptor();
        if let Some(r) = &self.reference {
            desc.annotations = Some(BTreeMap::from([
                (CONTAINERD_IMAGE_NAME.to_string(), r.to_string()),
                (REF_NAME.to_string(), r.tag_or_latest().to_string()),
            ]));
        }
        let index = ImageIndex {
            schema_version: 2,
            media_type: Some(media::OCI_INDEX.into()),
            artifact_type: None,
            manifests: vec![desc],
            subject: None,
            annotations: None,
            extra: Default::default(),
        };
        serde_json::to_vec(&index).expect("an index serializes")
    }

    fn manifest_json(&self, image: &ImageManifest) -> Vec<u8> {
        let item = ManifestItem {
            config: blob_entry(&image.config.digest),
            repo_tags: self.reference.iter().map(Reference::familiar).collect(),
            layers: image.layers.iter().map(|l| blob_entry(&l.digest)).collect(),
        };
        serde_json::to_vec(&[item]).expect("manifest.json serializes")
    }
}

/// The legacy `repositories` file: `{"name":{"tag":"<top layer id>"}}`.
fn repositories(reference: &Reference, image: &ImageManifest) -> Vec<u8> {
    let top = image.layers.last().unwrap_or(&image.config);
    let tags = BTreeMap::from([(reference.tag_or_latest(), top.digest.hex())]);
    let repos = BTreeMap::from([(reference.familiar_name(), tags)]);
    serde_json::to_vec(&repos).expect("repositories serializes")
}

/// Reads a blob stream, verifying it, and hands the chunks to the tar writer. `Ok(false)` when
/// the writer stopped taking chunks (its own error says why).
async fn feed(
    desc: &Descriptor,
    data: &mut BlobStream,
    progress: &(dyn Fn(u64) + Send + Sync),
    tx: &mpsc::Sender<Result<Bytes, ()>>,
) -> Result<bool> {
    let what = || format!("blob {}", desc.digest);
    let mut verifier = Verifier::new(&desc.digest, Some(desc.size));
    loop {
        let mut buf = vec![0u8; CHUNK];
        let n = data.read(&mut buf).await.map_err(|e| Error::Other {
            kind: ErrorKind::Network,
            source: format!("reading {}: {e}", what()).into(),
        })?;
        if n == 0 {
            break;
        }
        verifier.update(&buf[..n]).map_err(|source| Error::Verify {
            what: what(),
            source,
        })?;
        buf.truncate(n);
        if tx.send(Ok(Bytes::from(buf))).await.is_err() {
            return Ok(false);
        }
        progress(n as u64);
    }
    verifier.finish().map_err(|source| Error::Verify {
        what: what(),
        source,
    })?;
    Ok(true)
}

/// Waits for a blocking task; its panic is resumed here.
async fn join<T>(task: tokio::task::JoinHandle<T>) -> Result<T> {
    task.await.map_err(|e| match e.try_into_panic() {
        Ok(panic) => std::panic::resume_unwind(panic),
        Err(e) => Error::Other {
            kind: ErrorKind::Io,
            source: Box::new(e),
        },
    })
}

impl Open {
    /// Appends a regular file entry.
    fn append(&mut self, name: &str, size: u64, data: impl Read) -> io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(0);
        self.builder.append_data(&mut header, name, data)
    }

    /// Appends `blobs/` and `blobs/<alg>/` directory entries once.
    fn ensure_dirs(&mut self, algorithm: &str) -> io::Result<()> {
        for dir in ["blobs/".to_string(), format!("blobs/{algorithm}/")] {
            if self.dirs.insert(dir.clone()) {
                let mut header = tar::Header::new_gnu();
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                header.set_mode(0o755);
                header.set_mtime(0);
                self.builder.append_data(&mut header, &dir, io::empty())?;
            }
        }
        Ok(())
    }

    /// Appends a blob as `blobs/<alg>/<hex>`.
    fn append_blob(&mut self, digest: &Digest, size: u64, data: impl Read) -> io::Result<()> {
        self.ensure_dirs(digest.algorithm().name())?;
        self.append(&blob_entry(digest), size, data)
    }

    /// Writes the closing files, completes the tar and renames it to `target`.
    fn finish(mut self, files: Vec<(String, Vec<u8>)>, target: &Path) -> io::Result<()> {
        for (name, bytes) in files {
            self.append(&name, bytes.len() as u64, &bytes[..])?;
        }
        let file = self.builder.into_inner()?;
        file.sync_all()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
        }
        drop(file);
        self.temp.persist(target).map_err(|e| e.error)
    }
}

/// Reads chunks sent by [`feed`]; an `Err` chunk fails the read (and so the entry).
struct ChannelReader {
    rx: mpsc::Receiver<Result<Bytes, ()>>,
    chunk: Bytes,
}

impl ChannelReader {
    fn new(rx: mpsc::Receiver<Result<Bytes, ()>>) -> ChannelReader {
        ChannelReader {
            rx,
            chunk: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(())) => return Err(io::Error::other("the blob stream failed")),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

#[async_trait]
impl Sink for ArchiveWriter {
    fn name(&self) -> String {
        match &self.reference {
            Some(r) => format!("docker-archive:{}:{}", self.path.display(), r.familiar()),
            None => format!("docker-archive:{}", self.path.display()),
        }
    }

    async fn has_blob(&self, desc: &Descriptor) -> Result<bool> {
        match &*self.state.lock().await {
            Phase::Open(open) => Ok(open.written.contains(&desc.digest)),
            _ => Ok(false),
        }
    }

    async fn put_blob(
        &self,
        desc: &Descriptor,
        data: BlobStream,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<()> {
        let mut phase = self.state.lock().await;
        let open = self.take_open(&mut phase)?;
        if open.written.contains(&desc.digest) {
            return Self::settle(&mut phase, Ok(open));
        }
        let outcome = self.stream_blob(open, desc, data, progress).await;
        let outcome = outcome.map(|mut open| {
            open.written.insert(desc.digest.clone());
            open
        });
        Self::settle(&mut phase, outcome)
    }

    async fn put_manifest(&self, manifest: &RawManifest) -> Result<()> {
        let digest = manifest.digest().clone();
        let bytes = manifest.bytes().clone();
        self.with_open(move |open| {
            if open.written.insert(digest.clone()) {
                open.append_blob(&digest, bytes.len() as u64, &bytes[..])?;
            }
            Ok(())
        })
        .await
    }

    async fn put_root(&self, manifest: &RawManifest) -> Result<()> {
        let image = manifest.as_image().ok_or_else(|| {
            Error::Unsupported(format!(
                "{} holds one single-platform image, not an index",
                Sink::name(self)
            ))
        })?;
        self.put_manifest(manifest).await?;
        let mut phase = self.state.lock().await;
        let open = self.take_open(&mut phase)?;
        let missing = std::iter::once(&image.config)
            .chain(&image.layers)
            .find(|d| !open.written.contains(&d.digest));
        if let Some(d) = missing {
            let e = archive_error(
                &self.path,
                format!(
                    "cannot finish: blob {} of the image was never written",
                    d.digest
                ),
            );
            *phase = Phase::Failed(e.to_string());
            return Err(e);
        }
        let files = self.closing_files(manifest, image);
        let target = self.path.clone();
        let path = self.path.clone();
        blocking(move || {
            (*open)
                .finish(files, &target)
                .map_err(|e| Error::io(&path, e))
        })
        .await
        .inspect_err(|e| *phase = Phase::Failed(e.to_string()))?;
        *phase = Phase::Done;
        Ok(())
    }

    fn max_concurrency(&self) -> usize {
        1
    }

    fn holds_indexes(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_names_and_refuses_escapes() {
        assert_eq!(clean_name("./a//b/").unwrap(), "a/b");
        assert_eq!(clean_name("manifest.json").unwrap(), "manifest.json");
        assert!(clean_name("../evil").is_err());
        assert!(clean_name("a/../../evil").is_err());
        assert!(clean_name("/etc/passwd").is_err());
        assert_eq!(
            symlink_target("a/layer.tar", "../b/layer.tar").unwrap(),
            "b/layer.tar"
        );
        assert!(symlink_target("a/layer.tar", "../../x").is_err());
        assert!(symlink_target("a/layer.tar", "/x").is_err());
    }

    #[test]
    fn parses_selectors() {
        assert_eq!(Selector::parse("@2").unwrap(), Selector::Index(2));
        assert!(Selector::parse("@x").is_err());
        let Selector::Ref(r) = Selector::parse("debian").unwrap() else {
            panic!("not a reference")
        };
        assert_eq!(r.to_string(), "docker.io/library/debian:latest");
        assert!(Selector::parse(&format!("debian@sha256:{}", "a".repeat(64))).is_err());
        let a = DockerArchive::parse("img.tar:debian:12").unwrap();
        assert_eq!(a.path(), Path::new("img.tar"));
        assert_eq!(Source::name(&a), "docker-archive:img.tar:debian:12");
    }

    #[test]
    fn manifest_json_accepts_null_tags() {
        let items: Vec<ManifestItem> = serde_json::from_str(
            r#"[{"Config":"a.json","RepoTags":null,"Layers":["l/layer.tar"]}]"#,
        )
        .unwrap();
        assert!(items[0].repo_tags.is_empty());
    }
}
