//! The distribution API calls: manifests, blobs, uploads and tags, on one endpoint.

use bytes::Bytes;
use futures::StreamExt;
use plinth_oci::digest::{Digest, Verifier};
use plinth_oci::manifest::{Descriptor, RawManifest};
use plinth_oci::media;
use plinth_oci::source::BlobStream;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LINK, LOCATION, RANGE};
use reqwest::{Method, StatusCode};
use tokio::io::AsyncReadExt;

use crate::client::{Client, header_str, scope};
use crate::config::Endpoint;
use crate::error::{RegistryError, Result};

/// What a `HEAD` of a manifest tells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestHead {
    /// The manifest's digest.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Its size, when the registry says.
    pub size: Option<u64>,
}

/// How many times a blob download resumes after the connection drops.
const MAX_RESUMES: u32 = 5;

fn protocol(ep: &Endpoint, message: String) -> RegistryError {
    RegistryError::Protocol {
        registry: registry_of(ep),
        repository: ep.repository.clone(),
        message,
    }
}

fn integrity(ep: &Endpoint, message: String) -> RegistryError {
    RegistryError::Integrity {
        registry: registry_of(ep),
        repository: ep.repository.clone(),
        message,
    }
}

fn registry_of(ep: &Endpoint) -> String {
    if ep.host == "registry-1.docker.io" {
        "docker.io".into()
    } else {
        ep.host.clone()
    }
}

