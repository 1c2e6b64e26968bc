//! Faults a real registry cannot be made to produce on purpose, injected by a small HTTP
//! proxy in front of the real open registry (127.0.0.1:5000): 5xx, 429 with `Retry-After`
//! and rate-limit headers, a connection cut mid-blob, corrupted blob bytes, a lying
//! `Docker-Content-Digest`, and a registry that omits that header on `HEAD`.
//!
//! The proxy listens on 127.0.0.1:<ephemeral>, so plinth treats it like any loopback
//! registry (plain HTTP allowed).

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use futures::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::{TokioExecutor, TokioIo};
use plinth_oci::copy::{CopyOptions, copy};
use plinth_oci::layout::Layout;
use plinth_oci::store::Store;
use plinth_oci::{Digest, ErrorKind, Source};
use plinth_reference::Reference;
use plinth_registry::{ClientOptions, Remote};

// ------------------------------------------------------------------------- the proxy ------

/// Which requests a fault applies to.
#[derive(Clone, Debug)]
struct Match {
    method: Option<Method>,
    path_contains: String,
}

impl Match {
    fn new(method: Option<Method>, path_contains: impl Into<String>) -> Match {
        Match {
            method,
            path_contains: path_contains.into(),
        }
    }
    fn hits(&self, method: &Method, path: &str) -> bool {
        self.method.as_ref().is_none_or(|m| m == method) && path.contains(&self.path_contains)
    }
}

#[derive(Clone, Debug)]
enum Fault {
    /// Answer `status` (with `headers` and a registry-style error body) the first `times`
    /// matching requests, without asking the registry.
    Status {
        on: Match,
        status: u16,
        headers: Vec<(&'static str, &'static str)>,
        times: usize,
    },
    /// On the first matching request, send `after` bytes of the body, then close.
    Cut { on: Match, after: usize },
    /// Like `Cut`, and later requests lose their `Range` header (a registry or cache that
    /// cannot serve ranges answers 200 with the whole blob).
    CutNoRange { on: Match, after: usize },
    /// Flip a byte in the middle of every matching body.
    Corrupt { on: Match },
    /// Replace `Docker-Content-Digest` on matching answers with a wrong digest.
    LieDigest { on: Match },
    /// Drop `Docker-Content-Digest` from matching answers.
    DropDigest { on: Match },
}

/// One request the proxy saw.
#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    path: String,
    range: Option<String>,
    status: u16,
}

struct State {
    upstream: String,
    fault: Fault,
    hits: AtomicUsize,
    seen: Mutex<Vec<Seen>>,
    http: HyperClient<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

type Body = BoxBody<Bytes, std::io::Error>;

struct Proxy {
    addr: SocketAddr,
    state: Arc<State>,
}

impl Proxy {
    async fn start(fault: Fault) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            upstream: open_registry(),
            fault,
            hits: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
        });
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    return;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let st = st.clone();
                        async move { Ok::<_, Infallible>(handle(st, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(conn), service)
                        .await;
                });
            }
        });
        Proxy { addr, state }
    }

    /// The proxy as a registry name.
    fn host(&self) -> String {
        self.addr.to_string()
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// The requests whose path contains `part`.
    fn seen_for(&self, part: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path.contains(part))
            .collect()
    }
}

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

