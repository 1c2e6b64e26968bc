//! The registry client against the real CNCF distribution registries of the test
//! environment (`eval "$(scripts/test-env.sh)"`): open (:5000), htpasswd (:5001) and token
//! auth (:5002, issuer :5003).

mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine;
use common::*;
use plinth_oci::copy::{CopyOptions, copy};
use plinth_oci::manifest::{Descriptor, RawManifest};
use plinth_oci::source::{BlobOrigin, BlobStream, Sink, Source};
use plinth_oci::{Digest, ErrorKind, Platform, media};
use plinth_reference::Reference;
use plinth_registry::{ClientOptions, RegistriesConfig, RegistryError, Remote, RetryPolicy};
use sha2::Digest as _;

fn reference(s: &str) -> Reference {
    Reference::parse_normalized(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn sha256_hex(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

/// Asserts an error names what a user needs to act on it.
#[track_caller]
fn assert_names(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "error {msg:?} does not mention {p:?}");
    }
}

// ------------------------------------------------------------------------- manifests ------

#[tokio::test]
async fn head_digest_is_sha256_of_get_bytes_and_matches_images_env() {
    let c = anonymous();
    let reg = open_registry();
    // An independent GET, outside the client, for the bytes.
    let http = http();
    for (repo, tag, var) in [
        (
            "library/debian",
            "bookworm-slim",
            "PLINTH_IMG_DEBIAN_SLIM_DIGEST",
        ),
        (
            "library/debian",
            "bookworm",
            "PLINTH_IMG_DEBIAN_INDEX_DIGEST",
        ),
        ("library/python", "3.11-slim", "PLINTH_IMG_PYTHON_DIGEST"),
        (
            "library/buildpack-deps",
            "bookworm",
            "PLINTH_IMG_BUILDPACK_DIGEST",
        ),
        ("public/hello", "1", "PLINTH_IMG_HELLO_DIGEST"),
    ] {
        let ep = endpoint(&reg, repo);
        let head = c
            .head_manifest(&ep, tag)
            .await
            .unwrap()
            .expect("tag exists");
        let raw = c.get_manifest(&ep, tag).await.unwrap().expect("tag exists");
        let bytes = http
            .get(format!("http://{reg}/v2/{repo}/manifests/{tag}"))
            .header("Accept", media::MANIFEST_ACCEPT)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(raw.bytes(), &bytes, "{repo}:{tag}: bytes kept exactly");
        assert_eq!(head.digest.to_string(), sha256_hex(&bytes), "{repo}:{tag}");
        assert_eq!(
            head.digest.to_string(),
            env(var),
            "{repo}:{tag} vs images.env"
        );
        assert_eq!(raw.digest(), &head.digest);
        assert_eq!(head.size, Some(bytes.len() as u64));
        assert_eq!(head.media_type, raw.media_type());
        // By digest, too.
        let by_digest = c
            .get_manifest(&ep, &head.digest.to_string())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by_digest.bytes(), &bytes);
    }
    let ep = endpoint(&reg, "library/debian");
    assert_eq!(c.head_manifest(&ep, "no-such-tag").await.unwrap(), None);
    assert!(c.get_manifest(&ep, "no-such-tag").await.unwrap().is_none());
}

