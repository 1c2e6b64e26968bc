//! A repository on a registry as an image [`Source`] and [`Sink`].
//!
//! Pulls go through the configured mirrors first, then the origin; the first endpoint that
//! serves the root manifest serves the rest of the image. Manifests fetched by digest are kept
//! in the local content store, so a second look at the same image costs no manifest GET.

use std::sync::Mutex;

use async_trait::async_trait;
use plinth_oci::manifest::{Descriptor, RawManifest};
use plinth_oci::source::{BlobOrigin, BlobStream, Sink, Source};
use plinth_oci::store::Store;
use plinth_oci::{Digest, Error as OciError};
use plinth_reference::Reference;

use crate::client::Client;
use crate::config::Endpoint;
use crate::error::{RegistryError, Result};
use crate::ops::ManifestHead;

/// An image (or index) named by a reference, on its registry.
pub struct Remote {
    client: Client,
    reference: Reference,
    endpoints: Vec<Endpoint>,
    /// Index into `endpoints` of the one that served the last pull.
    serving: Mutex<usize>,
    store: Option<Store>,
}

impl Remote {
    /// The image `reference` names, reached through `client`.
    pub fn new(client: &Client, reference: Reference) -> Remote {
        let endpoints = client
            .config()
            .pull_endpoints(reference.domain(), reference.path());
        Remote {
            client: client.clone(),
            reference,
            endpoints,
            serving: Mutex::new(0),
            store: None,
        }
    }

    /// Keeps manifests fetched by digest in `store`.
    pub fn with_store(mut self, store: Store) -> Remote {
        self.store = Some(store);
        self
    }

    /// The reference.
    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The origin endpoint (where pushes go).
    pub fn origin(&self) -> &Endpoint {
        self.endpoints.last().expect("the origin is always last")
    }

    /// Tries `op` on each pull endpoint in order, from the one that last served. A mirror that
    /// fails or lacks the content passes the request on; when the origin fails too (or lacks
    /// the content, `missing`), its error carries what each mirror said.
    async fn pull<T, F, Fut>(&self, op: F, missing: impl FnOnce() -> RegistryError) -> Result<T>
    where
        F: Fn(Endpoint) -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>>>,
    {
        let start = *self.serving.lock().expect("not poisoned");
        let mut notes: Vec<String> = Vec::new();
        for (i, ep) in self.endpoints.iter().enumerate().skip(start) {
            match op(ep.clone()).await {
                Ok(Some(v)) => {
                    *self.serving.lock().expect("not poisoned") = i;
                    return Ok(v);
                }
                Ok(None) if !ep.mirror => return Err(with_notes(missing(), notes)),
                Ok(None) => {
                    tracing::debug!(mirror = %ep.host, "not on mirror");
                    notes.push(format!(
                        "mirror {} does not have it ({} not found there)",
                        ep.host, ep.repository
                    ));
                }
                Err(e) if ep.mirror && !matches!(e, RegistryError::Integrity { .. }) => {
                    tracing::debug!(mirror = %ep.host, error = %e, "mirror failed");
                    notes.push(format!("mirror {} failed: {e}", ep.host));
                }
                Err(e) => return Err(with_notes(e, notes)),
            }
        }
        Err(with_notes(missing(), notes))
    }

    fn not_found(&self, what: &str) -> RegistryError {
        RegistryError::Status {
            registry: self.reference.domain().to_string(),
            repository: self.reference.path().to_string(),
            what: what.to_string(),
            status: 404,
            errors: vec![crate::error::RegistryErrorEntry {
                code: "MANIFEST_UNKNOWN".into(),
                message: "manifest unknown".into(),
            }],
        }
    }

    /// The digest, media type and size of what the reference names, by `HEAD`.
    pub async fn head(&self) -> Result<ManifestHead> {
        let r = self.reference.manifest_reference().to_string();
        let head = self
            .pull(
                |ep| {
                    let r = r.clone();
                    async move { self.client.head_manifest(&ep, &r).await }
                },
                || self.not_found(&format!("manifest {r}")),
            )
            .await?;
        if let Some(d) = self.reference.digest()
            && head.digest.to_string() != d
        {
            return Err(RegistryError::Integrity {
                registry: self.reference.domain().to_string(),
                repository: self.reference.path().to_string(),
                message: format!("asked for {d}, the registry answered for {}", head.digest),
            });
        }
        Ok(head)
    }

    /// Every tag of the repository.
    pub async fn tags(&self) -> Result<Vec<String>> {
        self.pull(
            |ep| async move { self.client.tags(&ep).await },
            || RegistryError::Status {
                registry: self.reference.domain().to_string(),
                repository: self.reference.path().to_string(),
                what: "tag list".into(),
                status: 404,
                errors: vec![crate::error::RegistryErrorEntry {
                    code: "NAME_UNKNOWN".into(),
                    message: "repository name not known to registry".into(),
                }],
            },
        )
        .await
    }

    /// A blob's bytes, whole and verified (for configs); from the store when cached.
    pub async fn blob_bytes(&self, desc: &Descriptor) -> Result<Vec<u8>, OciError> {
        if let Some(store) = &self.store
            && let Ok(bytes) = store.blobs().read(desc).await
        {
            store.touch(&desc.digest);
            return Ok(bytes);
        }
        let bytes = self
            .pull(
                |ep| async move {
                    match self.client.get_blob_bytes(&ep, desc).await {
                        Ok(b) => Ok(Some(b)),
                        Err(e) if e.is_not_found() => Ok(None),
                        Err(e) => Err(e),
                    }
                },
                || self.not_found(&format!("blob {}", desc.digest)),
            )
            .await?;
        if let Some(store) = &self.store {
            store.blobs().write_bytes(desc, &bytes).await?;
        }
        Ok(bytes)
    }