async fn handle(st: Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_else(|| "/".into());
    let range = req
        .headers()
        .get(hyper::header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let record = |status: u16| {
        st.seen.lock().unwrap().push(Seen {
            method: method.clone(),
            path: path.clone(),
            range: range.clone(),
            status,
        })
    };

    if let Fault::Status {
        on,
        status,
        headers,
        times,
    } = &st.fault
        && on.hits(&method, &path)
        && st.hits.fetch_add(1, Ordering::SeqCst) < *times
    {
        let body = format!(
            r#"{{"errors":[{{"code":"{}","message":"injected by the test proxy"}}]}}"#,
            if *status == 429 {
                "TOOMANYREQUESTS"
            } else {
                "UNAVAILABLE"
            }
        );
        let mut resp = Response::builder()
            .status(*status)
            .header("content-type", "application/json");
        for (k, v) in headers {
            resp = resp.header(*k, *v);
        }
        record(*status);
        return resp.body(full(body)).unwrap();
    }

    // Forward, keeping the client's Host so the registry's Location URLs point here.
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut fwd = Request::builder()
        .method(parts.method.clone())
        .uri(format!("http://{}{path}", st.upstream));
    let drop_range = matches!(&st.fault, Fault::CutNoRange { on, .. } if on.hits(&method, &path));
    for (k, v) in &parts.headers {
        if drop_range && k == hyper::header::RANGE {
            continue;
        }
        fwd = fwd.header(k, v);
    }
    let upstream = match st.http.request(fwd.body(Full::new(body)).unwrap()).await {
        Ok(r) => r,
        Err(e) => {
            record(502);
            return Response::builder()
                .status(502)
                .body(full(format!("proxy: {e}")))
                .unwrap();
        }
    };
    let (mut parts, body) = upstream.into_parts();
    let mut bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    parts.headers.remove(hyper::header::TRANSFER_ENCODING);
    if method != Method::HEAD {
        parts
            .headers
            .insert(hyper::header::CONTENT_LENGTH, bytes.len().into());
    }
    let status = parts.status.as_u16();
    let mut cut = None;
    match &st.fault {
        Fault::Cut { on, after } | Fault::CutNoRange { on, after }
            if on.hits(&method, &path)
                && parts.status.is_success()
                && st.hits.fetch_add(1, Ordering::SeqCst) == 0 =>
        {
            cut = Some(*after);
        }
        Fault::Corrupt { on } if on.hits(&method, &path) && !bytes.is_empty() => {
            let mut v = bytes.to_vec();
            let mid = v.len() / 2;
            v[mid] ^= 0xff;
            bytes = v.into();
        }
        Fault::LieDigest { on } if on.hits(&method, &path) => {
            let lie = Digest::sha256(b"a lie").to_string();
            parts
                .headers
                .insert("docker-content-digest", lie.parse().unwrap());
        }
        Fault::DropDigest { on } if on.hits(&method, &path) => {
            parts.headers.remove("docker-content-digest");
        }
        _ => {}
    }
    record(status);
    let body = match cut {
        // Send the first bytes, give them time to leave, then drop the connection.
        Some(n) => {
            let head = bytes.slice(..n.min(bytes.len()));
            let s = futures::stream::once(async move { Ok(Frame::data(head)) }).chain(
                futures::stream::once(async {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Err(std::io::Error::other("connection cut by the test proxy"))
                }),
            );
            BodyExt::boxed(StreamBody::new(s))
        }
        None => full(bytes),
    };
    Response::from_parts(parts, body)
}

// ------------------------------------------------------------------------- helpers --------

/// A fresh repository on the open registry holding a synthetic image: a 2 MiB layer, a small
/// one and a config. Returns the repository and the image.
async fn pushed_image(seed: u64) -> (String, TestImage) {
    let repo = format!("itest/{}", unique("faults"));
    let img = TestImage::new(&[2 << 20, 3000], seed ^ std::process::id() as u64);
    img.push(&anonymous(), &endpoint(&open_registry(), &repo), "v1")
        .await;
    (repo, img)
}

fn remote(c: &plinth_registry::Client, proxy: &Proxy, repo: &str) -> Remote {
    let r = Reference::parse_normalized(&format!("{}/{repo}:v1", proxy.host())).unwrap();
    Remote::new(c, r)
}

fn fast_client() -> plinth_registry::Client {
    client(ClientOptions::default())
}

fn statuses(seen: &[Seen]) -> Vec<u16> {
    seen.iter().map(|s| s.status).collect()
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => vec![],
    }
}

