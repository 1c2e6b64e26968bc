//! Helpers shared by the integration tests: the test environment's variables, unique
//! repository names, small synthetic images pushed to the real registries.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use plinth_oci::manifest::{Descriptor, RawManifest};
use plinth_oci::source::BlobStream;
use plinth_oci::{Digest, media};
use plinth_registry::config::Endpoint;
use plinth_registry::{Client, ClientOptions, CredentialStore, RegistriesConfig, RetryPolicy};

/// A variable of the test environment; a missing one fails the test (never skips it).
pub fn env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: these tests run against the real test registries; \
             start them and load their variables with `eval \"$(scripts/test-env.sh)\"` \
             (from the workspace root), then run cargo test again"
        ),
    }
}

/// The open registry (`127.0.0.1:5000`).
pub fn open_registry() -> String {
    env("PLINTH_TEST_REGISTRY")
}

/// The htpasswd registry (`127.0.0.1:5001`).
pub fn basic_registry() -> String {
    env("PLINTH_TEST_REGISTRY_BASIC")
}

/// The token-auth registry (`127.0.0.1:5002`).
pub fn token_registry() -> String {
    env("PLINTH_TEST_REGISTRY_TOKEN")
}

/// The docker config.json written by the test environment.
pub fn docker_config_file() -> std::path::PathBuf {
    std::path::Path::new(&env("PLINTH_TEST_DOCKER_CONFIG")).join("config.json")
}

/// A name no other test (or earlier run) uses: `prefix-<pid>-<time>-<n>`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 100_000_000;
    format!(
        "{prefix}-{}-{t}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Retries that keep failing tests fast.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        base_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(5),
    }
}

/// A client without credentials (or with `options`' credentials).
pub fn client(options: ClientOptions) -> Client {
    Client::new(ClientOptions {
        retry: fast_retry(),
        ..options
    })
    .expect("client")
}

/// A client reading only the given docker config files.
pub fn client_with_files(files: Vec<std::path::PathBuf>) -> Client {
    client(ClientOptions {
        credentials: CredentialStore::from_files(files),
        ..ClientOptions::default()
    })
}

/// A client with no credentials at all.
pub fn anonymous() -> Client {
    client_with_files(vec![])
}

/// The origin endpoint of `host/repository`.
pub fn endpoint(host: &str, repository: &str) -> Endpoint {
    RegistriesConfig::default().origin(host, repository)
}

/// Deterministic pseudo-random bytes.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut v = vec![0u8; len];
    rng.fill(&mut v);
    v
}

/// A stream over bytes in memory.
pub fn stream(bytes: Vec<u8>) -> BlobStream {
    Box::pin(std::io::Cursor::new(bytes))
}

/// A descriptor for bytes.
pub fn descriptor(media_type: &str, bytes: &[u8]) -> Descriptor {
    Descriptor::new(media_type, Digest::sha256(bytes), bytes.len() as u64)
}

/// A small synthetic image: a config and layers of random bytes.
pub struct TestImage {
    /// The manifest.
    pub manifest: RawManifest,
    /// Config then layers, with their bytes.
    pub blobs: Vec<(Descriptor, Bytes)>,
}

impl TestImage {
    /// An OCI image whose layers have the given sizes; `seed` makes it unique.
    pub fn new(layer_sizes: &[usize], seed: u64) -> TestImage {
        let layers: Vec<(Descriptor, Bytes)> = layer_sizes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let b = random_bytes(*n, seed.wrapping_mul(1000).wrapping_add(i as u64));
                (descriptor(media::OCI_LAYER, &b), Bytes::from(b))
            })
            .collect();
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "created": "2024-01-01T00:00:00Z",
            "config": {"Env": [format!("SEED={seed}")]},
            "rootfs": {
                "type": "layers",
                "diff_ids": layers.iter().map(|(d, _)| d.digest.to_string()).collect::<Vec<_>>(),
            },
        });
        let config = serde_json::to_vec(&config).unwrap();
        let config_desc = descriptor(media::OCI_CONFIG, &config);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "config": config_desc,
            "layers": layers.iter().map(|(d, _)| d).collect::<Vec<_>>(),
        });
        let manifest =
            RawManifest::from_bytes(serde_json::to_vec(&manifest).unwrap(), None).unwrap();
        let mut blobs = vec![(config_desc, Bytes::from(config))];
        blobs.extend(layers);
        TestImage { manifest, blobs }
    }

    /// The layers' descriptors and bytes.
    pub fn layers(&self) -> &[(Descriptor, Bytes)] {
        &self.blobs[1..]
    }

    /// Uploads the blobs and the manifest under `tag`.
    pub async fn push(&self, client: &Client, ep: &Endpoint, tag: &str) {
        for (desc, bytes) in &self.blobs {
            client
                .upload_blob(ep, desc, stream(bytes.to_vec()), &|_| {})
                .await
                .unwrap_or_else(|e| panic!("upload of {} to {ep:?}: {e}", desc.digest));
        }
        client
            .put_manifest(ep, tag, &self.manifest)
            .await
            .unwrap_or_else(|e| panic!("push of manifest to {ep:?}: {e}"));
    }
}

/// Reads a whole stream.
pub async fn read_all(mut s: BlobStream) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut v = Vec::new();
    s.read_to_end(&mut v).await?;
    Ok(v)
}

/// The error chain as one string, as the CLI prints it.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// A plain HTTP client for looking at the registries from outside plinth's client.
pub fn http() -> reqwest::Client {
    // plinth's client installs the TLS crypto provider reqwest needs.
    let _ = anonymous();
    reqwest::Client::new()
}