    async fn manifest_by_digest(
        &self,
        digest: &Digest,
        media_type: &str,
        size: Option<u64>,
    ) -> Result<RawManifest, OciError> {
        if let Some(store) = &self.store
            && let Some(size) = size
        {
            let desc = Descriptor::new(media_type, digest.clone(), size);
            if let Ok(bytes) = store.blobs().read(&desc).await
                && let Ok(raw) = RawManifest::from_bytes(bytes, Some(media_type))
            {
                store.touch(digest);
                return Ok(raw);
            }
        }
        let r = digest.to_string();
        let raw = self
            .pull(
                |ep| {
                    let r = r.clone();
                    async move { self.client.get_manifest(&ep, &r).await }
                },
                || self.not_found(&format!("manifest {r}")),
            )
            .await?;
        if let Some(store) = &self.store {
            store
                .blobs()
                .write_bytes(&raw.descriptor(), raw.bytes())
                .await?;
        }
        Ok(raw)
    }
}

/// The origin's error, with what each mirror said when there were mirrors.
fn with_notes(e: RegistryError, notes: Vec<String>) -> RegistryError {
    if notes.is_empty() {
        return e;
    }
    RegistryError::ViaMirrors {
        origin: Box::new(e),
        mirrors: notes,
    }
}

#[async_trait]
impl Source for Remote {
    fn name(&self) -> String {
        self.reference.to_string()
    }

    async fn root(&self) -> Result<RawManifest, OciError> {
        if let Some(d) = self.reference.digest() {
            let digest = Digest::parse(d)?;
            // Without a size the store cannot be trusted blindly; fetch and verify.
            return self.manifest_by_digest(&digest, "", None).await;
        }
        let r = self.reference.manifest_reference().to_string();
        Ok(self
            .pull(
                |ep| {
                    let r = r.clone();
                    async move { self.client.get_manifest(&ep, &r).await }
                },
                || self.not_found(&format!("manifest {r}")),
            )
            .await?)
    }

    async fn manifest(&self, desc: &Descriptor) -> Result<RawManifest, OciError> {
        let raw = self
            .manifest_by_digest(&desc.digest, &desc.media_type, Some(desc.size))
            .await?;
        if raw.bytes().len() as u64 != desc.size {
            return Err(OciError::Verify {
                what: format!("manifest {}", desc.digest),
                source: plinth_oci::digest::VerifyError::Size {
                    digest: desc.digest.clone(),
                    expected: desc.size,
                    actual: raw.bytes().len() as u64,
                },
            });
        }
        Ok(raw)
    }

    async fn blob(&self, desc: &Descriptor) -> Result<BlobStream, OciError> {
        let i = *self.serving.lock().expect("not poisoned");
        let ep = &self.endpoints[i.min(self.endpoints.len() - 1)];
        Ok(self.client.blob_stream(ep, desc))
    }

    /// The endpoint that serves this image's blobs: a mirror when the image was read through
    /// one, so a push to that mirror's registry mounts the blobs from it.
    fn origin(&self) -> Option<BlobOrigin> {
        let i = *self.serving.lock().expect("not poisoned");
        let ep = &self.endpoints[i.min(self.endpoints.len() - 1)];
        Some(BlobOrigin {
            registry: ep.host.clone(),
            repository: ep.repository.clone(),
        })
    }
}

#[async_trait]
impl Sink for Remote {
    fn name(&self) -> String {
        self.reference.to_string()
    }

    async fn has_blob(&self, desc: &Descriptor) -> Result<bool, OciError> {
        Ok(self.client.blob_exists(self.origin(), desc).await?)
    }

    async fn mount_blob(&self, desc: &Descriptor, from: &BlobOrigin) -> Result<bool, OciError> {
        let to = self.origin();
        if from.registry != to.host || from.repository == to.repository {
            return Ok(false);
        }
        Ok(self
            .client
            .mount_blob(self.origin(), desc, &from.repository)
            .await?)
    }

    async fn put_blob(
        &self,
        desc: &Descriptor,
        data: BlobStream,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<(), OciError> {
        Ok(self
            .client
            .upload_blob(self.origin(), desc, data, progress)
            .await?)
    }

    async fn put_manifest(&self, manifest: &RawManifest) -> Result<(), OciError> {
        Ok(self
            .client
            .put_manifest(self.origin(), &manifest.digest().to_string(), manifest)
            .await?)
    }

    async fn put_root(&self, manifest: &RawManifest) -> Result<(), OciError> {
        if let Some(d) = self.reference.digest()
            && d != manifest.digest().to_string()
        {
            return Err(OciError::Invalid(format!(
                "destination {} names digest {d}, but the image is {}",
                self.reference,
                manifest.digest()
            )));
        }
        let target = match (self.reference.tag(), self.reference.digest()) {
            (Some(t), _) => t.to_string(),
            (None, Some(d)) => d.to_string(),
            (None, None) => "latest".to_string(),
        };
        Ok(self
            .client
            .put_manifest(self.origin(), &target, manifest)
            .await?)
    }
}
