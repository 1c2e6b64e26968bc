//! OCI image layouts (`oci:DIR[:TAG]`): a directory with `oci-layout`, `index.json` and
//! `blobs/`, as skopeo, umoci and podman read and write it.
//!
//! A tag is the `org.opencontainers.image.ref.name` annotation of an `index.json` entry.
//! Updates of `index.json` hold an exclusive lock on the `oci-layout` file (never replaced, so
//! the lock is stable) and replace `index.json` by rename, so concurrent writers do not lose
//! each other's tags.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::blobs::BlobDir;
use crate::error::{Error, Result};
use crate::manifest::{Descriptor, ImageIndex, RawManifest};
use crate::media;
use crate::source::{BlobStream, Sink, Source};

/// The annotation holding a tag in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
const LAYOUT_FILE: &str = "oci-layout";
const LAYOUT_CONTENT: &str = "{\"imageLayoutVersion\":\"1.0.0\"}";

/// An OCI image layout, optionally narrowed to one tag.
#[derive(Clone, Debug)]
pub struct Layout {
    dir: PathBuf,
    tag: Option<String>,
    blobs: BlobDir,
}

impl Layout {
    /// A layout at `dir`; nothing is read or created until used.
    pub fn new(dir: impl Into<PathBuf>, tag: Option<String>) -> Layout {
        let dir = dir.into();
        Layout {
            blobs: BlobDir::new(&dir),
            dir,
            tag,
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The blob directory.
    pub fn blobs(&self) -> &BlobDir {
        &self.blobs
    }

    /// Reads `index.json`.
    pub fn read_index(&self) -> Result<ImageIndex> {
        let layout = self.dir.join(LAYOUT_FILE);
        if !layout.exists() {
            return Err(Error::NotFound(format!(
                "{}: not an OCI image layout (no oci-layout file)",
                self.dir.display()
            )));
        }
        let path = self.dir.join("index.json");
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::Invalid(format!("{}: malformed index.json: {e}", path.display())))
    }

    /// The tags in `index.json`, in order.
    pub fn tags(&self) -> Result<Vec<String>> {
        Ok(self
            .read_index()?
            .manifests
            .iter()
            .filter_map(|d| d.annotation(REF_NAME).map(str::to_string))
            .collect())
    }

    /// The descriptor this layout (and tag) names.
    pub fn root_descriptor(&self) -> Result<Descriptor> {
        let index = self.read_index()?;
        match &self.tag {
            Some(tag) => index
                .manifests
                .iter()
                .find(|d| d.annotation(REF_NAME) == Some(tag.as_str()))
                .cloned()
                .ok_or_else(|| {
                    Error::NotFound(format!("tag {tag:?} in OCI layout {}", self.dir.display()))
                }),
            None => match index.manifests.as_slice() {
                [one] => Ok(one.clone()),
                [] => Err(Error::NotFound(format!(
                    "an image in OCI layout {} (index.json is empty)",
                    self.dir.display()
                ))),
                many => Err(Error::Invalid(format!(
                    "OCI layout {} holds {} images; name one with oci:{}:TAG (tags: {})",
                    self.dir.display(),
                    many.len(),
                    self.dir.display(),
                    many.iter()
                        .filter_map(|d| d.annotation(REF_NAME))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            },
        }
    }

    fn ensure_layout(&self) -> Result<()> {
        std::fs::create_dir_all(self.dir.join("blobs")).map_err(|e| Error::io(&self.dir, e))?;
        let layout = self.dir.join(LAYOUT_FILE);
        if !layout.exists() {
            std::fs::write(&layout, LAYOUT_CONTENT).map_err(|e| Error::io(&layout, e))?;
        }
        let index = self.dir.join("index.json");
        if !index.exists() {
            let empty = ImageIndex {
                schema_version: 2,
                media_type: Some(media::OCI_INDEX.into()),
                artifact_type: None,
                manifests: vec![],
                subject: None,
                annotations: None,
                extra: Default::default(),
            };
            write_atomic(&index, &serde_json::to_vec(&empty).expect("serializes"))?;
        }
        Ok(())
    }

    /// Adds `desc` to `index.json` under this layout's tag (replacing the tag's old entry), or
    /// untagged when there is no tag and the digest is not listed yet.
    pub fn add_to_index(&self, desc: &Descriptor) -> Result<()> {
        use fs4::fs_std::FileExt;
        self.ensure_layout()?;
        let lock_path = self.dir.join(LAYOUT_FILE);
        let lock = std::fs::File::open(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
        lock.lock_exclusive()
            .map_err(|e| Error::io(&lock_path, e))?;
        let mut index = self.read_index()?;
        let mut desc = desc.clone();
        desc.platform = None;
        match &self.tag {
            Some(tag) => {
                index
                    .manifests
                    .retain(|d| d.annotation(REF_NAME) != Some(tag.as_str()));
                desc.annotations
                    .get_or_insert_with(Default::default)
                    .insert(REF_NAME.into(), tag.clone());
                index.manifests.push(desc);
            }
            None => {
                if !index.manifests.iter().any(|d| d.digest == desc.digest) {
                    index.manifests.push(desc);
                }
            }
        }
        let path = self.dir.join("index.json");
        let result = write_atomic(&path, &serde_json::to_vec(&index).expect("serializes"));
        let _ = FileExt::unlock(&lock);
        result
    }
}

/// Writes a file by temp-and-rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Reads and checks a manifest blob named by a descriptor.
pub(crate) async fn read_manifest(blobs: &BlobDir, desc: &Descriptor) -> Result<RawManifest> {
    let bytes = blobs.read(desc).await?;
    RawManifest::from_bytes(bytes, Some(&desc.media_type)).map_err(|source| Error::Manifest {
        what: format!("manifest {}", desc.digest),
        source,
    })
}

#[async_trait]
impl Source for Layout {
    fn name(&self) -> String {
        match &self.tag {
            Some(t) => format!("oci:{}:{t}", self.dir.display()),
            None => format!("oci:{}", self.dir.display()),
        }
    }

    async fn root(&self) -> Result<RawManifest> {
        let desc = self.root_descriptor()?;
        read_manifest(&self.blobs, &desc).await
    }

    async fn manifest(&self, desc: &Descriptor) -> Result<RawManifest> {
        read_manifest(&self.blobs, desc).await
    }

    async fn blob(&self, desc: &Descriptor) -> Result<BlobStream> {
        Ok(Box::pin(self.blobs.open(&desc.digest).await?))
    }
}

#[async_trait]
impl Sink for Layout {
    fn name(&self) -> String {
        Source::name(self)
    }

    async fn has_blob(&self, desc: &Descriptor) -> Result<bool> {
        self.blobs.has(desc).await
    }

    async fn put_blob(
        &self,
        desc: &Descriptor,
        data: BlobStream,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<()> {
        self.ensure_layout()?;
        self.blobs.write_stream(desc, data, progress).await
    }

    async fn put_manifest(&self, manifest: &RawManifest) -> Result<()> {
        self.ensure_layout()?;
        self.blobs
            .write_bytes(&manifest.descriptor(), manifest.bytes())
            .await
    }

    async fn put_root(&self, manifest: &RawManifest) -> Result<()> {
        self.put_manifest(manifest).await?;
        self.add_to_index(&manifest.descriptor())
    }
}