#[tokio::test]
async fn remote_root_of_index_and_of_manifest() {
    let c = anonymous();
    let index = Remote::new(&c, reference(&env("PLINTH_IMG_DEBIAN")));
    let root = index.root().await.unwrap();
    assert!(root.is_index(), "debian:bookworm is an index");
    assert_eq!(
        root.digest().to_string(),
        env("PLINTH_IMG_DEBIAN_INDEX_DIGEST")
    );
    let head = index.head().await.unwrap();
    assert_eq!(head.digest, *root.digest());
    assert_eq!(
        media::manifest_kind(&head.media_type),
        Some(media::ManifestKind::Index)
    );
    assert_eq!(root.as_index().unwrap().manifests.len(), 3);

    let slim = Remote::new(&c, reference(&env("PLINTH_IMG_DEBIAN_SLIM")));
    let root = slim.root().await.unwrap();
    let image = root.as_image().expect("bookworm-slim is an image manifest");
    assert_eq!(
        root.digest().to_string(),
        env("PLINTH_IMG_DEBIAN_SLIM_DIGEST")
    );
    assert_eq!(
        image.layers.len().to_string(),
        env("PLINTH_IMG_DEBIAN_SLIM_LAYERS")
    );
    // images.env counts the config with the layers.
    let compressed: u64 = image.config.size + image.layers.iter().map(|l| l.size).sum::<u64>();
    assert_eq!(
        compressed.to_string(),
        env("PLINTH_IMG_DEBIAN_SLIM_COMPRESSED_SIZE")
    );

    // A reference by digest.
    let arm = Remote::new(&c, reference(&env("PLINTH_IMG_DEBIAN_ARM64")));
    assert_eq!(
        arm.root().await.unwrap().digest().to_string(),
        env("PLINTH_IMG_DEBIAN_ARM64_DIGEST")
    );
    assert_eq!(
        arm.head().await.unwrap().digest.to_string(),
        env("PLINTH_IMG_DEBIAN_ARM64_DIGEST")
    );

    // A tag that does not exist: NotFound, naming registry and repository.
    let missing = Remote::new(
        &c,
        reference(&format!("{}/library/debian:no-such-tag", open_registry())),
    );
    let err = missing.root().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_names(
        &chain(&err),
        &[&open_registry(), "library/debian", "no-such-tag", "404"],
    );
    let err = missing.head().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn platform_selection_from_the_index() {
    let c = anonymous();
    let remote = Remote::new(&c, reference(&env("PLINTH_IMG_DEBIAN")));
    let root = remote.root().await.unwrap();
    let index = root.as_index().unwrap();
    for (platform, var) in [
        ("linux/amd64", "PLINTH_IMG_DEBIAN_AMD64_DIGEST"),
        ("linux/arm64", "PLINTH_IMG_DEBIAN_ARM64V8_DIGEST"),
        ("linux/arm64/v8", "PLINTH_IMG_DEBIAN_ARM64V8_DIGEST"),
        ("linux/arm", "PLINTH_IMG_DEBIAN_ARMV7_DIGEST"),
        ("linux/arm/v7", "PLINTH_IMG_DEBIAN_ARMV7_DIGEST"),
    ] {
        let want = Platform::parse(platform).unwrap();
        let desc = index
            .find_platform(&want)
            .unwrap_or_else(|| panic!("{platform} is in the index"));
        assert_eq!(desc.digest.to_string(), env(var), "{platform}");
        let child = remote.manifest(desc).await.unwrap();
        assert_eq!(child.digest(), &desc.digest);
        let image = child.as_image().expect("an image manifest");
        // The config agrees about the platform.
        let config = remote.blob_bytes(&image.config).await.unwrap();
        let config = plinth_oci::ConfigFile::from_slice(&config).unwrap();
        assert!(
            want.matches(&config.platform()),
            "{platform} config says {}",
            config.platform()
        );
    }
    for absent in ["linux/s390x", "linux/arm/v6", "windows/amd64"] {
        assert!(
            index
                .find_platform(&Platform::parse(absent).unwrap())
                .is_none(),
            "{absent} must not match"
        );
    }
}

// ------------------------------------------------------------------------- tags -----------

#[tokio::test]
async fn tags_follow_link_pagination() {
    let reg = open_registry();
    let repo = format!("itest/{}", unique("tags"));
    let ep = endpoint(&reg, &repo);
    let pusher = anonymous();
    let img = TestImage::new(&[100], 1);
    img.push(&pusher, &ep, "t000").await;
    let mut want: Vec<String> = (0..25).map(|i| format!("t{i:03}")).collect();
    for t in &want[1..] {
        pusher.put_manifest(&ep, t, &img.manifest).await.unwrap();
    }
    // 25 tags at 10 a page: three pages, each asked for by the Link of the one before.
    let paged = client(ClientOptions {
        tags_page_size: 10,
        ..ClientOptions::default()
    });
    let mut got = paged.tags(&ep).await.unwrap().expect("repository exists");
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // Page boundaries that fall exactly on the end.
    let exact = client(ClientOptions {
        tags_page_size: 5,
        ..ClientOptions::default()
    });
    let mut got = exact.tags(&ep).await.unwrap().unwrap();
    got.sort();
    assert_eq!(got, want);
    // Through Remote, with the default page size.
    let remote = Remote::new(&pusher, reference(&format!("{reg}/{repo}")));
    let mut got = remote.tags().await.unwrap();
    got.sort();
    assert_eq!(got, want);
    // A repository that does not exist.
    let none = endpoint(&reg, &format!("itest/{}", unique("no-repo")));
    assert_eq!(paged.tags(&none).await.unwrap(), None);
    let err = Remote::new(&pusher, reference(&format!("{}/{}", reg, none.repository)))
        .tags()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

// ------------------------------------------------------------------------- blobs ----------

#[tokio::test]
async fn blob_downloads_are_verified() {
    let c = anonymous();
    let remote = Remote::new(&c, reference(&env("PLINTH_IMG_PYTHON")));
    let root = remote.root().await.unwrap();
    let image = root.as_image().unwrap();
    assert_eq!(
        image.layers.len().to_string(),
        env("PLINTH_IMG_PYTHON_LAYERS")
    );
    let ep = remote.origin().clone();
    // The config, whole.
    let config = c.get_blob_bytes(&ep, &image.config).await.unwrap();
    assert_eq!(sha256_hex(&config), image.config.digest.to_string());
    let parsed = plinth_oci::ConfigFile::from_slice(&config).unwrap();
    assert_eq!(parsed.diff_ids().len(), image.layers.len());
    // Every layer, streamed.
    for layer in &image.layers {
        let bytes = read_all(remote.blob(layer).await.unwrap()).await.unwrap();
        assert_eq!(bytes.len() as u64, layer.size);
        assert_eq!(sha256_hex(&bytes), layer.digest.to_string());
    }
    // A descriptor whose size disagrees with the bytes: an integrity error.
    let mut wrong = image.config.clone();
    wrong.size -= 1;
    let err = c.get_blob_bytes(&ep, &wrong).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    let mut wrong = image.config.clone();
    wrong.digest = Digest::sha256(b"something else");
    let err = c.get_blob_bytes(&ep, &wrong).await.unwrap_err();
    // The registry has no blob of that digest.
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_names(
        &err.to_string(),
        &[&open_registry(), "library/python", "404"],
    );
    let err = remote.blob_bytes(&wrong).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
}

#[tokio::test]
async fn monolithic_and_chunked_uploads_read_back() {
    let reg = open_registry();
    let ep = endpoint(&reg, &format!("itest/{}", unique("upload")));
    let chunk = 64 * 1024;
    let mono = anonymous();
    let chunked = client(ClientOptions {
        chunk_size: chunk,
        ..ClientOptions::default()
    });
    let seed = std::process::id() as u64;
    for (name, c, len, requests) in [
        ("monolithic", &mono, 200_000usize, 1usize),
        ("chunked", &chunked, 3 * chunk + 1234, 4),
        ("chunked, exact multiple", &chunked, 2 * chunk, 2),
        ("chunked, smaller than a chunk", &chunked, 1000, 1),
    ] {
        let data = random_bytes(len, seed + len as u64);
        let desc = descriptor(media::OCI_LAYER, &data);
        assert!(
            !c.blob_exists(&ep, &desc).await.unwrap(),
            "{name}: fresh blob"
        );
        let calls = Arc::new(Mutex::new(Vec::new()));
        let seen = calls.clone();
        c.upload_blob(&ep, &desc, stream(data.clone()), &move |n| {
            seen.lock().unwrap().push(n)
        })
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let calls = calls.lock().unwrap().clone();
        assert_eq!(calls.iter().sum::<u64>(), len as u64, "{name}: progress");
        // One progress report per request that carried bytes.
        assert_eq!(
            calls.iter().filter(|n| **n > 0).count(),
            requests,
            "{name}: {calls:?}"
        );
        assert!(c.blob_exists(&ep, &desc).await.unwrap(), "{name}");
        let back = read_all(c.blob_stream(&ep, &desc)).await.unwrap();
        assert!(back == data, "{name}: bytes read back differ");
    }
    // Bytes that do not match the descriptor: refused, nothing committed.
    for c in [&mono, &chunked] {
        let data = random_bytes(3 * chunk, seed + 7);
        let mut desc = descriptor(media::OCI_LAYER, &data);
        desc.digest = Digest::sha256(b"not these bytes");
        let err = c
            .upload_blob(&ep, &desc, stream(data), &|_| {})
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
        assert!(!c.blob_exists(&ep, &desc).await.unwrap());
        // Too few bytes for the descriptor's size.
        let data = random_bytes(1000, seed + 8);
        let mut desc = descriptor(media::OCI_LAYER, &data);
        desc.size += 1;
        let err = c
            .upload_blob(&ep, &desc, stream(data), &|_| {})
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
        assert!(!c.blob_exists(&ep, &desc).await.unwrap());
    }
}

/// A source that says its blobs can be mounted from `origin`.
struct ClaimsOrigin {
    inner: Remote,
    origin: BlobOrigin,
}

#[async_trait]
impl Source for ClaimsOrigin {
    fn name(&self) -> String {
        Source::name(&self.inner)
    }
    async fn root(&self) -> plinth_oci::Result<RawManifest> {
        self.inner.root().await
    }
    async fn manifest(&self, desc: &Descriptor) -> plinth_oci::Result<RawManifest> {
        self.inner.manifest(desc).await
    }
    async fn blob(&self, desc: &Descriptor) -> plinth_oci::Result<BlobStream> {
        self.inner.blob(desc).await
    }
    fn origin(&self) -> Option<BlobOrigin> {
        Some(self.origin.clone())
    }
}

#[tokio::test]
async fn cross_repository_mount_and_declined_mount_fallback() {
    let reg = open_registry();
    let c = anonymous();
    let src_repo = format!("itest/{}", unique("mount-src"));
    let img = TestImage::new(&[5000, 7000], 42 + std::process::id() as u64);
    img.push(&c, &endpoint(&reg, &src_repo), "v1").await;

    // The client call: 201, the blob is there without an upload.
    let (layer, _) = &img.layers()[0];
    let dst = endpoint(&reg, &format!("itest/{}", unique("mount-dst")));
    assert!(!c.blob_exists(&dst, layer).await.unwrap());
    assert!(
        c.mount_blob(&dst, layer, &src_repo).await.unwrap(),
        "201 Created"
    );
    assert!(c.blob_exists(&dst, layer).await.unwrap());

    // A copy between two repositories of one registry mounts every blob.
    let src = Remote::new(&c, reference(&format!("{reg}/{src_repo}:v1")));
    let dst_repo = format!("itest/{}", unique("mount-copy"));
    let dst = Remote::new(&c, reference(&format!("{reg}/{dst_repo}:v1")));
    let report = copy(&src, &dst, &CopyOptions::default()).await.unwrap();
    assert_eq!(
        (report.mounted, report.copied, report.existing, report.bytes),
        (3, 0, 0, 0),
        "{report:?}"
    );
    assert_eq!(report.digest, img.manifest.digest().to_string());
    assert_eq!(dst.head().await.unwrap().digest, *img.manifest.digest());

    // The registry declines (202) to mount from a repository that lacks the blob.
    let empty_repo = format!("itest/{}", unique("mount-empty"));
    let other = endpoint(&reg, &format!("itest/{}", unique("mount-declined")));
    assert!(
        !c.mount_blob(&other, layer, &empty_repo).await.unwrap(),
        "202 Accepted means not mounted"
    );
    assert!(!c.blob_exists(&other, layer).await.unwrap());

    // A copy whose source claims that repository falls back to uploading.
    let claims = ClaimsOrigin {
        inner: Remote::new(&c, reference(&format!("{reg}/{src_repo}:v1"))),
        origin: BlobOrigin {
            registry: reg.clone(),
            repository: empty_repo,
        },
    };
    let dst = Remote::new(&c, reference(&format!("{reg}/{}:v1", other.repository)));
    let report = copy(&claims, &dst, &CopyOptions::default()).await.unwrap();
    assert_eq!(
        (report.mounted, report.copied, report.existing),
        (0, 3, 0),
        "{report:?}"
    );
    let total: u64 = img.blobs.iter().map(|(d, _)| d.size).sum();
    assert_eq!(report.bytes, total);
    let root = dst.root().await.unwrap();
    assert_eq!(root.bytes(), img.manifest.bytes());
    for (d, b) in &img.blobs {
        assert_eq!(
            &read_all(dst.blob(d).await.unwrap()).await.unwrap()[..],
            &b[..]
        );
    }
    // Copying again finds every blob already there.
    let report = copy(&claims, &dst, &CopyOptions::default()).await.unwrap();
    assert_eq!((report.existing, report.copied, report.mounted), (3, 0, 0));
}

#[tokio::test]
async fn manifest_push_by_tag_and_by_digest() {
    let reg = open_registry();
    let c = anonymous();
    let repo = format!("itest/{}", unique("push"));
    let ep = endpoint(&reg, &repo);
    let img = TestImage::new(&[300], 7 + std::process::id() as u64);
    img.push(&c, &ep, "v1").await;
    let head = c.head_manifest(&ep, "v1").await.unwrap().unwrap();
    assert_eq!(head.digest, *img.manifest.digest());
    assert_eq!(head.media_type, media::OCI_MANIFEST);

    // By digest only.
    let img2 = TestImage::new(&[400], 8 + std::process::id() as u64);
    for (d, b) in &img2.blobs {
        c.upload_blob(&ep, d, stream(b.to_vec()), &|_| {})
            .await
            .unwrap();
    }
    let d2 = img2.manifest.digest().to_string();
    c.put_manifest(&ep, &d2, &img2.manifest).await.unwrap();
    let got = c.get_manifest(&ep, &d2).await.unwrap().unwrap();
    assert_eq!(got.bytes(), img2.manifest.bytes());

    // An index of both, by tag, through the Sink; the root keeps its bytes.
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_INDEX,
        "manifests": [
            {"mediaType": media::OCI_MANIFEST, "digest": img.manifest.digest(),
             "size": img.manifest.bytes().len(), "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": media::OCI_MANIFEST, "digest": d2,
             "size": img2.manifest.bytes().len(), "platform": {"os": "linux", "architecture": "arm64"}},
        ],
    });
    let index = RawManifest::from_bytes(serde_json::to_vec_pretty(&index).unwrap(), None).unwrap();
    let sink = Remote::new(&c, reference(&format!("{reg}/{repo}:multi")));
    sink.put_root(&index).await.unwrap();
    let root = sink.root().await.unwrap();
    assert!(root.is_index());
    assert_eq!(root.bytes(), index.bytes());

    // A destination naming another digest is refused before anything is written.
    let wrong = Remote::new(
        &c,
        reference(&format!("{reg}/{repo}@{}", img.manifest.digest())),
    );
    let err = wrong.put_root(&img2.manifest).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    // A manifest whose blobs the repository lacks: the registry's error, named.
    let img3 = TestImage::new(&[10], 9 + std::process::id() as u64);
    let err = c.put_manifest(&ep, "v3", &img3.manifest).await.unwrap_err();
    assert_names(
        &err.to_string(),
        &[&reg, &repo, "HTTP 400", "MANIFEST_BLOB_UNKNOWN"],
    );
}

