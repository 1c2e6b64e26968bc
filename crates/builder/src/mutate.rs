//! New images on a base, built lazily.
//!
//! A [`Base`] is a resolved base image (one platform) or scratch: its manifest, config and layer
//! descriptors, and the [`Source`] its blobs come from. Nothing of its layers is read: an
//! [`Image`] built on it refers to them by descriptor, and [`push`] only transfers a base layer
//! when the destination has it neither already nor can mount it from the base's repository
//! (an OCI layout or docker-archive destination has to receive the bytes, of course).
//!
//! Configs are edited through the typed view of `plinth-oci`, which keeps every field it does
//! not know (`extra`), so nothing of the base's config is lost.
//!
//! # Base annotations
//!
//! Every image built on a base gets the OCI annotations
//! - `org.opencontainers.image.base.name`: the base's reference **without** a digest, fully
//!   qualified (`docker.io/library/debian:bookworm-slim`; a digest-only reference keeps its
//!   repository name alone);
//! - `org.opencontainers.image.base.digest`: the digest of the base's **platform manifest**
//!   (the single-platform image the layers come from), not of an index it was picked from.
//!
//! `plinth rebase` reads them to find the old base.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::stream::{self, TryStreamExt};
use plinth_oci::manifest::{ConfigFile, Descriptor, History, ImageIndex, ImageManifest, RootFs};
use plinth_oci::media;
use plinth_oci::source::{BlobAction, BlobStream, SharedProgress, Sink, Source};
use plinth_oci::{Digest, Platform, RawManifest};

use crate::error::{BuildError, Result};
use crate::layer::{BuiltLayer, LayerFile};

/// The annotation naming the base image (without digest).
pub const BASE_NAME: &str = "org.opencontainers.image.base.name";
/// The annotation holding the digest of the base's platform manifest.
pub const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// Where a blob's bytes come from.
#[derive(Clone)]
pub enum BlobFrom {
    /// An image source (a base image on a registry, in a layout or archive).
    Source(Arc<dyn Source>),
    /// A layer just built (a temp file kept alive by the `Arc`, or a layer cache blob).
    File(Arc<LayerFile>),
    /// Bytes in memory.
    Bytes(Bytes),
}

impl std::fmt::Debug for BlobFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlobFrom::Source(s) => write!(f, "Source({})", s.name()),
            BlobFrom::File(p) => write!(f, "File({})", p.path().display()),
            BlobFrom::Bytes(b) => write!(f, "Bytes({})", b.len()),
        }
    }
}

/// A layer of an image being built: its descriptor, diff_id and where its bytes are.
#[derive(Clone, Debug)]
pub struct LayerRef {
    /// The blob descriptor, as written in the manifest.
    pub descriptor: Descriptor,
    /// The digest of the uncompressed tar.
    pub diff_id: Digest,
    /// Where the blob comes from.
    pub from: BlobFrom,
}

impl LayerRef {
    /// A layer just written.
    pub fn built(layer: BuiltLayer) -> LayerRef {
        LayerRef {
            descriptor: layer.descriptor,
            diff_id: layer.diff_id,
            from: BlobFrom::File(Arc::new(layer.file)),
        }
    }
}

/// A base image resolved to one platform, or scratch.
#[derive(Clone, Debug)]
pub struct Base {
    /// The name for the base annotation; `None` for scratch.
    pub name: Option<String>,
    /// The platform manifest; `None` for scratch.
    pub manifest: Option<RawManifest>,
    /// The config.
    pub config: ConfigFile,
    /// The config's exact bytes (empty for scratch).
    pub config_bytes: Bytes,
    /// The layers, base first.
    pub layers: Vec<LayerRef>,
}

/// Reads a whole (small) blob, verifying it.
pub async fn read_blob(source: &dyn Source, desc: &Descriptor) -> Result<Bytes> {
    Ok(plinth_oci::source::read_small_blob(source, desc)
        .await?
        .into())
}