impl Client {
    /// `HEAD`s a manifest (free on Docker Hub, unlike `GET`). Falls back to a `GET` only
    /// when the registry does not send `Docker-Content-Digest`. `None` when not found.
    pub async fn head_manifest(
        &self,
        ep: &Endpoint,
        reference: &str,
    ) -> Result<Option<ManifestHead>> {
        let what = format!("manifest {reference}");
        let scopes = [scope(&ep.repository, "pull")];
        let url = format!("/v2/{}/manifests/{reference}", ep.repository);
        let resp = self
            .send(ep, &scopes, &what, |http, base| {
                http.head(format!("{base}{url}"))
                    .header(ACCEPT, media::MANIFEST_ACCEPT)
            })
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(self
                .head_error(ep, &scopes, &what, &url, Some(media::MANIFEST_ACCEPT), resp)
                .await);
        }
        let h = resp.headers();
        let digest = header_str(h, "docker-content-digest");
        let media_type = header_str(h, CONTENT_TYPE);
        let size = header_str(h, CONTENT_LENGTH).and_then(|s| s.parse().ok());
        match (digest, media_type) {
            (Some(d), Some(m)) if media::manifest_kind(&m).is_some() || media::is_schema1(&m) => {
                let digest = Digest::parse(&d).map_err(|e| {
                    protocol(ep, format!("{what}: bad Docker-Content-Digest header: {e}"))
                })?;
                if media::is_schema1(&m) {
                    return Err(protocol(
                        ep,
                        format!("{what}: {}", plinth_oci::manifest::ManifestError::Schema1),
                    ));
                }
                Ok(Some(ManifestHead {
                    digest,
                    media_type: m,
                    size,
                }))
            }
            _ => {
                let raw = self.get_manifest(ep, reference).await?;
                Ok(raw.map(|raw| ManifestHead {
                    digest: raw.digest().clone(),
                    media_type: raw.media_type().to_string(),
                    size: Some(raw.bytes().len() as u64),
                }))
            }
        }
    }

    /// `GET`s a manifest and checks its bytes against the requested digest and the
    /// `Docker-Content-Digest` header. `None` when not found.
    pub async fn get_manifest(
        &self,
        ep: &Endpoint,
        reference: &str,
    ) -> Result<Option<RawManifest>> {
        let what = format!("manifest {reference}");
        let scopes = [scope(&ep.repository, "pull")];
        let url = format!("/v2/{}/manifests/{reference}", ep.repository);
        let resp = self
            .send(ep, &scopes, &what, |http, base| {
                http.get(format!("{base}{url}"))
                    .header(ACCEPT, media::MANIFEST_ACCEPT)
            })
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(Client::status_error(ep, &what, resp).await);
        }
        let header_digest = header_str(resp.headers(), "docker-content-digest");
        let content_type = header_str(resp.headers(), CONTENT_TYPE);
        // Manifests are small (the spec suggests 4 MiB); refuse absurd ones before buffering.
        if resp.content_length().is_some_and(|n| n > 16 << 20) {
            return Err(protocol(
                ep,
                format!("{what}: manifest larger than 16 MiB refused"),
            ));
        }
        let bytes = resp.bytes().await.map_err(|e| RegistryError::Network {
            registry: registry_of(ep),
            what: what.clone(),
            message: e.to_string(),
        })?;
        let raw = RawManifest::from_bytes(bytes, content_type.as_deref())
            .map_err(|e| protocol(ep, format!("{what}: {e}")))?;
        if let Ok(d) = Digest::parse(reference) {
            raw.check_digest(&d)
                .map_err(|e| integrity(ep, format!("{what}: {e}")))?;
        }
        if let Some(h) = header_digest {
            let d = Digest::parse(&h)
                .map_err(|e| protocol(ep, format!("{what}: bad Docker-Content-Digest: {e}")))?;
            raw.check_digest(&d).map_err(|e| {
                integrity(
                    ep,
                    format!("{what}: the registry's Docker-Content-Digest does not match the bytes it sent ({e})"),
                )
            })?;
        }
        Ok(Some(raw))
    }

    /// Opens a blob download at `offset` (a `Range` request when resuming).
    async fn open_blob(
        &self,
        ep: &Endpoint,
        desc: &Descriptor,
        offset: u64,
    ) -> Result<reqwest::Response> {
        let what = format!("blob {}", desc.digest);
        let scopes = [scope(&ep.repository, "pull")];
        let url = format!("/v2/{}/blobs/{}", ep.repository, desc.digest);
        let resp = self
            .send(ep, &scopes, &what, |http, base| {
                let rb = http.get(format!("{base}{url}"));
                if offset > 0 {
                    rb.header(RANGE, format!("bytes={offset}-"))
                } else {
                    rb
                }
            })
            .await?;
        if !resp.status().is_success() {
            return Err(Client::status_error(ep, &what, resp).await);
        }
        Ok(resp)
    }

    /// Streams a blob. When the connection drops, the download resumes where it stopped with
    /// a `Range` request (a registry that answers 200 instead of 206 is read from the start,
    /// skipping what was already delivered). The consumer verifies digest and size.
    pub fn blob_stream(&self, ep: &Endpoint, desc: &Descriptor) -> BlobStream {
        struct State {
            client: Client,
            ep: Endpoint,
            desc: Descriptor,
            offset: u64,
            skip: u64,
            body: Option<futures::stream::BoxStream<'static, reqwest::Result<Bytes>>>,
            resumes: u32,
            done: bool,
        }
        let state = State {
            client: self.clone(),
            ep: ep.clone(),
            desc: desc.clone(),
            offset: 0,
            skip: 0,
            body: None,
            resumes: 0,
            done: false,
        };
        let stream = futures::stream::unfold(state, |mut st| async move {
            if st.done {
                return None;
            }
            loop {
                if st.body.is_none() {
                    match st.client.open_blob(&st.ep, &st.desc, st.offset).await {
                        Ok(resp) => {
                            // 200 to a Range request: the whole blob again.
                            st.skip = if st.offset > 0 && resp.status() == StatusCode::OK {
                                st.offset
                            } else {
                                0
                            };
                            st.body = Some(resp.bytes_stream().boxed());
                        }
                        Err(e) => {
                            st.done = true;
                            // Wrapped so readers (the OCI layout, the content store) keep the
                            // kind: a 404 stays "not found", a 401 stays "auth".
                            let e = plinth_oci::Error::from(e);
                            return Some((Err(std::io::Error::other(e)), st));
                        }
                    }
                }
                let body = st.body.as_mut().expect("opened");
                match body.next().await {
                    Some(Ok(mut chunk)) => {
                        if st.skip > 0 {
                            let n = st.skip.min(chunk.len() as u64);
                            st.skip -= n;
                            chunk = chunk.slice(n as usize..);
                            if chunk.is_empty() {
                                continue;
                            }
                        }
                        st.offset += chunk.len() as u64;
                        return Some((Ok(chunk), st));
                    }
                    Some(Err(e)) if st.resumes < MAX_RESUMES && st.offset < st.desc.size => {
                        tracing::debug!(error = %e, offset = st.offset, "blob download cut; resuming");
                        st.resumes += 1;
                        st.body = None;
                    }
                    None if st.offset < st.desc.size && st.resumes < MAX_RESUMES => {
                        tracing::debug!(offset = st.offset, "blob body ended early; resuming");
                        st.resumes += 1;
                        st.body = None;
                    }
                    Some(Err(e)) => {
                        st.done = true;
                        let msg = format!(
                            "{}: blob {} download failed at byte {}: {e}",
                            registry_of(&st.ep),
                            st.desc.digest,
                            st.offset
                        );
                        return Some((Err(std::io::Error::other(msg)), st));
                    }
                    None => return None,
                }
            }
        });
        Box::pin(tokio_util::io::StreamReader::new(stream))
    }

    /// Fetches a small blob (a config) whole, verified.
    pub async fn get_blob_bytes(&self, ep: &Endpoint, desc: &Descriptor) -> Result<Vec<u8>> {
        if desc.size > 64 << 20 {
            return Err(protocol(
                ep,
                format!(
                    "blob {} is {} bytes; too large to buffer",
                    desc.digest, desc.size
                ),
            ));
        }
        let mut stream = self.blob_stream(ep, desc);
        let mut buf = Vec::with_capacity(desc.size as usize);
        (&mut stream)
            .take(desc.size + 1)
            .read_to_end(&mut buf)
            .await
            .map_err(|e| {
                from_io(e).unwrap_or_else(|e| RegistryError::Network {
                    registry: registry_of(ep),
                    what: format!("blob {}", desc.digest),
                    message: e.to_string(),
                })
            })?;
        let mut v = Verifier::new(&desc.digest, Some(desc.size));
        v.update(&buf)
            .and_then(|_| v.finish())
            .map_err(|e| integrity(ep, format!("blob {}: {e}", desc.digest)))?;
        Ok(buf)
    }

    /// Whether the repository has the blob.
    pub async fn blob_exists(&self, ep: &Endpoint, desc: &Descriptor) -> Result<bool> {
        let what = format!("blob {}", desc.digest);
        let scopes = [scope(&ep.repository, "pull,push")];
        let url = format!("/v2/{}/blobs/{}", ep.repository, desc.digest);
        let resp = self
            .send(
                ep,
                &scopes,
                &what,
                Client::request(Method::HEAD, url.clone()),
            )
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.head_error(ep, &scopes, &what, &url, None, resp).await),
        }
    }

    /// Asks the registry to mount a blob from another repository. `false` when it opened
    /// an upload instead (202, which the spec allows); that upload is cancelled.
    pub async fn mount_blob(&self, ep: &Endpoint, desc: &Descriptor, from: &str) -> Result<bool> {
        let what = format!("mount of blob {} from {from}", desc.digest);
        let scopes = [scope(&ep.repository, "pull,push"), scope(from, "pull")];
        let url = format!(
            "/v2/{}/blobs/uploads/?mount={}&from={from}",
            ep.repository, desc.digest
        );
        let resp = self
            .send(ep, &scopes, &what, Client::request(Method::POST, url))
            .await?;
        match resp.status() {
            StatusCode::CREATED => Ok(true),
            StatusCode::ACCEPTED => {
                if let Some(loc) = header_str(resp.headers(), LOCATION) {
                    let loc = self.absolute(ep, &loc).await?;
                    let _ = self
                        .send(ep, &scopes, "cancel upload", move |http, _| {
                            http.delete(loc.clone())
                        })
                        .await;
                }
                Ok(false)
            }
            _ => Err(Client::status_error(ep, &what, resp).await),
        }
    }

    async fn absolute(&self, ep: &Endpoint, location: &str) -> Result<String> {
        if location.starts_with("http://") || location.starts_with("https://") {
            return Ok(location.to_string());
        }
        let base = self.base_url(ep).await?;
        Ok(format!("{base}{location}"))
    }

    /// Uploads a blob from a stream, verifying digest and size as it goes. Blobs up to the
    /// chunk size go in one `PUT`; larger ones as `PATCH` chunks then a closing `PUT`. Each
    /// request's body is in memory, so retries can resend it. On a mismatch the upload is
    /// cancelled and nothing is committed.
    pub async fn upload_blob(
        &self,
        ep: &Endpoint,
        desc: &Descriptor,
        mut data: BlobStream,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<()> {
        let what = format!("upload of blob {}", desc.digest);
        let scopes = [scope(&ep.repository, "pull,push")];
        let chunk = self.chunk_size();
        let read_err = |e: std::io::Error| RegistryError::Network {
            registry: registry_of(ep),
            what: format!("reading blob {} for upload", desc.digest),
            message: e.to_string(),
        };
        let mut verifier = Verifier::new(&desc.digest, Some(desc.size));
        let first = read_up_to(&mut data, chunk).await.map_err(read_err)?;
        verifier
            .update(&first)
            .map_err(|e| integrity(ep, format!("{what}: {e}")))?;

        let start_url = format!("/v2/{}/blobs/uploads/", ep.repository);
        let resp = self
            .send(ep, &scopes, &what, Client::request(Method::POST, start_url))
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(Client::status_error(ep, &what, resp).await);
        }
        let mut location = self.location(ep, &what, &resp).await?;

        let result: Result<()> = async {
            let mut body = first;
            if body.len() == chunk {
                let mut offset = 0u64;
                while !body.is_empty() {
                    let end = offset + body.len() as u64 - 1;
                    let b = body.clone();
                    let loc = location.clone();
                    let resp = self
                        .send(ep, &scopes, &what, move |http, _| {
                            http.patch(loc.clone())
                                .header(CONTENT_TYPE, "application/octet-stream")
                                .header(CONTENT_RANGE, format!("{offset}-{end}"))
                                .header(CONTENT_LENGTH, b.len())
                                .body(b.clone())
                        })
                        .await?;
                    if resp.status() != StatusCode::ACCEPTED {
                        return Err(Client::status_error(ep, &what, resp).await);
                    }
                    location = self.location(ep, &what, &resp).await?;
                    offset += body.len() as u64;
                    progress(body.len() as u64);
                    body = read_up_to(&mut data, chunk).await.map_err(read_err)?;
                    verifier
                        .update(&body)
                        .map_err(|e| integrity(ep, format!("{what}: {e}")))?;
                }
            }
            let last_len = body.len() as u64;
            verifier
                .clone()
                .finish()
                .map_err(|e| integrity(ep, format!("{what}: {e}")))?;
            let mut url = reqwest::Url::parse(&location).map_err(|e| {
                protocol(ep, format!("{what}: bad upload location {location:?}: {e}"))
            })?;
            url.query_pairs_mut()
                .append_pair("digest", &desc.digest.to_string());
            let resp = self
                .send(ep, &scopes, &what, move |http, _| {
                    http.put(url.clone())
                        .header(CONTENT_TYPE, "application/octet-stream")
                        .header(CONTENT_LENGTH, body.len())
                        .body(body.clone())
                })
                .await?;
            if resp.status() != StatusCode::CREATED {
                return Err(Client::status_error(ep, &what, resp).await);
            }
            progress(last_len);
            Ok(())
        }
        .await;
        if result.is_err() {
            let loc = location.clone();
            let _ = self
                .send(ep, &scopes, "cancel upload", move |http, _| {
                    http.delete(loc.clone())
                })
                .await;
        }
        result
    }

    async fn location(
        &self,
        ep: &Endpoint,
        what: &str,
        resp: &reqwest::Response,
    ) -> Result<String> {
        let loc = header_str(resp.headers(), LOCATION)
            .ok_or_else(|| protocol(ep, format!("{what}: the registry sent no upload Location")))?;
        self.absolute(ep, &loc).await
    }

    /// Stores a manifest under a tag or digest; checks the digest the registry reports.
    pub async fn put_manifest(
        &self,
        ep: &Endpoint,
        reference: &str,
        raw: &RawManifest,
    ) -> Result<()> {
        let what = format!("push of manifest {reference}");
        let scopes = [scope(&ep.repository, "pull,push")];
        let url = format!("/v2/{}/manifests/{reference}", ep.repository);
        let body = raw.bytes().clone();
        let media_type = raw.media_type().to_string();
        let resp = self
            .send(ep, &scopes, &what, |http, base| {
                http.put(format!("{base}{url}"))
                    .header(CONTENT_TYPE, media_type.clone())
                    .body(body.clone())
            })
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(Client::status_error(ep, &what, resp).await);
        }
        if let Some(d) = header_str(resp.headers(), "docker-content-digest")
            && d != raw.digest().to_string()
        {
            return Err(integrity(
                ep,
                format!(
                    "{what}: the registry stored digest {d}, plinth sent {}",
                    raw.digest()
                ),
            ));
        }
        Ok(())
    }

    /// Every tag of the repository, following `Link` pagination. `None` when the
    /// repository does not exist.
    pub async fn tags(&self, ep: &Endpoint) -> Result<Option<Vec<String>>> {
        let what = "tag list".to_string();
        let scopes = [scope(&ep.repository, "pull")];
        let mut next = Some(format!(
            "/v2/{}/tags/list?n={}",
            ep.repository,
            self.tags_page_size()
        ));
        let mut tags = Vec::new();
        let mut pages = 0;
        while let Some(path) = next.take() {
            pages += 1;
            if pages > 10_000 {
                return Err(protocol(
                    ep,
                    "tag list: more than 10000 pages; giving up".into(),
                ));
            }
            let url = path.clone();
            let resp = self
                .send(ep, &scopes, &what, |http, base| {
                    if url.starts_with("http") {
                        http.get(url.clone())
                    } else {
                        http.get(format!("{base}{url}"))
                    }
                })
                .await?;
            if resp.status() == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            if !resp.status().is_success() {
                return Err(Client::status_error(ep, &what, resp).await);
            }
            next = header_str(resp.headers(), LINK).and_then(|l| next_link(&l));
            #[derive(serde::Deserialize)]
            struct TagList {
                #[serde(default)]
                tags: Option<Vec<String>>,
            }
            let page: TagList = resp
                .json()
                .await
                .map_err(|e| protocol(ep, format!("tag list: malformed answer: {e}")))?;
            tags.extend(page.tags.unwrap_or_default());
        }
        Ok(Some(tags))
    }

    /// The base URL (`https://host`) of an endpoint.
    pub(crate) async fn base_url(&self, ep: &Endpoint) -> Result<String> {
        Ok(self.host_state(ep).await?.base)
    }
}