// ------------------------------------------------------------------------- basic auth -----

fn write_config(dir: &Path, json: &serde_json::Value) -> PathBuf {
    let p = dir.join("config.json");
    std::fs::write(&p, serde_json::to_vec_pretty(json).unwrap()).unwrap();
    p
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn basic_auth_with_docker_config_credentials() {
    let reg = basic_registry();
    let target = format!("{reg}/library/debian:bookworm-slim");
    let c = client_with_files(vec![docker_config_file()]);
    let remote = Remote::new(&c, reference(&target));
    let head = remote.head().await.unwrap();
    assert_eq!(
        head.digest.to_string(),
        env("PLINTH_IMG_DEBIAN_SLIM_DIGEST")
    );
    let root = remote.root().await.unwrap();
    let image = root.as_image().unwrap();
    remote.blob_bytes(&image.config).await.unwrap();

    // Push with the same credentials.
    let repo = format!("itest/{}", unique("basic-push"));
    let img = TestImage::new(&[123], 11 + std::process::id() as u64);
    img.push(&c, &endpoint(&reg, &repo), "v1").await;

    // Wrong password, and no credentials: Auth errors that say where and what.
    let dir = tempfile::tempdir().unwrap();
    let wrong = write_config(
        dir.path(),
        &serde_json::json!({"auths": {reg.clone(): {"auth": b64("plinth:wrong-password")}}}),
    );
    for (name, c) in [
        ("wrong password", client_with_files(vec![wrong])),
        ("no credentials", anonymous()),
    ] {
        let err = Remote::new(&c, reference(&target))
            .head()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth, "{name}: {err}");
        assert_names(
            &err.to_string(),
            &[&reg, "library/debian", "401", "UNAUTHORIZED"],
        );
        let err = Remote::new(&c, reference(&target))
            .root()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth, "{name}: {err}");
        assert_names(
            &chain(&err),
            &[&reg, "library/debian", "401", "UNAUTHORIZED"],
        );
        assert!(
            !chain(&err).contains("wrong-password"),
            "no secrets in errors"
        );
    }
}

