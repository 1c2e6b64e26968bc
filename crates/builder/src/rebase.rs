//! Moving an image onto a new base without rebuilding it.
//!
//! For each platform of the image: find the old base (the `org.opencontainers.image.base.*`
//! annotations, or one given), check that its layers are exactly the image's bottom layers
//! (by diff_id), and make a new image from the new base's layers with the image's own layers on
//! top. The config is the image's own with `rootfs.diff_ids` and `history` rebuilt (the new
//! base's entries, then the image's entries after the old base's) and OS and architecture from
//! the new base; the base annotations name the new base. The image's own layer blobs are
//! referenced, never rebuilt: pushing to a registry mounts them from the image's repository.
//!
//! A rebase is refused when the new base has a different OS or architecture, or a different
//! libc family (glibc, musl, none) than the old: the image's binaries were linked against the
//! old one. The libc family is read from the bases' file lists (their layers are streamed once,
//! keeping nothing but loader names).

use std::sync::Arc;

use plinth_oci::{Platform, RawManifest, Source};

use crate::dockerfile::Resolver;
use crate::error::{BuildError, Result};
use crate::imagefs;
use crate::layer::Kind;
use crate::mutate::{BASE_DIGEST, BASE_NAME, Base, Finished, Image, LayerRef};

/// What a rebase is asked to do.
pub struct Request<'a> {
    /// The image to rebase.
    pub image: Arc<dyn Source>,
    /// The new base, as the user named it.
    pub onto: &'a str,
    /// The old base, when not taken from the annotations.
    pub old_base: Option<&'a str>,
    /// Opens images by name.
    pub resolver: &'a dyn Resolver,
    /// Skip the libc-family check (it reads the bases' layers).
    pub skip_libc_check: bool,
}

/// One rebased platform.
pub struct Rebased {
    /// The new image.
    pub image: Finished,
    /// The platform.
    pub platform: Platform,
    /// How many of the image's layers were the old base's.
    pub old_base_layers: usize,
    /// How many layers the new base has.
    pub new_base_layers: usize,
}

/// The libc family of a base: which dynamic loader its files include.
pub async fn libc_family(base: &Base) -> Result<&'static str> {
    if base.layers.is_empty() {
        return Ok("none");
    }
    let want: Arc<dyn Fn(&str) -> bool + Send + Sync> = Arc::new(|p: &str| {
        let name = p.rsplit('/').next().unwrap_or(p);
        name.starts_with("ld-musl-") || name.starts_with("ld-linux") || name == "libc.so.6"
    });
    let (tree, _keep) = imagefs::extract(&base.layers, want, &std::env::temp_dir()).await?;
    let mut musl = false;
    let mut glibc = false;
    for (p, e) in tree.iter() {
        if matches!(e.kind, Kind::Dir) {
            continue;
        }
        let name = p.rsplit('/').next().unwrap_or(p);
        if name.starts_with("ld-musl-") {
            musl = true;
        } else {
            glibc = true;
        }
    }
    Ok(match (glibc, musl) {
        (true, _) => "glibc",
        (false, true) => "musl",
        _ => "none",
    })
}

fn same_platform(a: &Platform, b: &Platform) -> bool {
    a.matches(b)
}

