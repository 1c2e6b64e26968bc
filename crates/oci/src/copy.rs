//! Copying images between any [`Source`] and [`Sink`]: registry, OCI layout, docker-archive.
//!
//! Blobs are copied concurrently (bounded by the sink), each one skipped when the destination
//! has it, mounted when the destination registry can mount it from the source repository, and
//! otherwise streamed and verified. Manifests are copied as their exact bytes, children before
//! the index that lists them and the root last, so a reader never sees a dangling manifest.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use futures::stream::{self, TryStreamExt};

use crate::error::{Error, Result};
use crate::manifest::{Descriptor, RawManifest};
use crate::platform::Platform;
use crate::source::{BlobAction, SharedProgress, Sink, Source};

/// How to copy.
#[derive(Clone)]
pub struct CopyOptions {
    /// Copy every platform of an index (the index itself is kept).
    pub all_platforms: bool,
    /// The platform to pick from an index when not copying all (default: the host's).
    pub platform: Option<Platform>,
    /// Progress reports.
    pub progress: SharedProgress,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            all_platforms: false,
            platform: None,
            progress: Arc::new(crate::source::NoProgress),
        }
    }
}

/// What a copy did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CopyReport {
    /// The digest of the manifest written as the destination's root.
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Blobs transferred.
    pub copied: usize,
    /// Blobs mounted from another repository.
    pub mounted: usize,
    /// Blobs the destination already had.
    pub existing: usize,
    /// Bytes transferred.
    pub bytes: u64,
}

/// Copies what `src` names to `dst`.
pub async fn copy(src: &dyn Source, dst: &dyn Sink, opts: &CopyOptions) -> Result<CopyReport> {
    let root = src.root().await?;
    let report = Arc::new(Mutex::new(CopyReport::default()));
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let written = if root.is_index() {
        if opts.all_platforms {
            if !dst.holds_indexes() {
                return Err(Error::Unsupported(format!(
                    "{} holds single-platform images only; drop --all-platforms or \
                     copy to an OCI layout or registry",
                    dst.name()
                )));
            }
            copy_index(src, dst, &root, opts, &report, &seen).await?;
            root
        } else {
            let platform = opts.platform.clone().unwrap_or_else(Platform::host);
            let child = crate::source::select_platform(src, root, &platform).await?;
            copy_image_blobs(src, dst, &child, opts, &report, &seen).await?;
            child
        }
    } else {
        if let Some(want) = &opts.platform {
            check_image_platform(src, &root, want).await?;
        }
        copy_image_blobs(src, dst, &root, opts, &report, &seen).await?;
        root
    };
    dst.put_root(&written).await?;
    let mut report = report.lock().expect("not poisoned").clone();
    report.digest = written.digest().to_string();
    report.media_type = written.media_type().to_string();
    Ok(report)
}

/// A single-platform image asked for by platform must be of that platform: its config says.
async fn check_image_platform(
    src: &dyn Source,
    image: &RawManifest,
    want: &Platform,
) -> Result<()> {
    let Some(m) = image.as_image() else {
        return Ok(());
    };
    let bytes = crate::source::read_small_blob(src, &m.config).await?;
    crate::source::check_config_platform(&src.name(), want, &bytes).map(drop)
}

async fn copy_index(
    src: &dyn Source,
    dst: &dyn Sink,
    index: &RawManifest,
    opts: &CopyOptions,
    report: &Arc<Mutex<CopyReport>>,
    seen: &Arc<Mutex<HashSet<String>>>,
) -> Result<()> {
    for desc in &index.as_index().expect("is an index").manifests {
        let child = src.manifest(desc).await?;
        if child.is_index() {
            Box::pin(copy_index(src, dst, &child, opts, report, seen)).await?;
        } else {
            copy_image_blobs(src, dst, &child, opts, report, seen).await?;
        }
        dst.put_manifest(&child).await?;
    }
    Ok(())
}

async fn copy_image_blobs(
    src: &dyn Source,
    dst: &dyn Sink,
    manifest: &RawManifest,
    opts: &CopyOptions,
    report: &Arc<Mutex<CopyReport>>,
    seen: &Arc<Mutex<HashSet<String>>>,
) -> Result<()> {
    let image = manifest.as_image().expect("is an image manifest");
    let blobs: Vec<Descriptor> = std::iter::once(&image.config)
        .chain(&image.layers)
        .filter(|d| {
            seen.lock()
                .expect("not poisoned")
                .insert(d.digest.to_string())
        })
        .cloned()
        .collect();
    stream::iter(blobs.into_iter().map(Ok))
        .try_for_each_concurrent(dst.max_concurrency(), |desc| async move {
            let action = copy_blob(src, dst, &desc, opts).await?;
            let mut r = report.lock().expect("not poisoned");
            match action {
                BlobAction::Copied => {
                    r.copied += 1;
                    r.bytes += desc.size;
                }
                BlobAction::Mounted => r.mounted += 1,
                BlobAction::Exists => r.existing += 1,
            }
            Ok::<_, Error>(())
        })
        .await
}

async fn copy_blob(
    src: &dyn Source,
    dst: &dyn Sink,
    desc: &Descriptor,
    opts: &CopyOptions,
) -> Result<BlobAction> {
    let progress = &opts.progress;
    let action = if dst.has_blob(desc).await? {
        BlobAction::Exists
    } else if let Some(origin) = src.origin()
        && dst.mount_blob(desc, &origin).await?
    {
        BlobAction::Mounted
    } else {
        progress.start(desc);
        let data = src.blob(desc).await?;
        dst.put_blob(desc, data, &|n| progress.advance(desc, n))
            .await?;
        BlobAction::Copied
    };
    progress.done(desc, action);
    Ok(action)
}