// ------------------------------------------------------------------------- token auth -----

async fn issuer_stats() -> serde_json::Value {
    http()
        .get(format!("{}/stats", env("PLINTH_TEST_TOKEN_ISSUER")))
        .send()
        .await
        .expect("token issuer answers")
        .json()
        .await
        .unwrap()
}

fn scope_count(stats: &serde_json::Value, scope: &str) -> u64 {
    stats["by_scope"][scope].as_u64().unwrap_or(0)
}

/// The token requests the issuer saw that name `repository`.
fn requests_for(stats: &serde_json::Value, repository: &str) -> Vec<serde_json::Value> {
    stats["recent"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["scopes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s.as_str().unwrap().contains(&format!(":{repository}:")))
        })
        .cloned()
        .collect()
}

#[tokio::test]
async fn token_registry_anonymous_pull_of_public_image() {
    let reg = token_registry();
    let c = anonymous();
    let remote = Remote::new(&c, reference(&env("PLINTH_IMG_HELLO_TOKEN")));
    assert_eq!(
        remote.head().await.unwrap().digest.to_string(),
        env("PLINTH_IMG_HELLO_DIGEST")
    );
    let root = remote.root().await.unwrap();
    let layer = &root.as_image().unwrap().layers[0];
    let bytes = read_all(remote.blob(layer).await.unwrap()).await.unwrap();
    assert_eq!(sha256_hex(&bytes), layer.digest.to_string());
    // The private copy is not for anonymous eyes.
    let err = Remote::new(&c, reference(&env("PLINTH_IMG_PRIVATE_HELLO_TOKEN")))
        .root()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert_names(
        &chain(&err),
        &[&reg, "private/hello", "401", "UNAUTHORIZED"],
    );
}

