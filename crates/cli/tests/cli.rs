//! The `plinth` binary against the real test registries (`eval "$(scripts/test-env.sh)"`) and
//! the interop peers skopeo and oci-image-tool.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use plinth_oci::manifest::{Descriptor, RawManifest};
use plinth_oci::{Digest, media};
use plinth_registry::{Client, ClientOptions, CredentialStore, RegistriesConfig};
use serde_json::Value;
use sha2::Digest as _;

mod common;
use common::{env, json, unique};

// ------------------------------------------------------------------------- helpers --------

fn open_registry() -> String {
    env("PLINTH_TEST_REGISTRY")
}

fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

/// A test's private world: cache dir, config dir, empty docker config.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let w = World {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(w.path("xdg-config")).unwrap();
        std::fs::create_dir_all(w.path("no-docker")).unwrap();
        w
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn cache(&self) -> PathBuf {
        self.path("cache")
    }

    /// `plinth` with the test environment's docker credentials, a private cache and no
    /// user configuration.
    fn plinth(&self) -> Command {
        let mut c = Command::cargo_bin("plinth").unwrap();
        c.env("PLINTH_CACHE_DIR", self.cache())
            .env("XDG_CONFIG_HOME", self.path("xdg-config"))
            .env("DOCKER_CONFIG", env("PLINTH_TEST_DOCKER_CONFIG"))
            .env_remove("REGISTRY_AUTH_FILE")
            .env_remove("PLINTH_REGISTRIES_CONF")
            .env_remove("PLINTH_LOG");
        c
    }

    /// `plinth` without any credentials.
    fn plinth_anonymous(&self) -> Command {
        let mut c = self.plinth();
        c.env("DOCKER_CONFIG", self.path("no-docker"));
        c
    }
}

/// Runs and returns the output, whatever the exit status.
fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

