//! Registry lookups for a run: each unique question asked once, concurrently with a bound.
//!
//! A [`Resolver`] memoizes every answer for its lifetime (one run): the digest a tag points at
//! (`HEAD`), a manifest by digest (`GET`, only where per-platform digests or a config are
//! needed), a repository's tag list, an image config. Concurrent callers asking the same
//! question wait for one request. At most `jobs` requests are in flight at once.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use plinth_oci::media::{self, ManifestKind};
use plinth_oci::store::Store;
use plinth_oci::{ConfigFile, Descriptor, Digest, Platform, RawManifest, Source};
use plinth_reference::Reference;
use plinth_registry::{Client, Remote};
use tokio::sync::{OnceCell, Semaphore};

use crate::error::LookupError;

/// What a `HEAD` of a manifest says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The digest of the manifest or index.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Its size, when the registry said.
    pub size: Option<u64>,
}

impl Head {
    /// True for an image index / manifest list.
    pub fn is_index(&self) -> bool {
        media::manifest_kind(&self.media_type) == Some(ManifestKind::Index)
    }
}

/// How many requests a run made, for reports and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Manifest `HEAD` requests.
    pub heads: usize,
    /// Manifest `GET` requests (or content-store reads).
    pub manifests: usize,
    /// Tag list requests.
    pub tag_lists: usize,
    /// Config blob reads.
    pub configs: usize,
    /// Questions answered from the run's cache.
    pub cached: usize,
}

type Memo<V> = Mutex<HashMap<String, Arc<OnceCell<V>>>>;
type Answer<V> = Result<V, LookupError>;

/// Answers registry questions for one run.
pub struct Resolver {
    client: Client,
    store: Option<Store>,
    permits: Arc<Semaphore>,
    heads: Memo<Answer<Head>>,
    manifests: Memo<Answer<Arc<RawManifest>>>,
    tags: Memo<Answer<Arc<Vec<String>>>>,
    configs: Memo<Answer<Arc<ConfigFile>>>,
    n_heads: AtomicUsize,
    n_manifests: AtomicUsize,
    n_tags: AtomicUsize,
    n_configs: AtomicUsize,
    n_cached: AtomicUsize,
}

impl Resolver {
    /// A resolver using `client`, with at most `jobs` requests in flight.
    pub fn new(client: Client, jobs: usize) -> Resolver {
        Resolver {
            client,
            store: None,
            permits: Arc::new(Semaphore::new(jobs.max(1))),
            heads: Mutex::default(),
            manifests: Mutex::default(),
            tags: Mutex::default(),
            configs: Mutex::default(),
            n_heads: AtomicUsize::new(0),
            n_manifests: AtomicUsize::new(0),
            n_tags: AtomicUsize::new(0),
            n_configs: AtomicUsize::new(0),
            n_cached: AtomicUsize::new(0),
        }
    }

    /// Keeps manifests and configs fetched by digest in `store` (and reads them from it).
    pub fn with_store(mut self, store: Store) -> Resolver {
        self.store = Some(store);
        self
    }

    /// The requests made so far.
    pub fn stats(&self) -> Stats {
        Stats {
            heads: self.n_heads.load(Ordering::Relaxed),
            manifests: self.n_manifests.load(Ordering::Relaxed),
            tag_lists: self.n_tags.load(Ordering::Relaxed),
            configs: self.n_configs.load(Ordering::Relaxed),
            cached: self.n_cached.load(Ordering::Relaxed),
        }
    }

    fn remote(&self, r: &Reference) -> Remote {
        let remote = Remote::new(&self.client, r.clone());
        match &self.store {
            Some(s) => remote.with_store(s.clone()),
            None => remote,
        }
    }

    async fn memo<V: Clone, F: Future<Output = V>>(
        &self,
        map: &Memo<V>,
        key: String,
        counter: &AtomicUsize,
        f: F,
    ) -> V {
        let cell = map
            .lock()
            .expect("not poisoned")
            .entry(key)
            .or_default()
            .clone();
        if let Some(v) = cell.get() {
            self.n_cached.fetch_add(1, Ordering::Relaxed);
            return v.clone();
        }
        let permits = self.permits.clone();
        cell.get_or_init(|| async move {
            let _permit = permits.acquire_owned().await.expect("never closed");
            counter.fetch_add(1, Ordering::Relaxed);
            f.await
        })
        .await
        .clone()
    }

    /// `HEAD`s what `r` names: its digest if it has one, else its tag (`latest` when none).
    pub async fn head(&self, r: &Reference) -> Answer<Head> {
        let r = if r.digest().is_some() {
            r.without_tag()
        } else {
            r.tag_name_only()
        };
        self.memo(&self.heads, r.to_string(), &self.n_heads, async {
            let h = self.remote(&r).head().await?;
            Ok(Head {
                digest: h.digest,
                media_type: h.media_type,
                size: h.size,
            })
        })
        .await
    }