#[tokio::test]
async fn token_registry_push_with_auth_entry_and_identity_token() {
    let reg = token_registry();
    let dir = tempfile::tempdir().unwrap();
    let auth_only = write_config(
        dir.path(),
        &serde_json::json!({"auths": {reg.clone(): {"auth": b64(&format!(
            "{}:{}", env("PLINTH_TEST_USER"), env("PLINTH_TEST_PASSWORD")))}}}),
    );
    let src_client = anonymous();
    let src = Remote::new(&src_client, reference(&env("PLINTH_IMG_HELLO")));
    for (how, files, auth_kind, method) in [
        ("auth", vec![auth_only], "basic", "GET"),
        (
            "identitytoken",
            vec![docker_config_file()],
            "refresh_token",
            "POST",
        ),
    ] {
        let repo = format!("itest/{}", unique(&format!("token-{how}")));
        let c = client_with_files(files);
        let dst = Remote::new(&c, reference(&format!("{reg}/{repo}:1")));
        let report = copy(&src, &dst, &CopyOptions::default())
            .await
            .unwrap_or_else(|e| panic!("push with {how}: {}", chain(&e)));
        assert_eq!(report.digest, env("PLINTH_IMG_HELLO_DIGEST"));
        assert_eq!(dst.head().await.unwrap().digest.to_string(), report.digest);
        // The issuer saw this client's credentials in the expected form.
        let seen = requests_for(&issuer_stats().await, &repo);
        assert!(!seen.is_empty(), "{how}: no token request for {repo}");
        for r in &seen {
            assert_eq!(r["auth"], auth_kind, "{how}: {r}");
            assert_eq!(r["method"], method, "{how}: {r}");
            assert_eq!(r["status"], 200, "{how}: {r}");
        }
        assert!(
            seen.iter()
                .any(|r| r["granted"].to_string().contains("push")),
            "{how}: push was granted: {seen:?}"
        );
    }

    // A refresh token the issuer does not know: an Auth error from the token server.
    let bad = write_config(
        dir.path(),
        &serde_json::json!({"auths": {reg.clone(): {"identitytoken": "not-the-token"}}}),
    );
    let c = client_with_files(vec![bad]);
    let err = Remote::new(&c, reference(&env("PLINTH_IMG_HELLO_TOKEN")))
        .head()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert_names(&err.to_string(), &[&reg, "401", "token server"]);
    assert!(!err.to_string().contains("not-the-token"), "no secrets");
}