/// The layer media type of an OCI manifest for a layer of `media_type` (Docker types become
/// their OCI equivalents; the blob bytes are the same).
pub fn oci_layer_type(media_type: &str) -> String {
    match media_type {
        media::DOCKER_LAYER_GZIP => media::OCI_LAYER_GZIP.into(),
        media::DOCKER_LAYER => media::OCI_LAYER.into(),
        "application/vnd.docker.image.rootfs.diff.tar.zstd" => media::OCI_LAYER_ZSTD.into(),
        media::DOCKER_FOREIGN_LAYER => {
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip".into()
        }
        other => other.into(),
    }
}

/// Picks the manifest for `platform` (the host's when `None`) from what `source` names.
pub async fn platform_manifest(
    source: &dyn Source,
    platform: Option<&Platform>,
) -> Result<RawManifest> {
    let root = source.root().await?;
    if !root.is_index() {
        return Ok(root);
    }
    let want = platform.cloned().unwrap_or_else(Platform::host);
    let child = plinth_oci::source::select_platform(source, root, &want).await?;
    if child.as_image().is_none() {
        return Err(BuildError::Unsupported(format!(
            "{}: nested indexes are not supported as a base",
            source.name()
        )));
    }
    Ok(child)
}

impl Base {
    /// Scratch for `platform`: no layers, an empty config.
    pub fn scratch(platform: &Platform) -> Base {
        let config = ConfigFile {
            architecture: platform.architecture.clone(),
            os: platform.os.clone(),
            variant: platform.variant.clone(),
            ..ConfigFile::default()
        };
        Base {
            name: None,
            manifest: None,
            config,
            config_bytes: Bytes::new(),
            layers: vec![],
        }
    }

    /// Resolves what `source` names for `platform` (an index is narrowed to it; a
    /// single-platform image is taken as it is). `name` is recorded in the base annotation.
    pub async fn resolve(
        source: Arc<dyn Source>,
        name: Option<String>,
        platform: Option<&Platform>,
    ) -> Result<Base> {
        let manifest = platform_manifest(source.as_ref(), platform).await?;
        Base::from_manifest(source, name, manifest).await
    }

    /// A base from a platform manifest of `source`.
    pub async fn from_manifest(
        source: Arc<dyn Source>,
        name: Option<String>,
        manifest: RawManifest,
    ) -> Result<Base> {
        let image = manifest.as_image().ok_or_else(|| {
            BuildError::Invalid(format!("{}: not an image manifest", source.name()))
        })?;
        let config_bytes = read_blob(source.as_ref(), &image.config).await?;
        let config = ConfigFile::from_slice(&config_bytes).map_err(|e| {
            BuildError::Invalid(format!("{}: malformed config: {e}", source.name()))
        })?;
        let diff_ids = config.diff_ids();
        if diff_ids.len() != image.layers.len() {
            return Err(BuildError::Invalid(format!(
                "{}: the manifest has {} layers but the config {} diff_ids",
                source.name(),
                image.layers.len(),
                diff_ids.len()
            )));
        }
        let layers = image
            .layers
            .iter()
            .zip(diff_ids)
            .map(|(d, id)| LayerRef {
                descriptor: d.clone(),
                diff_id: id.clone(),
                from: BlobFrom::Source(source.clone()),
            })
            .collect();
        Ok(Base {
            name,
            config: config.clone(),
            config_bytes,
            manifest: Some(manifest),
            layers,
        })
    }

    /// Whether this is scratch (no image at all).
    pub fn is_scratch(&self) -> bool {
        self.manifest.is_none()
    }

    /// The platform of the base.
    pub fn platform(&self) -> Platform {
        self.config.platform()
    }

    /// The digest of the platform manifest.
    pub fn digest(&self) -> Option<&Digest> {
        self.manifest.as_ref().map(|m| m.digest())
    }
}

/// RFC 3339 for seconds since the epoch (UTC).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// An image under construction.
#[derive(Clone, Debug)]
pub struct Image {
    /// The config being edited (unknown fields are kept).
    pub config: ConfigFile,
    /// Layers, base first.
    pub layers: Vec<LayerRef>,
    /// Manifest annotations.
    pub annotations: BTreeMap<String, String>,
    /// The creation time written in the config and history.
    pub created: String,
}