// ------------------------------------------------------------------------- the faults -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_until_success() {
    let (repo, img) = pushed_image(1).await;
    let proxy = Proxy::start(Fault::Status {
        on: Match::new(Some(Method::GET), "/manifests/"),
        status: 500,
        headers: vec![],
        times: 2,
    })
    .await;
    let c = fast_client();
    let root = remote(&c, &proxy, &repo).root().await.unwrap();
    assert_eq!(root.digest(), img.manifest.digest());
    assert_eq!(
        statuses(&proxy.seen_for("/manifests/")),
        vec![500, 500, 200]
    );

    // An upload whose closing PUT meets a 502 once is retried too.
    let proxy = Proxy::start(Fault::Status {
        on: Match::new(Some(Method::PUT), "/blobs/uploads/"),
        status: 502,
        headers: vec![],
        times: 1,
    })
    .await;
    let data = random_bytes(10_000, 99 ^ std::process::id() as u64);
    let desc = descriptor(plinth_oci::media::OCI_LAYER, &data);
    let ep = endpoint(&proxy.host(), &repo);
    c.upload_blob(&ep, &desc, stream(data.clone()), &|_| {})
        .await
        .unwrap();
    let puts: Vec<u16> = proxy
        .seen()
        .iter()
        .filter(|s| s.method == Method::PUT)
        .map(|s| s.status)
        .collect();
    assert_eq!(puts, vec![502, 201]);
    assert_eq!(read_all(c.blob_stream(&ep, &desc)).await.unwrap(), data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_server_errors_fail_with_the_status() {
    let (repo, _) = pushed_image(2).await;
    let proxy = Proxy::start(Fault::Status {
        on: Match::new(None, "/manifests/"),
        status: 503,
        headers: vec![],
        times: usize::MAX,
    })
    .await;
    let c = fast_client();
    let err = remote(&c, &proxy, &repo).root().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    let msg = chain(&err);
    for part in [proxy.host().as_str(), repo.as_str(), "503", "UNAVAILABLE"] {
        assert!(msg.contains(part), "{msg:?} lacks {part:?}");
    }
    // Every attempt of the retry policy was made.
    assert_eq!(
        proxy.seen_for("/manifests/").len(),
        fast_retry().attempts as usize
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_waits_for_retry_after() {
    let (repo, img) = pushed_image(3).await;
    let proxy = Proxy::start(Fault::Status {
        on: Match::new(None, "/manifests/"),
        status: 429,
        headers: vec![("retry-after", "1")],
        times: 1,
    })
    .await;
    let c = fast_client();
    let start = Instant::now();
    let head = remote(&c, &proxy, &repo).head().await.unwrap();
    let waited = start.elapsed();
    assert_eq!(head.digest, *img.manifest.digest());
    assert!(waited >= Duration::from_secs(1), "waited only {waited:?}");
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");
    assert_eq!(statuses(&proxy.seen_for("/manifests/")), vec![429, 200]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_says_how_many_pulls_remain() {
    let (repo, _) = pushed_image(4).await;
    let proxy = Proxy::start(Fault::Status {
        on: Match::new(None, "/manifests/"),
        status: 429,
        headers: vec![
            ("ratelimit-limit", "100;w=21600"),
            ("ratelimit-remaining", "0;w=21600"),
        ],
        times: usize::MAX,
    })
    .await;
    let c = fast_client();
    let r = remote(&c, &proxy, &repo);
    for err in [
        r.head().await.unwrap_err(),
        plinth_registry::RegistryError::Config(chain(&r.root().await.unwrap_err())),
    ] {
        let msg = err.to_string();
        for part in [
            proxy.host().as_str(),
            repo.as_str(),
            "429",
            "0 of 100 pulls remain",
            "21600",
        ] {
            assert!(msg.contains(part), "{msg:?} lacks {part:?}");
        }
    }
    let err = r.head().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    // A Retry-After longer than the policy allows fails at once, saying how long.
    let proxy = Proxy::start(Fault::Status {
        on: Match::new(None, "/manifests/"),
        status: 429,
        headers: vec![("retry-after", "3600")],
        times: usize::MAX,
    })
    .await;
    let start = Instant::now();
    let err = remote(&c, &proxy, &repo).head().await.unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(err.to_string().contains("retry after 3600 s"), "{err}");
    assert_eq!(proxy.seen_for("/manifests/").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_download_resumes_with_range() {
    let (repo, img) = pushed_image(5).await;
    let (layer, bytes) = &img.layers()[0];
    let cut_at = 1_000_000;
    let proxy = Proxy::start(Fault::Cut {
        on: Match::new(Some(Method::GET), format!("/blobs/{}", layer.digest)),
        after: cut_at,
    })
    .await;
    let c = fast_client();
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(dir.path(), Some("v1".into()));
    let report = copy(&remote(&c, &proxy, &repo), &layout, &CopyOptions::default())
        .await
        .unwrap();
    assert_eq!(report.digest, img.manifest.digest().to_string());
    let gets = proxy.seen_for(&format!("/blobs/{}", layer.digest));
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert_eq!(gets[0].range, None);
    assert_eq!(gets[1].range.as_deref(), Some(&*format!("bytes={cut_at}-")));
    assert_eq!(gets[1].status, 206);
    // The layer in the layout is the whole blob.
    let stored = std::fs::read(layout.blobs().path(&layer.digest)).unwrap();
    assert!(stored == bytes[..], "layer bytes differ after resume");
    // And the same through a bare stream.
    let proxy = Proxy::start(Fault::Cut {
        on: Match::new(Some(Method::GET), format!("/blobs/{}", layer.digest)),
        after: 12345,
    })
    .await;
    let got = read_all(c.blob_stream(&endpoint(&proxy.host(), &repo), layer))
        .await
        .unwrap();
    assert!(got == bytes[..]);
    assert_eq!(
        proxy.seen_for("/blobs/")[1].range.as_deref(),
        Some("bytes=12345-")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_download_resumes_when_the_registry_ignores_range() {
    let (repo, img) = pushed_image(10).await;
    let (layer, bytes) = &img.layers()[0];
    let proxy = Proxy::start(Fault::CutNoRange {
        on: Match::new(Some(Method::GET), format!("/blobs/{}", layer.digest)),
        after: 700_000,
    })
    .await;
    let c = fast_client();
    let got = read_all(c.blob_stream(&endpoint(&proxy.host(), &repo), layer))
        .await
        .unwrap();
    assert!(
        got == bytes[..],
        "bytes differ after a 200 to a Range request"
    );
    let gets = proxy.seen_for("/blobs/");
    assert_eq!(statuses(&gets), vec![200, 200]);
    assert_eq!(gets[1].range.as_deref(), Some("bytes=700000-"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_blob_is_refused_and_nothing_is_kept() {
    let (repo, img) = pushed_image(6).await;
    let proxy = Proxy::start(Fault::Corrupt {
        on: Match::new(Some(Method::GET), "/blobs/"),
    })
    .await;
    let c = fast_client();
    let dir = tempfile::tempdir().unwrap();
    let layout_dir = dir.path().join("layout");
    let store = Store::at(dir.path().join("store"));
    let layout = Layout::new(&layout_dir, Some("v1".into()));
    let src = remote(&c, &proxy, &repo).with_store(store.clone());
    let err = copy(&src, &layout, &CopyOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert!(chain(&err).contains("digest mismatch"), "{}", chain(&err));
    let blobs = files_in(&layout_dir.join("blobs/sha256"));
    for (d, _) in &img.blobs {
        assert!(
            !blobs.contains(&d.digest.hex().to_string()),
            "{} kept in the layout",
            d.digest
        );
    }
    assert!(
        blobs.iter().all(|f| !f.starts_with(".tmp")),
        "temp files left: {blobs:?}"
    );
    // The layout names no image.
    assert!(layout.tags().map(|t| t.is_empty()).unwrap_or(true));
    // The config through the content store: refused, not cached.
    let err = src.blob_bytes(&img.blobs[0].0).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert_eq!(store.du().unwrap().blobs, 0, "nothing enters the cache");
    assert!(files_in(&dir.path().join("store/blobs/sha256")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_docker_content_digest_is_an_integrity_error() {
    let (repo, _) = pushed_image(7).await;
    let proxy = Proxy::start(Fault::LieDigest {
        on: Match::new(Some(Method::GET), "/manifests/"),
    })
    .await;
    let c = fast_client();
    let r = remote(&c, &proxy, &repo);
    let err = r.root().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    let msg = chain(&err);
    assert!(msg.contains("Docker-Content-Digest"), "{msg}");
    assert!(msg.contains(&proxy.host()) && msg.contains(&repo), "{msg}");
    let dir = tempfile::tempdir().unwrap();
    let err = copy(&r, &Layout::new(dir.path(), None), &CopyOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_without_docker_content_digest_falls_back_to_get() {
    let (repo, img) = pushed_image(8).await;
    let proxy = Proxy::start(Fault::DropDigest {
        on: Match::new(Some(Method::HEAD), "/manifests/"),
    })
    .await;
    let c = fast_client();
    let head = remote(&c, &proxy, &repo).head().await.unwrap();
    assert_eq!(head.digest, *img.manifest.digest());
    assert_eq!(head.size, Some(img.manifest.bytes().len() as u64));
    let methods: Vec<Method> = proxy
        .seen_for("/manifests/")
        .into_iter()
        .map(|s| s.method)
        .collect();
    assert_eq!(methods, vec![Method::HEAD, Method::GET]);
    // With the header present, HEAD alone is enough (no GET, which Docker Hub counts).
    let plain = Proxy::start(Fault::DropDigest {
        on: Match::new(None, "/never-matches/"),
    })
    .await;
    remote(&c, &plain, &repo).head().await.unwrap();
    let methods: Vec<Method> = plain
        .seen_for("/manifests/")
        .into_iter()
        .map(|s| s.method)
        .collect();
    assert_eq!(methods, vec![Method::HEAD]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_registry_is_a_network_error_naming_it() {
    // A port nothing listens on.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let c = fast_client();
    let r = Remote::new(
        &c,
        Reference::parse_normalized(&format!("{addr}/library/debian:bookworm")).unwrap(),
    );
    let err = r.head().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_requests_share_one_ping() {
    let (repo, img) = pushed_image(9).await;
    let proxy = Proxy::start(Fault::DropDigest {
        on: Match::new(None, "/never-matches/"),
    })
    .await;
    let c = fast_client();
    let r = remote(&c, &proxy, &repo);
    let heads = futures::future::join_all((0..16).map(|_| r.head())).await;
    for h in heads {
        assert_eq!(h.unwrap().digest, *img.manifest.digest());
    }
    let pings = proxy.seen().iter().filter(|s| s.path == "/v2/").count();
    assert_eq!(pings, 1, "{:?}", proxy.seen());
}