/// The registry error inside an I/O error from [`Client::blob_stream`], if it holds one.
pub(crate) fn from_io(e: std::io::Error) -> std::result::Result<RegistryError, std::io::Error> {
    let holds = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<plinth_oci::Error>())
        .is_some_and(|o| {
            matches!(o, plinth_oci::Error::Other { source, .. } if source.is::<RegistryError>())
        });
    if !holds {
        return Err(e);
    }
    let inner = e.into_inner().expect("checked");
    let oci = inner.downcast::<plinth_oci::Error>().expect("checked");
    match *oci {
        plinth_oci::Error::Other { source, .. } => {
            Ok(*source.downcast::<RegistryError>().expect("checked"))
        }
        _ => unreachable!("checked"),
    }
}

/// Reads until `limit` bytes or the end of the stream.
async fn read_up_to(data: &mut BlobStream, limit: usize) -> std::io::Result<Bytes> {
    let mut buf = Vec::with_capacity(limit.min(1 << 20));
    (&mut *data)
        .take(limit as u64)
        .read_to_end(&mut buf)
        .await?;
    Ok(Bytes::from(buf))
}

/// The target of `rel="next"` in a `Link` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| {
            p.trim()
                .replace(' ', "")
                .eq_ignore_ascii_case("rel=\"next\"")
                || p.trim().eq_ignore_ascii_case("rel=next")
        });
        is_next.then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_link_headers() {
        assert_eq!(
            next_link(r#"</v2/x/tags/list?n=2&last=b>; rel="next""#).as_deref(),
            Some("/v2/x/tags/list?n=2&last=b")
        );
        assert_eq!(next_link(r#"<http://a/b>; rel="prev""#), None);
    }
}