impl Image {
    /// A new image on `base`, created at `epoch` (seconds): the base's config, layers and
    /// history, plus the base annotations when the base is an image.
    pub fn on(base: &Base, epoch: u64) -> Image {
        let mut config = base.config.clone();
        let created = rfc3339(epoch);
        config.created = Some(created.clone());
        if config.rootfs.is_none() {
            config.rootfs = Some(RootFs {
                kind: "layers".into(),
                diff_ids: vec![],
            });
        }
        let mut annotations = BTreeMap::new();
        if let (Some(name), Some(digest)) = (&base.name, base.digest()) {
            annotations.insert(BASE_NAME.to_string(), name.clone());
            annotations.insert(BASE_DIGEST.to_string(), digest.to_string());
        }
        Image {
            config,
            layers: base.layers.clone(),
            annotations,
            created,
        }
    }

    /// The runtime config, created when absent.
    pub fn runtime(&mut self) -> &mut plinth_oci::manifest::ContainerConfig {
        self.config.config.get_or_insert_with(Default::default)
    }

    /// Appends a layer with its history entry.
    pub fn append(&mut self, layer: LayerRef, created_by: &str) {
        self.config
            .rootfs
            .get_or_insert_with(|| RootFs {
                kind: "layers".into(),
                diff_ids: vec![],
            })
            .diff_ids
            .push(layer.diff_id.clone());
        self.layers.push(layer);
        self.history(created_by, false);
    }

    /// Adds a history entry (`empty` for steps that made no layer).
    pub fn history(&mut self, created_by: &str, empty: bool) {
        self.config
            .history
            .get_or_insert_with(Vec::new)
            .push(History {
                created: Some(self.created.clone()),
                created_by: Some(created_by.to_string()),
                comment: Some("plinth".into()),
                empty_layer: empty.then_some(true),
                ..History::default()
            });
    }

    /// Serializes the config and manifest.
    pub fn finish(&self) -> Result<Finished> {
        let config_bytes = Bytes::from(
            serde_json::to_vec(&self.config)
                .map_err(|e| BuildError::Invalid(format!("cannot serialize the config: {e}")))?,
        );
        let config_desc = Descriptor::new(
            media::OCI_CONFIG,
            Digest::sha256(&config_bytes),
            config_bytes.len() as u64,
        );
        let layers: Vec<Descriptor> = self
            .layers
            .iter()
            .map(|l| {
                let mut d = l.descriptor.clone();
                d.media_type = oci_layer_type(&d.media_type);
                d
            })
            .collect();
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(media::OCI_MANIFEST.into()),
            artifact_type: None,
            config: config_desc.clone(),
            layers,
            subject: None,
            annotations: (!self.annotations.is_empty()).then(|| self.annotations.clone()),
            extra: Default::default(),
        };
        let manifest = RawManifest::from_image(&manifest);
        let mut blobs: Vec<(Descriptor, BlobFrom)> = self
            .layers
            .iter()
            .map(|l| (l.descriptor.clone(), l.from.clone()))
            .collect();
        blobs.push((config_desc, BlobFrom::Bytes(config_bytes.clone())));
        Ok(Finished {
            manifest,
            config: config_bytes,
            blobs,
            platform: self.config.platform(),
        })
    }
}

/// A finished image: manifest and config bytes, and where every blob comes from.
#[derive(Clone, Debug)]
pub struct Finished {
    /// The manifest.
    pub manifest: RawManifest,
    /// The config bytes.
    pub config: Bytes,
    /// Layers and config, with their origins.
    pub blobs: Vec<(Descriptor, BlobFrom)>,
    /// The image's platform.
    pub platform: Platform,
}

/// What [`push`] did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct PushReport {
    /// The digest of the root written (manifest or index).
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Blobs uploaded or written.
    pub uploaded: usize,
    /// Bytes uploaded or written.
    pub uploaded_bytes: u64,
    /// Blobs mounted from the base's repository.
    pub mounted: usize,
    /// Blobs the destination had already.
    pub existing: usize,
}