    /// The manifest or index `head` describes, in repository `r` (by digest; `GET` once).
    pub async fn manifest(&self, r: &Reference, head: &Head) -> Answer<Arc<RawManifest>> {
        let by_digest = r
            .without_tag()
            .with_digest(&head.digest.to_string())
            .map_err(|e| LookupError {
                message: e.to_string(),
                kind: plinth_oci::ErrorKind::Invalid,
            })?;
        let key = by_digest.to_string();
        self.memo(&self.manifests, key, &self.n_manifests, async {
            let remote = self.remote(&by_digest);
            let raw = match head.size {
                Some(size) => {
                    remote
                        .manifest(&Descriptor::new(
                            &head.media_type,
                            head.digest.clone(),
                            size,
                        ))
                        .await?
                }
                None => remote.root().await?,
            };
            Ok(Arc::new(raw))
        })
        .await
    }

    /// Every tag of `r`'s repository (listed once per run).
    pub async fn tags(&self, r: &Reference) -> Answer<Arc<Vec<String>>> {
        let name = r.without_digest().without_tag();
        self.memo(&self.tags, name.to_string(), &self.n_tags, async {
            Ok(Arc::new(self.remote(&name).tags().await?))
        })
        .await
    }

    /// The config of the image manifest `manifest` (in repository `r`).
    pub async fn config(&self, r: &Reference, manifest: &RawManifest) -> Answer<Arc<ConfigFile>> {
        let Some(image) = manifest.as_image() else {
            return Err(LookupError {
                message: format!("{} is not an image manifest", manifest.digest()),
                kind: plinth_oci::ErrorKind::Invalid,
            });
        };
        let desc = image.config.clone();
        let key = format!("{}@{}", r.name(), desc.digest);
        self.memo(&self.configs, key, &self.n_configs, async {
            let bytes = self.remote(r).blob_bytes(&desc).await?;
            let config = ConfigFile::from_slice(&bytes).map_err(|e| LookupError {
                message: format!("{}: config {}: {e}", r.name(), desc.digest),
                kind: plinth_oci::ErrorKind::Invalid,
            })?;
            Ok(Arc::new(config))
        })
        .await
    }

    /// The platforms `head` serves and the digest of each platform's manifest: the entries
    /// of an index (attestations left out), or the config's platform of a single image.
    pub async fn platforms(&self, r: &Reference, head: &Head) -> Answer<Vec<(Platform, Digest)>> {
        let raw = self.manifest(r, head).await?;
        if let Some(index) = raw.as_index() {
            return Ok(index
                .manifests
                .iter()
                .filter(|d| media::manifest_kind(&d.media_type) == Some(ManifestKind::Image))
                .filter_map(|d| Some((d.platform.clone()?, d.digest.clone())))
                .filter(|(p, _)| p.os != "unknown")
                .collect());
        }
        let config = self.config(r, &raw).await?;
        Ok(vec![(config.platform().normalized(), head.digest.clone())])
    }

    /// The image manifest of `head` for `platform` (the index entry, or the image itself).
    pub async fn image_for(
        &self,
        r: &Reference,
        head: &Head,
        platform: &Platform,
    ) -> Answer<Option<Arc<RawManifest>>> {
        let raw = self.manifest(r, head).await?;
        let Some(index) = raw.as_index() else {
            return Ok(Some(raw));
        };
        let Some(d) = index.find_platform(platform) else {
            return Ok(None);
        };
        let h = Head {
            digest: d.digest.clone(),
            media_type: d.media_type.clone(),
            size: Some(d.size),
        };
        Ok(Some(self.manifest(r, &h).await?))
    }

    /// When the image `head` names was built (its config's `created`), for `platform` (the
    /// first platform of an index when `None` or absent).
    pub async fn created(
        &self,
        r: &Reference,
        head: &Head,
        platform: Option<&Platform>,
    ) -> Answer<Option<String>> {
        let raw = self.manifest(r, head).await?;
        let image = match raw.as_index() {
            None => raw,
            Some(index) => {
                let d = platform
                    .and_then(|p| index.find_platform(p))
                    .or_else(|| index.find_platform(&Platform::new("linux", "amd64", None)))
                    .or_else(|| {
                        index.manifests.iter().find(|d| {
                            media::manifest_kind(&d.media_type) == Some(ManifestKind::Image)
                        })
                    });
                let Some(d) = d else { return Ok(None) };
                let h = Head {
                    digest: d.digest.clone(),
                    media_type: d.media_type.clone(),
                    size: Some(d.size),
                };
                self.manifest(r, &h).await?
            }
        };
        Ok(self.config(r, &image).await?.created.clone())
    }
}