/// Rebases one platform manifest of the image.
pub async fn rebase_manifest(req: &Request<'_>, manifest: RawManifest) -> Result<Rebased> {
    let image_name = req.image.name();
    let own = Base::from_manifest(req.image.clone(), None, manifest.clone()).await?;
    let platform = own.platform();
    let annotations = manifest
        .as_image()
        .and_then(|m| m.annotations.clone())
        .unwrap_or_default();
    let (old_src, old_name) = match req.old_base {
        Some(n) => req.resolver.open(n).await?,
        None => {
            let (Some(name), Some(digest)) =
                (annotations.get(BASE_NAME), annotations.get(BASE_DIGEST))
            else {
                return Err(BuildError::Rebase(format!(
                    "{image_name} ({platform}) does not say what its base is (no {BASE_NAME} \
                     and {BASE_DIGEST} annotations); name it with --old-base"
                )));
            };
            let name_at = format!("{name}@{digest}");
            req.resolver.open(&name_at).await.map_err(|e| {
                BuildError::Rebase(format!(
                    "the old base {name_at} named by the annotations cannot be read: {e}; \
                     name it with --old-base"
                ))
            })?
        }
    };
    let old = Base::resolve(old_src, old_name, Some(&platform)).await?;
    let own_ids: Vec<_> = own.layers.iter().map(|l| l.diff_id.clone()).collect();
    let old_ids: Vec<_> = old.layers.iter().map(|l| l.diff_id.clone()).collect();
    if old_ids.len() > own_ids.len() || own_ids[..old_ids.len()] != old_ids[..] {
        let at = old_ids
            .iter()
            .zip(&own_ids)
            .position(|(a, b)| a != b)
            .unwrap_or(own_ids.len().min(old_ids.len()));
        let detail = match (old_ids.get(at), own_ids.get(at)) {
            (Some(o), Some(i)) => format!("layer {at}: the old base has {o}, the image has {i}"),
            (Some(_), None) => format!(
                "the old base has {} layers, the image only {}",
                old_ids.len(),
                own_ids.len()
            ),
            _ => "the layers differ".into(),
        };
        return Err(BuildError::Rebase(format!(
            "{image_name} ({platform}) is not built on {}: its bottom layers are not the old \
             base's ({detail}); name the right base with --old-base",
            old.name.as_deref().unwrap_or("the old base")
        )));
    }
    let (new_src, new_name) = req.resolver.open(req.onto).await?;
    let new = Base::resolve(new_src, new_name, Some(&platform)).await?;
    let np = new.platform();
    if np.os != platform.os {
        return Err(BuildError::Rebase(format!(
            "refusing to rebase: {} is for {}, the image for {} (a different operating system)",
            req.onto, np.os, platform.os
        )));
    }
    if !same_platform(&platform, &np) {
        return Err(BuildError::Rebase(format!(
            "refusing to rebase: {} is for {np}, the image for {platform} (a different \
             architecture: the image's binaries would not run)",
            req.onto
        )));
    }
    if !req.skip_libc_check {
        let (a, b) = (libc_family(&old).await?, libc_family(&new).await?);
        if a != b {
            return Err(BuildError::Rebase(format!(
                "refusing to rebase: the old base has {a} and {} has {b} (a different libc \
                 family: binaries linked against one do not run on the other)",
                req.onto
            )));
        }
    }

    let n_old = old.layers.len();
    let mut config = own.config.clone();
    config.os = np.os.clone();
    config.architecture = np.architecture.clone();
    config.variant = np.variant.clone();
    config.os_version = new.config.os_version.clone();
    let mut diff_ids: Vec<_> = new.layers.iter().map(|l| l.diff_id.clone()).collect();
    diff_ids.extend(own_ids[n_old..].iter().cloned());
    if let Some(r) = config.rootfs.as_mut() {
        r.diff_ids = diff_ids;
    }
    let old_hist = old.config.history.as_ref().map_or(0, Vec::len);
    let mut history = new.config.history.clone().unwrap_or_default();
    if let Some(h) = &own.config.history {
        history.extend(h.iter().skip(old_hist).cloned());
    }
    config.history = Some(history);
    let mut layers: Vec<LayerRef> = new.layers.clone();
    layers.extend(own.layers[n_old..].iter().cloned());
    let mut annotations = annotations;
    match (&new.name, new.digest()) {
        (Some(n), Some(d)) => {
            annotations.insert(BASE_NAME.into(), n.clone());
            annotations.insert(BASE_DIGEST.into(), d.to_string());
        }
        _ => {
            annotations.remove(BASE_NAME);
            annotations.remove(BASE_DIGEST);
        }
    }
    let created = config.created.clone().unwrap_or_default();
    let image = Image {
        config,
        layers,
        annotations,
        created,
    };
    Ok(Rebased {
        image: image.finish()?,
        platform,
        old_base_layers: n_old,
        new_base_layers: new.layers.len(),
    })
}

/// Rebases the image: every platform of an index (attestations skipped), or the one image.
pub async fn rebase(req: &Request<'_>) -> Result<Vec<Rebased>> {
    let root = req.image.root().await?;
    let manifests = match root.as_index() {
        None => vec![root.clone()],
        Some(index) => {
            let mut v = Vec::new();
            for d in &index.manifests {
                if d.platform.as_ref().is_some_and(|p| p.os == "unknown") {
                    continue;
                }
                let m = req.image.manifest(d).await?;
                if m.as_image().is_some() {
                    v.push(m);
                }
            }
            v
        }
    };
    let mut out = Vec::new();
    for m in manifests {
        out.push(rebase_manifest(req, m).await?);
    }
    Ok(out)
}