/// An OCI index over several platform images.
pub fn index_of(images: &[Finished]) -> RawManifest {
    let manifests = images
        .iter()
        .map(|f| {
            let mut d = f.manifest.descriptor();
            let mut p = f.platform.clone();
            p.os_features = None;
            d.platform = Some(p);
            d
        })
        .collect();
    RawManifest::from_index(&ImageIndex {
        schema_version: 2,
        media_type: Some(media::OCI_INDEX.into()),
        artifact_type: None,
        manifests,
        subject: None,
        annotations: None,
        extra: Default::default(),
    })
}

/// Opens a blob for reading, wherever it is.
pub(crate) async fn open_blob(desc: &Descriptor, from: &BlobFrom) -> Result<BlobStream> {
    Ok(match from {
        BlobFrom::Source(s) => s.blob(desc).await?,
        BlobFrom::File(p) => Box::pin(
            tokio::fs::File::open(p.path())
                .await
                .map_err(|e| BuildError::io(p.path(), e))?,
        ),
        BlobFrom::Bytes(b) => Box::pin(std::io::Cursor::new(b.clone())),
    })
}

async fn push_blob(
    sink: &dyn Sink,
    desc: &Descriptor,
    from: &BlobFrom,
    progress: &SharedProgress,
) -> Result<BlobAction> {
    let action = if sink.has_blob(desc).await? {
        BlobAction::Exists
    } else if let BlobFrom::Source(s) = from
        && let Some(origin) = s.origin()
        && sink.mount_blob(desc, &origin).await?
    {
        BlobAction::Mounted
    } else {
        progress.start(desc);
        let data = open_blob(desc, from).await?;
        sink.put_blob(desc, data, &|n| progress.advance(desc, n))
            .await?;
        BlobAction::Copied
    };
    progress.done(desc, action);
    Ok(action)
}

/// Writes images to `sink`: every blob once (checked, mounted or transferred, concurrently),
/// then the manifests. One image is written as the root; several become an OCI index (the
/// sink must hold indexes).
pub async fn push(
    images: &[Finished],
    sink: &dyn Sink,
    progress: SharedProgress,
) -> Result<PushReport> {
    if images.is_empty() {
        return Err(BuildError::Invalid("no image to write".into()));
    }
    if images.len() > 1 && !sink.holds_indexes() {
        return Err(BuildError::Unsupported(format!(
            "{} holds single-platform images only; write a multi-platform build to a registry \
             or an OCI layout",
            sink.name()
        )));
    }
    let report = Arc::new(Mutex::new(PushReport::default()));
    let mut seen = std::collections::HashSet::new();
    let blobs: Vec<(Descriptor, BlobFrom)> = images
        .iter()
        .flat_map(|i| i.blobs.iter().cloned())
        .filter(|(d, _)| seen.insert(d.digest.clone()))
        .collect();
    let progress = &progress;
    let report_ref = &report;
    stream::iter(blobs.into_iter().map(Ok))
        .try_for_each_concurrent(sink.max_concurrency(), |(desc, from)| async move {
            let action = push_blob(sink, &desc, &from, progress).await?;
            let mut r = report_ref.lock().expect("not poisoned");
            match action {
                BlobAction::Copied => {
                    r.uploaded += 1;
                    r.uploaded_bytes += desc.size;
                }
                BlobAction::Mounted => r.mounted += 1,
                BlobAction::Exists => r.existing += 1,
            }
            Ok::<_, BuildError>(())
        })
        .await?;
    let root = if images.len() == 1 {
        images[0].manifest.clone()
    } else {
        for i in images {
            sink.put_manifest(&i.manifest).await?;
        }
        index_of(images)
    };
    sink.put_root(&root).await?;
    let mut r = report.lock().expect("not poisoned").clone();
    r.digest = root.digest().to_string();
    r.media_type = root.media_type().to_string();
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn docker_layer_types_become_oci() {
        assert_eq!(
            oci_layer_type(media::DOCKER_LAYER_GZIP),
            media::OCI_LAYER_GZIP
        );
        assert_eq!(oci_layer_type(media::OCI_LAYER_ZSTD), media::OCI_LAYER_ZSTD);
    }
}