#[tokio::test]
async fn token_registry_caches_tokens_per_scope() {
    let reg = token_registry();
    let repo = format!("itest/{}", unique("token-cache"));
    let pusher = client_with_files(vec![docker_config_file()]);
    let img = TestImage::new(&[2000, 3000], 21 + std::process::id() as u64);
    img.push(&pusher, &endpoint(&reg, &repo), "v1").await;

    let pull_scope = format!("repository:{repo}:pull");
    let before = scope_count(&issuer_stats().await, &pull_scope);
    let c = client_with_files(vec![docker_config_file()]);
    let remote = Remote::new(&c, reference(&format!("{reg}/{repo}:v1")));
    let ep = remote.origin().clone();
    for _ in 0..5 {
        remote.head().await.unwrap();
        let root = remote.root().await.unwrap();
        assert_eq!(root.digest(), img.manifest.digest());
        for (d, b) in &img.blobs {
            assert_eq!(
                &read_all(remote.blob(d).await.unwrap()).await.unwrap()[..],
                &b[..]
            );
        }
        c.tags(&ep).await.unwrap().unwrap();
    }
    let after = scope_count(&issuer_stats().await, &pull_scope);
    assert_eq!(
        after - before,
        1,
        "one token request for 35 operations on {pull_scope}"
    );

    // A concurrent push of many blobs asks once for its scope, not once per blob.
    let repo = format!("itest/{}", unique("token-concurrent"));
    let img = TestImage::new(
        &[100, 200, 300, 400, 500, 600],
        22 + std::process::id() as u64,
    );
    let open = endpoint(&open_registry(), &format!("itest/{}", unique("token-src")));
    img.push(&anonymous(), &open, "v1").await;
    let src_client = anonymous();
    let src = Remote::new(
        &src_client,
        reference(&format!("{}/{}:v1", open_registry(), open.repository)),
    );
    let c = client_with_files(vec![docker_config_file()]);
    let dst = Remote::new(&c, reference(&format!("{reg}/{repo}:v1")));
    let report = copy(&src, &dst, &CopyOptions::default()).await.unwrap();
    assert_eq!(report.copied, 7);
    let stats = issuer_stats().await;
    assert_eq!(
        scope_count(&stats, &format!("repository:{repo}:pull,push")),
        1,
        "{:?}",
        requests_for(&stats, &repo)
    );

    // A mount between two repositories of the token registry: one token for both scopes.
    let mounted = format!("itest/{}", unique("token-mount"));
    let dst2 = Remote::new(&c, reference(&format!("{reg}/{mounted}:v1")));
    let report = copy(&dst, &dst2, &CopyOptions::default()).await.unwrap();
    assert_eq!((report.mounted, report.copied), (7, 0), "{report:?}");
    let seen = requests_for(&issuer_stats().await, &mounted);
    assert!(
        seen.iter().any(|r| {
            let scopes = r["scopes"].to_string();
            scopes.contains(&format!("repository:{repo}:pull\""))
                && scopes.contains(&format!("repository:{mounted}:pull,push"))
        }),
        "{seen:?}"
    );
}