/// Runs, expects success, returns stdout.
#[track_caller]
fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({:?}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs, expects exit `code`, returns stderr.
#[track_caller]
fn fails(cmd: &mut Command, code: i32) -> String {
    let out = run(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{cmd:?}: expected exit {code}; stderr:\n{stderr}\nstdout:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

#[track_caller]
fn assert_names(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "{msg:?} does not mention {p:?}");
    }
}

/// An external tool, which must succeed.
#[track_caller]
fn tool(program: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (the test environment installs it)"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The manifest bytes as a plain `curl` GET returns them.
fn curl_manifest(registry: &str, repo: &str, reference: &str) -> Vec<u8> {
    let out = std::process::Command::new("curl")
        .args([
            "-fsS",
            "-H",
            &format!("Accept: {}", media::MANIFEST_ACCEPT),
            &format!("http://{registry}/v2/{repo}/manifests/{reference}"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn registry_client() -> Client {
    Client::new(ClientOptions {
        credentials: CredentialStore::from_files(vec![]),
        config: RegistriesConfig::default(),
        ..ClientOptions::default()
    })
    .unwrap()
}

/// `count` tags in a fresh repository of the open registry, each a distinct image (one
/// shared layer, a config of its own). Returns the references and their digests.
async fn push_many_tags(count: usize) -> Vec<(String, String)> {
    let reg = open_registry();
    let repo = format!("itest/{}", unique("cli-digest"));
    let c = registry_client();
    let ep = RegistriesConfig::default().origin(&reg, &repo);
    let layer = b"one shared layer".to_vec();
    let layer_desc = Descriptor::new(media::OCI_LAYER, Digest::sha256(&layer), layer.len() as u64);
    c.upload_blob(
        &ep,
        &layer_desc,
        Box::pin(std::io::Cursor::new(layer)),
        &|_| {},
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    for i in 0..count {
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Labels": {"n": i.to_string()}},
            "rootfs": {"type": "layers", "diff_ids": [layer_desc.digest]},
        }))
        .unwrap();
        let config_desc = Descriptor::new(
            media::OCI_CONFIG,
            Digest::sha256(&config),
            config.len() as u64,
        );
        c.upload_blob(
            &ep,
            &config_desc,
            Box::pin(std::io::Cursor::new(config)),
            &|_| {},
        )
        .await
        .unwrap();
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": media::OCI_MANIFEST,
            "config": config_desc, "layers": [layer_desc],
        }))
        .unwrap();
        let raw = RawManifest::from_bytes(manifest, None).unwrap();
        let tag = format!("t{i:02}");
        c.put_manifest(&ep, &tag, &raw).await.unwrap();
        out.push((format!("{reg}/{repo}:{tag}"), raw.digest().to_string()));
    }
    out
}

fn index_json(dir: &Path) -> Value {
    json(&std::fs::read_to_string(dir.join("index.json")).unwrap())
}

// ------------------------------------------------------------------------- reference ------

#[test]
fn reference_normalizes_like_docker() {
    let w = World::new();
    for (input, want) in [
        ("python:3.12-slim", "docker.io/library/python:3.12-slim"),
        ("ubuntu", "docker.io/library/ubuntu"),
        (
            "index.docker.io/library/debian:12",
            "docker.io/library/debian:12",
        ),
        ("quay.io/org/app:v1", "quay.io/org/app:v1"),
        ("localhost:5000/x", "localhost:5000/x"),
    ] {
        assert_eq!(
            ok(w.plinth().args(["reference", input])),
            format!("{want}\n")
        );
    }
    let parts = json(&ok(w.plinth().args([
        "reference",
        "--json",
        "python:3.12-slim@sha256:4bd1a53e58b0459a33dc4ebd70f76fc2680f82b0f51996af6b665da40e536711",
    ])));
    assert_eq!(parts["domain"], "docker.io");
    assert_eq!(parts["path"], "library/python");
    assert_eq!(parts["tag"], "3.12-slim");
    assert_eq!(
        parts["digest"],
        "sha256:4bd1a53e58b0459a33dc4ebd70f76fc2680f82b0f51996af6b665da40e536711"
    );
    assert_eq!(parts["familiar_name"], "python");
    assert!(
        parts["familiar"]
            .as_str()
            .unwrap()
            .starts_with("python:3.12-slim@sha256:")
    );
    let parts = json(&ok(w.plinth().args(["reference", "--json", "ubuntu"])));
    assert!(parts.get("tag").is_none(), "no :latest added: {parts}");
    for bad in ["Not A Ref", "library/UPPER", "python:", "a@sha256:abc"] {
        let err = fails(w.plinth().args(["reference", bad]), 7);
        assert!(err.contains(bad), "{err}");
    }
}

// ------------------------------------------------------------------------- digest ---------

#[test]
fn digest_of_index_and_of_platforms() {
    let w = World::new();
    let debian = env("PLINTH_IMG_DEBIAN");
    assert_eq!(
        ok(w.plinth().args(["digest", &debian])).trim(),
        env("PLINTH_IMG_DEBIAN_INDEX_DIGEST")
    );
    for (platform, var) in [
        ("linux/arm64", "PLINTH_IMG_DEBIAN_ARM64V8_DIGEST"),
        ("linux/arm", "PLINTH_IMG_DEBIAN_ARMV7_DIGEST"),
        ("linux/arm/v7", "PLINTH_IMG_DEBIAN_ARMV7_DIGEST"),
        ("linux/amd64", "PLINTH_IMG_DEBIAN_AMD64_DIGEST"),
    ] {
        assert_eq!(
            ok(w.plinth().args(["digest", "--platform", platform, &debian])).trim(),
            env(var),
            "{platform}"
        );
    }
    let err = fails(
        w.plinth()
            .args(["digest", "--platform", "linux/s390x", &debian]),
        3,
    );
    assert_names(&err, &["linux/s390x", "linux/amd64"]);
    // A single-platform image is its own platform manifest.
    let slim = env("PLINTH_IMG_DEBIAN_SLIM");
    assert_eq!(
        ok(w.plinth().args(["digest", &slim])).trim(),
        env("PLINTH_IMG_DEBIAN_SLIM_DIGEST")
    );
    // --platform on a single-platform image: its digest when it is that platform, else a
    // not-found naming the platform it is.
    assert_eq!(
        ok(w.plinth()
            .args(["digest", "--platform", "linux/amd64", &slim]))
        .trim(),
        env("PLINTH_IMG_DEBIAN_SLIM_DIGEST")
    );
    let err = fails(
        w.plinth()
            .args(["digest", "--platform", "linux/arm64", &slim]),
        3,
    );
    assert_names(&err, &["linux/arm64", "linux/amd64"]);
    let arm_by_digest = env("PLINTH_IMG_DEBIAN_ARM64");
    assert_eq!(
        ok(w.plinth()
            .args(["digest", "--platform", "linux/arm64", &arm_by_digest]))
        .trim(),
        env("PLINTH_IMG_DEBIAN_ARM64V8_DIGEST")
    );
    // JSON.
    let v = json(&ok(w.plinth().args([
        "digest",
        "--json",
        "--platform",
        "linux/arm64",
        &debian,
    ])));
    assert_eq!(v[0]["reference"], debian.as_str());
    assert_eq!(v[0]["digest"], env("PLINTH_IMG_DEBIAN_ARM64V8_DIGEST"));
    assert_eq!(v[0]["media_type"], media::OCI_MANIFEST);
    // Local sources too.
    let layout = env("PLINTH_LAYOUT_DIR");
    assert_eq!(
        ok(w.plinth().args([
            "digest",
            &format!("oci:{layout}:{}", env("PLINTH_IMG_HELLO_LAYOUT_REF"))
        ]))
        .trim(),
        env("PLINTH_IMG_HELLO_DIGEST")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_resolves_fifty_references_in_one_call() {
    let pushed = push_many_tags(50).await;
    let w = World::new();
    let refs: Vec<&str> = pushed.iter().map(|(r, _)| r.as_str()).collect();
    let out = ok(w.plinth().arg("digest").args(&refs));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 50, "{out}");
    for ((r, d), line) in pushed.iter().zip(&lines) {
        assert_eq!(*line, format!("{r}\t{d}"));
    }
    let distinct: std::collections::HashSet<_> = pushed.iter().map(|(_, d)| d).collect();
    assert_eq!(distinct.len(), 50);
    let v = json(&ok(w.plinth().args(["digest", "--json"]).args(&refs)));
    assert_eq!(v.as_array().unwrap().len(), 50);
    // One missing among them: the others print, the exit code says not found.
    let repo = pushed[0].0.rsplit_once(':').unwrap().0.to_string();
    let missing = format!("{repo}:no-such-tag");
    let out = run(w.plinth().arg("digest").args(&refs[..3]).arg(&missing));
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_names(
        &err,
        &[&open_registry(), "no-such-tag", "404", "MANIFEST_UNKNOWN"],
    );
    // The tags list follows them all.
    let tags = ok(w.plinth().args(["tags", &repo]));
    assert_eq!(tags.lines().count(), 50);
}

// ------------------------------------------------------------------------- manifest, config, tags

#[test]
fn manifest_bytes_are_exactly_the_registrys() {
    let w = World::new();
    let reg = open_registry();
    for (image, repo, reference) in [
        (env("PLINTH_IMG_DEBIAN"), "library/debian", "bookworm"),
        (
            env("PLINTH_IMG_DEBIAN_SLIM"),
            "library/debian",
            "bookworm-slim",
        ),
        (env("PLINTH_IMG_PYTHON"), "library/python", "3.11-slim"),
    ] {
        let out = run(w.plinth().args(["manifest", &image]));
        assert!(out.status.success());
        assert!(
            out.stdout == curl_manifest(&reg, repo, reference),
            "{image}: bytes differ from curl's"
        );
        let pretty = ok(w.plinth().args(["manifest", "--pretty", &image]));
        assert_eq!(json(&pretty), json(&String::from_utf8(out.stdout).unwrap()));
        assert!(pretty.lines().count() > 3, "pretty is indented");
    }
    let arm = run(w.plinth().args([
        "manifest",
        "--platform",
        "linux/arm64",
        &env("PLINTH_IMG_DEBIAN"),
    ]));
    assert_eq!(sha256(&arm.stdout), env("PLINTH_IMG_DEBIAN_ARM64V8_DIGEST"));
    // By digest.
    let by_digest = run(w
        .plinth()
        .args(["manifest", &env("PLINTH_IMG_DEBIAN_ARMV7")]));
    assert_eq!(
        sha256(&by_digest.stdout),
        env("PLINTH_IMG_DEBIAN_ARMV7_DIGEST")
    );
}

#[test]
fn config_bytes_and_platform_choice() {
    let w = World::new();
    let slim = env("PLINTH_IMG_DEBIAN_SLIM");
    let manifest = json(&ok(w.plinth().args(["manifest", &slim])));
    let out = run(w.plinth().args(["config", &slim]));
    assert!(out.status.success());
    assert_eq!(
        sha256(&out.stdout),
        manifest["config"]["digest"].as_str().unwrap()
    );
    let config = json(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(config["os"], "linux");
    assert_eq!(config["architecture"], "amd64");
    let pretty = json(&ok(w.plinth().args(["config", "--pretty", &slim])));
    assert_eq!(pretty, config);
    // From the index: the platform asked for.
    let arm = json(&ok(w.plinth().args([
        "config",
        "--platform",
        "linux/arm64",
        &env("PLINTH_IMG_DEBIAN"),
    ])));
    assert_eq!(arm["architecture"], "arm64");
    let arm = json(&ok(w.plinth().args([
        "config",
        "--platform",
        "linux/arm",
        &env("PLINTH_IMG_DEBIAN"),
    ])));
    assert_eq!(
        (arm["architecture"].as_str(), arm["variant"].as_str()),
        (Some("arm"), Some("v7"))
    );
    // A single-platform image of another platform is not what was asked for: config and copy
    // refuse it as digest does, naming both platforms.
    let same = json(&ok(w.plinth().args([
        "config",
        "--platform",
        "linux/amd64",
        &slim,
    ])));
    assert_eq!(same, config);
    let err = fails(
        w.plinth()
            .args(["config", "--platform", "linux/arm64", &slim]),
        3,
    );
    assert_names(&err, &["linux/arm64", "linux/amd64"]);
    let layout = w.path("wrong-platform");
    let err = fails(
        w.plinth().args([
            "copy",
            "--platform",
            "linux/arm64",
            &slim,
            &format!("oci:{}:x", layout.display()),
        ]),
        3,
    );
    assert_names(&err, &["linux/arm64", "linux/amd64"]);
    assert!(!layout.join("index.json").exists());
    // The config went through the content store.
    let du = json(&ok(w.plinth().args(["cache", "du", "--json"])));
    assert!(du["blobs"].as_u64().unwrap() >= 1, "{du}");
}

#[test]
fn tags_lists_the_repository() {
    let w = World::new();
    let repo = format!("{}/library/debian", open_registry());
    let tags = ok(w.plinth().args(["tags", &repo]));
    let tags: Vec<&str> = tags.lines().collect();
    assert!(
        tags.contains(&"bookworm") && tags.contains(&"bookworm-slim"),
        "{tags:?}"
    );
    let v = json(&ok(w.plinth().args(["tags", "--json", &repo])));
    assert_eq!(v["repository"], repo.as_str());
    assert_eq!(v["tags"].as_array().unwrap().len(), tags.len());
    fails(w.plinth().args(["tags", &format!("{repo}:bookworm")]), 7);
    let err = fails(
        w.plinth().args([
            "tags",
            &format!("{}/itest/{}", open_registry(), unique("none")),
        ]),
        3,
    );
    assert_names(&err, &[&open_registry(), "NAME_UNKNOWN"]);
}

// ------------------------------------------------------------------------- copy -----------

#[test]
fn copy_to_an_oci_layout_that_skopeo_and_oci_image_tool_accept() {
    let w = World::new();
    let dir = w.path("layout");
    let dest = format!("oci:{}:slim", dir.display());
    let out = ok(w
        .plinth()
        .args(["copy", "--quiet", &env("PLINTH_IMG_DEBIAN_SLIM"), &dest]));
    assert_eq!(out.trim(), env("PLINTH_IMG_DEBIAN_SLIM_DIGEST"));
    // A second image in the same layout.
    let hello = format!("oci:{}:hello", dir.display());
    ok(w.plinth()
        .args(["copy", "--quiet", &env("PLINTH_IMG_HELLO"), &hello]));
    let index = index_json(&dir);
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2);

    let dir_s = dir.to_str().unwrap();
    // oci-image-tool 1.0.0-rc: --type image, the tag chosen with --ref name=TAG.
    tool(
        "oci-image-tool",
        &["validate", "--type", "image", "--ref", "name=slim", dir_s],
    );
    tool(
        "oci-image-tool",
        &["validate", "--type", "image", "--ref", "name=hello", dir_s],
    );
    let inspect = json(&tool("skopeo", &["inspect", &format!("oci:{dir_s}:slim")]));
    assert_eq!(inspect["Digest"], env("PLINTH_IMG_DEBIAN_SLIM_DIGEST"));
    assert_eq!(inspect["Architecture"], "amd64");
    // skopeo copies it back to the registry, bytes unchanged.
    let back = format!("{}/itest/{}:1", open_registry(), unique("skopeo-back"));
    tool(
        "skopeo",
        &[
            "--insecure-policy",
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            &format!("oci:{dir_s}:slim"),
            &format!("docker://{back}"),
        ],
    );
    assert_eq!(
        ok(w.plinth().args(["digest", &back])).trim(),
        env("PLINTH_IMG_DEBIAN_SLIM_DIGEST")
    );
    // plinth reads what it wrote.
    assert_eq!(
        ok(w.plinth().args(["digest", &dest])).trim(),
        env("PLINTH_IMG_DEBIAN_SLIM_DIGEST")
    );
    // Copying again transfers nothing.
    let again = json(&ok(w.plinth().args([
        "copy",
        "--json",
        &env("PLINTH_IMG_DEBIAN_SLIM"),
        &dest,
    ])));
    assert_eq!(
        (again["copied"].as_u64(), again["existing"].as_u64()),
        (Some(0), Some(2))
    );
}

#[test]
fn copy_all_platforms_keeps_the_index() {
    let w = World::new();
    let dir = w.path("all");
    let dest = format!("oci:{}:all", dir.display());
    let out = ok(w.plinth().args([
        "copy",
        "--quiet",
        "--all-platforms",
        &env("PLINTH_IMG_DEBIAN"),
        &dest,
    ]));
    assert_eq!(out.trim(), env("PLINTH_IMG_DEBIAN_INDEX_DIGEST"));
    let index = index_json(&dir);
    assert_eq!(
        index["manifests"][0]["digest"],
        env("PLINTH_IMG_DEBIAN_INDEX_DIGEST")
    );
    assert_eq!(index["manifests"][0]["mediaType"], media::OCI_INDEX);
    for var in [
        "PLINTH_IMG_DEBIAN_INDEX_DIGEST",
        "PLINTH_IMG_DEBIAN_AMD64_DIGEST",
        "PLINTH_IMG_DEBIAN_ARM64V8_DIGEST",
        "PLINTH_IMG_DEBIAN_ARMV7_DIGEST",
    ] {
        let d = env(var);
        let hex = d.strip_prefix("sha256:").unwrap();
        let bytes = std::fs::read(dir.join("blobs/sha256").join(hex)).unwrap();
        assert_eq!(sha256(&bytes), d);
    }
    let raw = tool(
        "skopeo",
        &["inspect", "--raw", &format!("oci:{}:all", dir.display())],
    );
    assert_eq!(
        sha256(raw.as_bytes()),
        env("PLINTH_IMG_DEBIAN_INDEX_DIGEST")
    );
    // plinth picks platforms from the copied index.
    assert_eq!(
        ok(w.plinth()
            .args(["digest", "--platform", "linux/arm", &dest]))
        .trim(),
        env("PLINTH_IMG_DEBIAN_ARMV7_DIGEST")
    );
    // Without --all-platforms, one platform's manifest is the root.
    let one = format!("oci:{}:arm64", dir.display());
    let out = ok(w.plinth().args([
        "copy",
        "--quiet",
        "--platform",
        "linux/arm64",
        &env("PLINTH_IMG_DEBIAN"),
        &one,
    ]));
    assert_eq!(out.trim(), env("PLINTH_IMG_DEBIAN_ARM64V8_DIGEST"));
    // A docker-archive holds one platform: refused with a reason.
    let err = fails(
        w.plinth().args([
            "copy",
            "--all-platforms",
            &env("PLINTH_IMG_DEBIAN"),
            &format!("docker-archive:{}", w.path("x.tar").display()),
        ]),
        8,
    );
    assert!(err.contains("single-platform"), "{err}");
}

#[test]
fn copy_to_a_docker_archive_that_skopeo_loads() {
    let w = World::new();
    let tar = w.path("hello.tar");
    let hello = env("PLINTH_IMG_HELLO");
    ok(w.plinth().args([
        "copy",
        "--quiet",
        &hello,
        &format!("docker-archive:{}:itest/hello:1", tar.display()),
    ]));
    let config_digest = json(&ok(w.plinth().args(["manifest", &hello])))["config"]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let loaded = w.path("loaded");
    tool(
        "skopeo",
        &[
            "--insecure-policy",
            "copy",
            "--quiet",
            &format!("docker-archive:{}", tar.display()),
            &format!("oci:{}:h", loaded.display()),
        ],
    );
    // skopeo re-serializes the config it reads from an archive: the same document, and the
    // layer it stored (gzipped by skopeo) unpacks to the diff_id the config names.
    let loaded_oci = format!("oci:{}:h", loaded.display());
    let loaded_config = json(&tool(
        "skopeo",
        &["inspect", "--config", "--raw", &loaded_oci],
    ));
    let registry_config = json(&ok(w.plinth().args(["config", &hello])));
    assert_eq!(loaded_config, registry_config);
    let raw = json(&tool("skopeo", &["inspect", "--raw", &loaded_oci]));
    let layer = raw["layers"][0]["digest"].as_str().unwrap();
    let blob = loaded
        .join("blobs/sha256")
        .join(layer.strip_prefix("sha256:").unwrap());
    let out = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(&blob)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        sha256(&out.stdout),
        registry_config["rootfs"]["diff_ids"][0].as_str().unwrap()
    );
    // The name given is in the archive: skopeo finds the image by it.
    let inspect = json(&tool(
        "skopeo",
        &[
            "inspect",
            &format!("docker-archive:{}:itest/hello:1", tar.display()),
        ],
    ));
    assert_eq!(inspect["Layers"], registry_config["rootfs"]["diff_ids"]);
    // plinth reads its own archive.
    let config = run(w
        .plinth()
        .args(["config", &format!("docker-archive:{}", tar.display())]));
    assert!(config.status.success());
    assert_eq!(sha256(&config.stdout), config_digest);
}

#[test]
fn plinth_reads_skopeo_written_layouts_and_archives() {
    let w = World::new();
    let hello = env("PLINTH_IMG_HELLO");
    let layout = w.path("skopeo-layout");
    let tar = w.path("skopeo.tar");
    for dest in [
        format!("oci:{}:h", layout.display()),
        format!("docker-archive:{}:itest/hello:1", tar.display()),
    ] {
        tool(
            "skopeo",
            &[
                "--insecure-policy",
                "copy",
                "--quiet",
                "--src-tls-verify=false",
                &format!("docker://{hello}"),
                &dest,
            ],
        );
    }
    let registry_config = run(w.plinth().args(["config", &hello])).stdout;
    let oci = format!("oci:{}:h", layout.display());
    let raw = run(w.plinth().args(["manifest", &oci])).stdout;
    let skopeo_raw = tool("skopeo", &["inspect", "--raw", &oci]);
    assert!(raw == skopeo_raw.as_bytes());
    assert_eq!(ok(w.plinth().args(["digest", &oci])).trim(), sha256(&raw));
    for src in [oci.clone(), format!("docker-archive:{}", tar.display())] {
        let config = run(w.plinth().args(["config", &src]));
        assert!(config.status.success(), "{src}");
        assert!(config.stdout == registry_config, "{src}: config differs");
    }
    // The debian-slim archive of the test environment (docker save format).
    let archive = format!(
        "docker-archive:{}",
        env("PLINTH_DOCKER_ARCHIVE_DEBIAN_SLIM")
    );
    let config = run(w.plinth().args(["config", &archive]));
    assert!(config.status.success());
    assert!(
        config.stdout == run(w.plinth().args(["config", &env("PLINTH_IMG_DEBIAN_SLIM")])).stdout
    );
    // And copies them on: archive → registry.
    let dest = format!("{}/itest/{}:1", open_registry(), unique("from-archive"));
    let out = ok(w.plinth().args([
        "copy",
        "--quiet",
        &format!("docker-archive:{}", tar.display()),
        &dest,
    ]));
    assert_eq!(ok(w.plinth().args(["digest", &dest])).trim(), out.trim());
    let config = run(w.plinth().args(["config", &dest]));
    assert!(config.stdout == registry_config);
}

#[test]
fn registry_to_registry_copies_mount_and_skip() {
    let w = World::new();
    let hello = env("PLINTH_IMG_HELLO");
    // Same registry, another repository: mounted.
    let same = format!("{}/itest/{}:1", open_registry(), unique("r2r"));
    let first = json(&ok(w.plinth().args(["copy", "--json", &hello, &same])));
    assert_eq!(first["digest"], env("PLINTH_IMG_HELLO_DIGEST"));
    assert_eq!(
        (first["mounted"].as_u64(), first["copied"].as_u64()),
        (Some(2), Some(0)),
        "{first}"
    );
    let second = json(&ok(w.plinth().args(["copy", "--json", &hello, &same])));
    assert_eq!(
        (
            second["existing"].as_u64(),
            second["copied"].as_u64(),
            second["mounted"].as_u64()
        ),
        (Some(2), Some(0), Some(0)),
        "{second}"
    );
    // To the basic-auth registry: transferred, then found.
    let other = format!(
        "{}/itest/{}:1",
        env("PLINTH_TEST_REGISTRY_BASIC"),
        unique("r2r")
    );
    let first = json(&ok(w.plinth().args(["copy", "--json", &hello, &other])));
    assert_eq!(
        (first["copied"].as_u64(), first["mounted"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(first["bytes"].as_u64().unwrap().to_string(), {
        let m = json(&ok(w.plinth().args(["manifest", &hello])));
        (m["config"]["size"].as_u64().unwrap() + m["layers"][0]["size"].as_u64().unwrap())
            .to_string()
    });
    let second = json(&ok(w.plinth().args(["copy", "--json", &hello, &other])));
    assert_eq!(
        (second["existing"].as_u64(), second["copied"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(
        ok(w.plinth().args(["digest", &other])).trim(),
        env("PLINTH_IMG_HELLO_DIGEST")
    );
    // The human summary goes to stderr, the digest to stdout.
    let out = run(w.plinth().args(["copy", &hello, &same]));
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        env("PLINTH_IMG_HELLO_DIGEST")
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("already present 2"));
}

// ------------------------------------------------------------------------- cache ----------

#[test]
fn cache_du_and_prune() {
    let w = World::new();
    let dir = w.path("explicit-cache");
    let d = dir.to_str().unwrap();
    let du = json(&ok(w.plinth().args([
        "cache",
        "du",
        "--json",
        "--cache-dir",
        d,
    ])));
    assert_eq!(
        (du["blobs"].as_u64(), du["bytes"].as_u64()),
        (Some(0), Some(0))
    );
    // Fill it: configs and manifests fetched by digest are cached.
    ok(w.plinth()
        .args(["--cache-dir", d, "config", &env("PLINTH_IMG_HELLO")]));
    ok(w.plinth().args([
        "--cache-dir",
        d,
        "config",
        "--platform",
        "linux/arm64",
        &env("PLINTH_IMG_DEBIAN"),
    ]));
    let du = json(&ok(w.plinth().args([
        "cache",
        "du",
        "--json",
        "--cache-dir",
        d,
    ])));
    let (blobs, bytes) = (du["blobs"].as_u64().unwrap(), du["bytes"].as_u64().unwrap());
    assert!(blobs >= 3, "{du}");
    assert_eq!(du["path"], d);
    // The files really are there and content-addressed.
    for e in std::fs::read_dir(dir.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let b = std::fs::read(e.path()).unwrap();
        assert_eq!(
            sha256(&b),
            format!("sha256:{}", e.file_name().to_string_lossy())
        );
    }
    let text = ok(w.plinth().args(["cache", "du", "--cache-dir", d]));
    assert!(
        text.contains(&format!("{blobs} blobs")) && text.contains(&format!("{bytes} bytes")),
        "{text}"
    );
    // The default directory (PLINTH_CACHE_DIR here) was not used.
    let other = json(&ok(w.plinth().args(["cache", "du", "--json"])));
    assert_eq!(other["blobs"].as_u64(), Some(0));
    // Recently used blobs survive an age limit; a plain prune empties the store.
    let kept = json(&ok(w.plinth().args([
        "cache",
        "prune",
        "--json",
        "--older-than",
        "1h",
        "--cache-dir",
        d,
    ])));
    assert_eq!(kept["blobs"].as_u64(), Some(0));
    let pruned = json(&ok(w.plinth().args([
        "cache",
        "prune",
        "--json",
        "--cache-dir",
        d,
    ])));
    assert_eq!(
        (pruned["blobs"].as_u64(), pruned["bytes"].as_u64()),
        (Some(blobs), Some(bytes))
    );
    let du = json(&ok(w.plinth().args([
        "cache",
        "du",
        "--json",
        "--cache-dir",
        d,
    ])));
    assert_eq!(du["blobs"].as_u64(), Some(0));
    let err = fails(
        w.plinth()
            .args(["cache", "prune", "--older-than", "soon", "--cache-dir", d]),
        7,
    );
    assert!(err.contains("soon"), "{err}");
}

// ------------------------------------------------------------------------- errors ---------

#[test]
fn exit_codes_and_error_messages() {
    let w = World::new();
    let reg = open_registry();
    // 3: not found, naming registry, repository, status and the registry's code.
    let err = fails(
        w.plinth()
            .args(["manifest", &format!("{reg}/library/debian:no-such-tag")]),
        3,
    );
    assert_names(
        &err,
        &[
            &reg,
            "library/debian",
            "no-such-tag",
            "404",
            "MANIFEST_UNKNOWN",
        ],
    );
    let err = fails(
        w.plinth()
            .args(["digest", &format!("{reg}/itest/never-pushed:1")]),
        3,
    );
    assert_names(&err, &[&reg, "itest/never-pushed", "404"]);
    let err = fails(
        w.plinth().args([
            "copy",
            &format!("{reg}/library/debian:no-such-tag"),
            &format!("oci:{}", w.path("x").display()),
        ]),
        3,
    );
    assert_names(&err, &[&reg, "library/debian", "404"]);
    // 4: authentication, basic and token registries.
    let basic = env("PLINTH_TEST_REGISTRY_BASIC");
    for args in [
        vec![
            "digest".to_string(),
            format!("{basic}/library/debian:bookworm-slim"),
        ],
        vec![
            "manifest".to_string(),
            format!("{basic}/library/debian:bookworm-slim"),
        ],
    ] {
        let err = fails(w.plinth_anonymous().args(&args), 4);
        assert_names(&err, &[&basic, "library/debian", "401", "UNAUTHORIZED"]);
    }
    let token = env("PLINTH_TEST_REGISTRY_TOKEN");
    let err = fails(
        w.plinth_anonymous()
            .args(["manifest", &env("PLINTH_IMG_PRIVATE_HELLO_TOKEN")]),
        4,
    );
    assert_names(&err, &[&token, "private/hello", "401", "UNAUTHORIZED"]);
    let dest = format!("{token}/itest/{}:1", unique("anon"));
    let err = fails(
        w.plinth_anonymous()
            .args(["copy", "--quiet", &env("PLINTH_IMG_HELLO"), &dest]),
        4,
    );
    assert_names(&err, &[&token, "itest/anon", "401", "UNAUTHORIZED"]);
    // With the test environment's credentials (DOCKER_CONFIG) all of these work…
    assert_eq!(
        ok(w.plinth()
            .args(["digest", &format!("{basic}/library/debian:bookworm-slim")]))
        .trim(),
        env("PLINTH_IMG_DEBIAN_SLIM_DIGEST")
    );
    assert_eq!(
        ok(w.plinth()
            .args(["digest", &env("PLINTH_IMG_PRIVATE_HELLO_TOKEN")]))
        .trim(),
        env("PLINTH_IMG_HELLO_DIGEST")
    );
    // …and through REGISTRY_AUTH_FILE alone.
    let auth_file = Path::new(&env("PLINTH_TEST_DOCKER_CONFIG")).join("config.json");
    assert_eq!(
        ok(w.plinth_anonymous()
            .env("REGISTRY_AUTH_FILE", &auth_file)
            .args(["digest", &format!("{basic}/library/debian:bookworm-slim")]))
        .trim(),
        env("PLINTH_IMG_DEBIAN_SLIM_DIGEST")
    );
    // 7: invalid references and image names.
    for bad in ["Not A Ref", "oci:", "library/UPPER:1"] {
        fails(w.plinth().args(["digest", bad]), 7);
        fails(w.plinth().args(["manifest", bad]), 7);
    }
    // 5: a registry that does not answer, named.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = fails(
        w.plinth()
            .args(["digest", &format!("{closed}/library/debian:1")]),
        5,
    );
    assert_names(&err, &[&closed.to_string()]);
    // 2: usage.
    fails(w.plinth().args(["digest"]), 2);
    // Nothing secret in any message.
    assert!(!err.contains(&env("PLINTH_TEST_PASSWORD")));
}

#[test]
fn mirrors_from_a_registries_file() {
    let w = World::new();
    let conf = w.path("registries.toml");
    std::fs::write(
        &conf,
        format!(
            "[[registry]]\nprefix = \"docker.io\"\n[[registry.mirror]]\nlocation = \"{}\"\n",
            open_registry()
        ),
    )
    .unwrap();
    assert_eq!(
        ok(w.plinth()
            .env("PLINTH_REGISTRIES_CONF", &conf)
            .args(["digest", "debian:bookworm-slim"]))
        .trim(),
        env("PLINTH_IMG_DEBIAN_SLIM_DIGEST")
    );
    let v = json(&ok(w.plinth().args([
        "--registries-conf",
        conf.to_str().unwrap(),
        "digest",
        "--json",
        "debian:bookworm",
    ])));
    assert_eq!(v[0]["reference"], "debian:bookworm");
    assert_eq!(v[0]["digest"], env("PLINTH_IMG_DEBIAN_INDEX_DIGEST"));
    let name = unique("not-mirrored");
    let out = run(w
        .plinth()
        .env("PLINTH_REGISTRIES_CONF", &conf)
        .args(["digest", &format!("{name}:1")]));
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_names(
        &err,
        &[
            "docker.io",
            &format!("library/{name}"),
            "mirror",
            &open_registry(),
        ],
    );
}