#[tokio::test]
async fn token_registry_refuses_anonymous_push_with_a_clear_error() {
    let reg = token_registry();
    let repo = format!("itest/{}", unique("anon-push"));
    let c = anonymous();
    let src = Remote::new(&c, reference(&env("PLINTH_IMG_HELLO")));
    let dst = Remote::new(&c, reference(&format!("{reg}/{repo}:1")));
    let err = copy(&src, &dst, &CopyOptions::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    let msg = chain(&err);
    assert_names(&msg, &[&reg, &repo]);
    assert!(
        msg.contains("401") || msg.contains("403"),
        "status in {msg:?}"
    );
    assert!(
        msg.contains("UNAUTHORIZED") || msg.contains("DENIED"),
        "registry error code in {msg:?}"
    );
    // Direct upload: the same.
    let img = TestImage::new(&[10], 31);
    let (d, b) = &img.blobs[1];
    let err = c
        .upload_blob(&endpoint(&reg, &repo), d, stream(b.to_vec()), &|_| {})
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    let msg = err.to_string();
    assert_names(&msg, &[&reg, &repo]);
    assert!(
        msg.contains("UNAUTHORIZED") || msg.contains("DENIED"),
        "{msg}"
    );
}

// ------------------------------------------------------------------------- credential sources

/// Runs one `#[ignore]`d test of this binary in a child process with `envs` (the process
/// environment is global; changing it here would race the other tests' threads).
fn run_child(test: &str, envs: &[(&str, Option<OsString>)]) -> String {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        test,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for (k, v) in envs {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child test {test} failed:\n{stdout}\n{stderr}"
    );
    stdout
}

async fn from_env_head_basic() -> Result<Digest, RegistryError> {
    let c = client(ClientOptions {
        credentials: plinth_registry::CredentialStore::from_env(),
        ..ClientOptions::default()
    });
    Remote::new(
        &c,
        reference(&format!(
            "{}/library/debian:bookworm-slim",
            basic_registry()
        )),
    )
    .head()
    .await
    .map(|h| h.digest)
}

#[tokio::test]
#[ignore = "run in a child process by the credential-source tests"]
async fn child_from_env_resolves_basic_registry() {
    let d = from_env_head_basic().await.unwrap();
    assert_eq!(d.to_string(), env("PLINTH_IMG_DEBIAN_SLIM_DIGEST"));
}

#[tokio::test]
#[ignore = "run in a child process by the credential-source tests"]
async fn child_from_env_is_refused_by_basic_registry() {
    let err = from_env_head_basic().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
}

#[test]
fn registry_auth_file_and_docker_config() {
    let reg = basic_registry();
    let good = tempfile::tempdir().unwrap();
    let bad = tempfile::tempdir().unwrap();
    let good_file = write_config(
        good.path(),
        &serde_json::json!({"auths": {reg.clone(): {"auth": b64("plinth:plinth-secret")}}}),
    );
    write_config(
        bad.path(),
        &serde_json::json!({"auths": {reg.clone(): {"auth": b64("plinth:wrong")}}}),
    );
    let os = |p: &Path| Some(p.as_os_str().to_owned());
    // REGISTRY_AUTH_FILE comes before DOCKER_CONFIG.
    run_child(
        "child_from_env_resolves_basic_registry",
        &[
            ("REGISTRY_AUTH_FILE", os(&good_file)),
            ("DOCKER_CONFIG", os(bad.path())),
        ],
    );
    // Without it, DOCKER_CONFIG's (wrong) credentials are used…
    run_child(
        "child_from_env_is_refused_by_basic_registry",
        &[
            ("REGISTRY_AUTH_FILE", None),
            ("DOCKER_CONFIG", os(bad.path())),
        ],
    );
    // …and a REGISTRY_AUTH_FILE that does not exist falls through to DOCKER_CONFIG.
    run_child(
        "child_from_env_resolves_basic_registry",
        &[
            ("REGISTRY_AUTH_FILE", os(&good.path().join("absent.json"))),
            ("DOCKER_CONFIG", os(good.path())),
        ],
    );
    // The test environment's own DOCKER_CONFIG works as is.
    run_child(
        "child_from_env_resolves_basic_registry",
        &[
            ("REGISTRY_AUTH_FILE", None),
            (
                "DOCKER_CONFIG",
                Some(env("PLINTH_TEST_DOCKER_CONFIG").into()),
            ),
        ],
    );
}

#[test]
fn credential_helper_is_used_for_the_basic_registry() {
    use std::os::unix::fs::PermissionsExt;
    let reg = basic_registry();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let log = dir.path().join("helper.log");
    let helper = bin.join("docker-credential-plinthitest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\necho \"$1 $server\" >> '{log}'\n\
             if [ \"$1\" = get ] && [ \"$server\" = '{reg}' ]; then\n\
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"plinth\",\"Secret\":\"plinth-secret\"}}' \"$server\"\n\
             else echo 'credentials not found in native keychain'; exit 1; fi\n",
            log = log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let conf = dir.path().join("docker");
    std::fs::create_dir(&conf).unwrap();
    // The helper wins over a (wrong) auths entry for the same registry.
    write_config(
        &conf,
        &serde_json::json!({
            "credHelpers": {reg.clone(): "plinthitest"},
            "auths": {reg.clone(): {"auth": b64("plinth:wrong")}},
        }),
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let envs = [
        ("REGISTRY_AUTH_FILE", None),
        ("DOCKER_CONFIG", Some(conf.clone().into_os_string())),
        ("PATH", Some(path.clone().into())),
    ];
    run_child("child_from_env_resolves_basic_registry", &envs);
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(
        calls.lines().all(|l| l == format!("get {reg}")) && !calls.is_empty(),
        "helper calls: {calls:?}"
    );
    // credsStore: the same helper for every registry.
    std::fs::remove_file(&log).unwrap();
    write_config(&conf, &serde_json::json!({"credsStore": "plinthitest"}));
    run_child("child_from_env_resolves_basic_registry", &envs);
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains(&format!("get {reg}"))
    );
    // A helper that is not installed: an Auth error naming it.
    write_config(
        &conf,
        &serde_json::json!({"credHelpers": {reg.clone(): "plinth-absent"}}),
    );
    run_child("child_from_env_helper_missing", &envs);
}

#[tokio::test]
#[ignore = "run in a child process by the credential-source tests"]
async fn child_from_env_helper_missing() {
    let err = from_env_head_basic().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(
        err.to_string().contains("docker-credential-plinth-absent"),
        "{err}"
    );
}

// ------------------------------------------------------------------------- mirrors --------

fn mirror_client() -> plinth_registry::Client {
    let config = RegistriesConfig::from_toml(&format!(
        "[[registry]]\nprefix = \"docker.io\"\n[[registry.mirror]]\nlocation = \"{}\"\n",
        open_registry()
    ))
    .unwrap();
    client(ClientOptions {
        config,
        // docker.io itself is unreachable here; fail fast.
        retry: RetryPolicy {
            attempts: 1,
            ..fast_retry()
        },
        ..ClientOptions::default()
    })
}

#[tokio::test]
async fn docker_io_resolves_through_the_mirror() {
    let c = mirror_client();
    let remote = Remote::new(&c, reference("debian:bookworm-slim"));
    assert_eq!(
        remote.reference().to_string(),
        "docker.io/library/debian:bookworm-slim"
    );
    assert_eq!(
        Source::name(&remote),
        "docker.io/library/debian:bookworm-slim"
    );
    let head = remote.head().await.unwrap();
    assert_eq!(
        head.digest.to_string(),
        env("PLINTH_IMG_DEBIAN_SLIM_DIGEST")
    );
    let root = remote.root().await.unwrap();
    assert_eq!(root.digest(), &head.digest);
    let config = remote
        .blob_bytes(&root.as_image().unwrap().config)
        .await
        .unwrap();
    assert!(!config.is_empty());
    // Pushes go to the origin, never to a mirror.
    assert_eq!(remote.origin().host, "registry-1.docker.io");
    // The multi-platform index and platform selection, too.
    let index = Remote::new(&c, reference("docker.io/library/debian:bookworm"));
    let root = index.root().await.unwrap();
    assert_eq!(
        root.digest().to_string(),
        env("PLINTH_IMG_DEBIAN_INDEX_DIGEST")
    );
    let arm = root
        .as_index()
        .unwrap()
        .find_platform(&Platform::parse("linux/arm64").unwrap())
        .unwrap();
    assert_eq!(
        index.manifest(arm).await.unwrap().digest().to_string(),
        env("PLINTH_IMG_DEBIAN_ARM64V8_DIGEST")
    );
    // Tags come from the mirror too.
    let tags = Remote::new(&c, reference("debian")).tags().await.unwrap();
    assert!(tags.contains(&"bookworm-slim".to_string()), "{tags:?}");
}

#[tokio::test]
async fn an_image_missing_from_the_mirror_says_so() {
    let c = mirror_client();
    let name = unique("plinth-not-mirrored");
    let remote = Remote::new(&c, reference(&format!("{name}:1")));
    for err in [
        remote.head().await.unwrap_err(),
        RegistryError::Config(chain(&remote.root().await.unwrap_err())),
    ] {
        let msg = err.to_string();
        assert_names(
            &msg,
            &[
                "docker.io",
                &format!("library/{name}"),
                "mirror",
                &open_registry(),
            ],
        );
        assert!(
            msg.contains("not found") || msg.contains("404") || msg.contains("MANIFEST_UNKNOWN"),
            "{msg}"
        );
    }
}

#[tokio::test]
async fn first_contact_with_a_loopback_registry_is_quick() {
    // Loopback registries speak plain HTTP; trying HTTPS first must not cost retries.
    let c = plinth_registry::Client::new(ClientOptions::default()).unwrap();
    let start = std::time::Instant::now();
    let ep = endpoint(&open_registry(), "library/debian");
    c.head_manifest(&ep, "bookworm").await.unwrap().unwrap();
    let took = start.elapsed();
    // Retrying HTTPS with backoff cost ≥ 3.75 s here; plain HTTP answers at once.
    assert!(took < std::time::Duration::from_secs(2), "took {took:?}");
}
