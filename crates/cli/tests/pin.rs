//! `plinth refs`, `pin`, `check`, `update` and `lock` against the real test registry, reached
//! through a `docker.io` mirror so the files say `FROM name:tag` as real ones do
//! (`eval "$(scripts/test-env.sh)"` first).
//!
//! Every test works in repositories of its own (`library/pt-<unique>`), filled with
//! `plinth copy` from the test images, so tests can retag freely and run in parallel.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use plinth_oci::manifest::RawManifest;
use plinth_registry::{Client, ClientOptions, CredentialStore, RegistriesConfig};

use serde_json::Value;

mod common;
use common::{env, json, unique};

/// A test's world: a work directory, a registries.toml that mirrors docker.io to the test
/// registry, a private cache, and a repository name of its own.
struct World {
    dir: tempfile::TempDir,
    /// `pt-…`: Dockerfiles say `FROM pt-…:tag`, i.e. `docker.io/library/pt-…`.
    repo: String,
    registry: String,
}

impl World {
    fn new() -> World {
        let registry = env("PLINTH_TEST_REGISTRY");
        let w = World {
            dir: tempfile::tempdir().unwrap(),
            repo: unique("pt"),
            registry,
        };
        std::fs::create_dir_all(w.path("work")).unwrap();
        std::fs::create_dir_all(w.path("xdg")).unwrap();
        std::fs::write(
            w.path("registries.toml"),
            format!(
                "[[registry]]\nprefix = \"docker.io\"\n[[registry.mirror]]\nlocation = \"{}\"\n",
                w.registry
            ),
        )
        .unwrap();
        w
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn work(&self) -> PathBuf {
        self.path("work")
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.work().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.work().join(rel)).unwrap()
    }

    /// `plinth` in the work directory, through the mirror.
    fn plinth(&self) -> Command {
        let mut c = Command::cargo_bin("plinth").unwrap();
        c.current_dir(self.work())
            .env("PLINTH_CACHE_DIR", self.path("cache"))
            .env("XDG_CONFIG_HOME", self.path("xdg"))
            .env("DOCKER_CONFIG", self.path("xdg"))
            .env("PLINTH_REGISTRIES_CONF", self.path("registries.toml"))
            .env_remove("REGISTRY_AUTH_FILE")
            .env_remove("PLINTH_LOG");
        c
    }

    /// `127.0.0.1:5000/library/<repo>:<tag>`: where the mirror serves `<repo>:<tag>` from.
    fn direct(&self, tag: &str) -> String {
        format!("{}/library/{}:{tag}", self.registry, self.repo)
    }

    /// Copies `source` (a test image) to `<repo>:<tag>` on the test registry.
    fn tag(&self, source: &str, tag: &str) {
        let mut args = vec!["copy", "--quiet"];
        if source == env("PLINTH_IMG_DEBIAN") {
            args.push("--all-platforms");
        }
        let dest = self.direct(tag);
        args.push(source);
        args.push(&dest);
        ok(self.plinth().args(&args));
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

#[track_caller]
fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({:?}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs, expects exit `code`, returns (stdout, stderr).
#[track_caller]
fn fails(cmd: &mut Command, code: i32) -> (String, String) {
    let out = run(cmd);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{cmd:?}: expected exit {code}; stderr:\n{stderr}\nstdout:\n{stdout}"
    );
    (stdout, stderr)
}

fn python() -> String {
    env("PLINTH_IMG_PYTHON")
}
fn python_digest() -> String {
    env("PLINTH_IMG_PYTHON_DIGEST")
}
fn slim() -> String {
    env("PLINTH_IMG_DEBIAN_SLIM")
}
fn slim_digest() -> String {
    env("PLINTH_IMG_DEBIAN_SLIM_DIGEST")
}
fn index() -> String {
    env("PLINTH_IMG_DEBIAN")
}
fn index_digest() -> String {
    env("PLINTH_IMG_DEBIAN_DIGEST")
}

// ------------------------------------------------------------------------- refs -----------

#[test]
fn compose_values_are_interpolated_as_compose_does() {
    let w = World::new();
    w.write(
        "svc/.env",
        "TAG=1.27\nRTAG=6 # overridden by the environment\n",
    );
    w.write(
        "svc/compose.yaml",
        "services:\n  web:\n    image: nginx:${TAG}\n  cache:\n    image: ${REG:-docker.io}/library/redis:${RTAG}\n  \
         job:\n    image: busybox:${MISSING:?set MISSING first}\n",
    );
    let refs = |w: &World| {
        let out = ok(w
            .plinth()
            .env("PLINTH_REGISTRIES_CONF", "/nonexistent")
            .env("RTAG", "7.2")
            .env_remove("REG")
            .env_remove("MISSING")
            .env_remove("TAG")
            .args(["refs", "--json"]));
        json(&out)
    };
    let v = refs(&w);
    let resolved: Vec<(&str, &str)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["text"].as_str().unwrap(), r["resolved"].as_str().unwrap()))
        .collect();
    assert_eq!(
        resolved,
        [
            ("nginx:${TAG}", "nginx:1.27"),
            (
                "${REG:-docker.io}/library/redis:${RTAG}",
                "docker.io/library/redis:7.2"
            ),
            (
                "busybox:${MISSING:?set MISSING first}",
                "busybox:${MISSING:?set MISSING first}"
            ),
        ],
        "{v}"
    );
    assert_eq!(v[0]["reference"], "docker.io/library/nginx:1.27");
    // The unset required variable is a finding naming it; the others are fine offline.
    let out = run(w
        .plinth()
        .env("RTAG", "7.2")
        .env_remove("MISSING")
        .env_remove("TAG")
        .args(["check", "--offline", "--format", "json"]));
    let c = json(&String::from_utf8_lossy(&out.stdout));
    let pl010: Vec<&Value> = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "PL010")
        .collect();
    assert_eq!(pl010.len(), 1, "{c}");
    let msg = pl010[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("MISSING") && msg.contains("set MISSING first"),
        "{msg}"
    );
    // pin leaves an interpolated value as written (a note, not a failure) and pins the rest.
    w.write(
        "svc/compose.yaml",
        "services:\n  web:\n    image: nginx:${TAG}\n",
    );
    w.write("Dockerfile", &format!("FROM {}\n", env("PLINTH_IMG_HELLO")));
    let out = run(w.plinth().env_remove("TAG").args(["pin"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("compose.yaml:3:12"), "{err}");
    assert_eq!(
        w.read("svc/compose.yaml"),
        "services:\n  web:\n    image: nginx:${TAG}\n"
    );
    assert!(w.read("Dockerfile").contains("@sha256:"));
    // A malformed .env is an error naming its file and line.
    w.write("svc/.env", "TAG=1.27\nnot a pair\n");
    let (_, err) = fails(w.plinth().args(["refs"]), 7);
    assert!(err.contains(".env:2"), "{err}");
}

#[test]
fn refs_lists_every_reference_without_network() {
    let w = World::new();
    w.write(
        "Dockerfile",
        "ARG BASE=python:3.12-slim\nARG NODEF\nFROM ${BASE} AS build\nCOPY --from=busybox:1.36 /bin/sh /sh\n\
         FROM --platform=linux/arm64 debian:bookworm@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa AS two\n\
         RUN --mount=type=cache,target=/c --mount=type=bind,from=tool:2,target=/t true\n\
         FROM scratch\nCOPY --from=build /a /b\n",
    );
    w.write(
        "svc/compose.yaml",
        "services:\n  web:\n    image: \"nginx:1.27\"\n  db:\n    image: postgres\n",
    );
    w.write(
        "k8s/app.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        image: ghcr.io/acme/app:1.0\n",
    );
    w.write("k8s/not-k8s.yaml", "name: x\nimage: ignored\n");
    w.write("ignored/Dockerfile", "FROM nope\n");
    w.write(".gitignore", "ignored/\n");
    // No registry is needed: a registries file that does not exist is never opened.
    let out = ok(w
        .plinth()
        .env("PLINTH_REGISTRIES_CONF", "/nonexistent")
        .args(["refs", "--json"]));
    let v = json(&out);
    let rows: Vec<(String, u64, u64, String, String, String, bool)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["file"].as_str().unwrap().to_string(),
                r["line"].as_u64().unwrap(),
                r["col"].as_u64().unwrap(),
                r["kind"].as_str().unwrap().to_string(),
                r["text"].as_str().unwrap().to_string(),
                r["resolved"].as_str().unwrap().to_string(),
                r["pinned"].as_bool().unwrap(),
            )
        })
        .collect();
    let row = |f: &str, l: u64, c: u64, k: &str, t: &str, r: &str, p: bool| {
        (
            f.to_string(),
            l,
            c,
            k.to_string(),
            t.to_string(),
            r.to_string(),
            p,
        )
    };
    assert_eq!(
        rows,
        vec![
            row(
                "Dockerfile",
                3,
                6,
                "image",
                "${BASE}",
                "python:3.12-slim",
                false
            ),
            row(
                "Dockerfile",
                4,
                13,
                "image",
                "busybox:1.36",
                "busybox:1.36",
                false
            ),
            row(
                "Dockerfile",
                5,
                29,
                "image",
                "debian:bookworm@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "debian:bookworm@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                true
            ),
            row("Dockerfile", 6, 57, "image", "tool:2", "tool:2", false),
            row("Dockerfile", 7, 6, "scratch", "scratch", "scratch", false),
            row("Dockerfile", 8, 13, "stage", "build", "build", false),
            row(
                "k8s/app.yaml",
                8,
                16,
                "image",
                "ghcr.io/acme/app:1.0",
                "ghcr.io/acme/app:1.0",
                false
            ),
            row(
                "svc/compose.yaml",
                3,
                13,
                "image",
                "nginx:1.27",
                "nginx:1.27",
                false
            ),
            row(
                "svc/compose.yaml",
                5,
                12,
                "image",
                "postgres",
                "postgres",
                false
            ),
        ]
    );
    assert_eq!(v[2]["platform"], "linux/arm64");
    assert_eq!(v[0]["reference"], "docker.io/library/python:3.12-slim");
    // --build-arg applies; text output names file:line:col.
    let text = ok(w
        .plinth()
        .args(["refs", "--build-arg", "BASE=python:3.13", "Dockerfile"]));
    let first: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        first,
        [
            "Dockerfile:3:6",
            "image",
            "${BASE}",
            "→",
            "python:3.13",
            "unpinned"
        ],
        "{text}"
    );
}

// ------------------------------------------------------------------------- pin ------------

#[test]
fn pin_rewrites_in_place_keeping_every_other_byte() {
    let w = World::new();
    let r = &w.repo;
    w.tag(&python(), "3.11-slim");
    w.tag(&slim(), "3.11");
    w.tag(&index(), "bookworm");
    let original = format!(
        "\u{feff}# syntax=docker/dockerfile:1\r\n\
         ARG BASE=\"{r}:3.11-slim\"\r\n\
         ARG VER=bookworm\r\n\
         # the build stage   \r\n\
         FROM ${{BASE}} AS build   \r\n\
         COPY --from={r}:3.11 /etc/os-release /x\r\n\
         FROM docker.io/library/{r}:${{VER}}\r\n\
         RUN --mount=type=bind,from={r}:3.11-slim,target=/t true\r\n\
         FROM scratch\r\n\
         COPY --from=build /x /y\r\n"
    );
    w.write("Dockerfile", &original);
    w.write(
        "deploy/compose.yaml",
        &format!("services:\n  app:\n    image: '{r}:3.11'   # app\n"),
    );
    w.write(
        "deploy/pod.yaml",
        &format!(
            "apiVersion: v1\nkind: Pod\nspec:\n  initContainers:\n  - name: i\n    image: {r}:3.11-slim\n  containers:\n  - {{name: c, image: \"{r}:bookworm\"}}\n"
        ),
    );

    // --dry-run: a unified diff, nothing written.
    let diff = ok(w.plinth().args(["pin", "--dry-run"]));
    assert!(
        diff.contains("--- a/Dockerfile\n+++ b/Dockerfile\n"),
        "{diff}"
    );
    assert!(
        diff.contains(&format!(
            "+ARG BASE=\"{r}:3.11-slim@{}\"\r\n",
            python_digest()
        )),
        "{diff}"
    );
    assert_eq!(w.read("Dockerfile"), original);

    let out = ok(w.plinth().args(["pin"]));
    assert!(out.contains("(ARG BASE)"), "{out}");
    let (p, s, i) = (python_digest(), slim_digest(), index_digest());
    let expected = format!(
        "\u{feff}# syntax=docker/dockerfile:1\r\n\
         ARG BASE=\"{r}:3.11-slim@{p}\"\r\n\
         ARG VER=bookworm@{i}\r\n\
         # the build stage   \r\n\
         FROM ${{BASE}} AS build   \r\n\
         COPY --from={r}:3.11@{s} /etc/os-release /x\r\n\
         FROM docker.io/library/{r}:${{VER}}\r\n\
         RUN --mount=type=bind,from={r}:3.11-slim@{p},target=/t true\r\n\
         FROM scratch\r\n\
         COPY --from=build /x /y\r\n"
    );
    assert_eq!(w.read("Dockerfile"), expected);
    assert_eq!(
        w.read("deploy/compose.yaml"),
        format!("services:\n  app:\n    image: '{r}:3.11@{s}'   # app\n")
    );
    assert_eq!(
        w.read("deploy/pod.yaml"),
        format!(
            "apiVersion: v1\nkind: Pod\nspec:\n  initContainers:\n  - name: i\n    image: {r}:3.11-slim@{p}\n  containers:\n  - {{name: c, image: \"{r}:bookworm@{i}\"}}\n"
        )
    );
    // No temp files left behind.
    let names: Vec<_> = std::fs::read_dir(w.work().join("deploy"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    // Idempotent: a second run changes nothing and says so.
    let out = run(w.plinth().args(["pin"]));
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("changed 0 references in 0 files"),
        "{stderr}"
    );
    assert_eq!(w.read("Dockerfile"), expected);

    // The pinned tree passes the check (no network finding either).
    ok(w.plinth().args(["check"]));
}

#[test]
fn pin_touches_no_file_when_a_lookup_fails() {
    let w = World::new();
    w.tag(&slim(), "12");
    let reg = &w.registry;
    let r = &w.repo;
    // The second reference names a tag the registry lacks (asked directly, not through the
    // mirror, so the registry's 404 is the answer).
    let text = format!("FROM {r}:12\nFROM {reg}/library/{r}:no-such-tag\n");
    w.write("Dockerfile", &text);
    let good = format!("FROM {r}:12\n");
    w.write("other.Dockerfile", &good);
    let (_, stderr) = fails(w.plinth().args(["pin"]), 3);
    assert!(stderr.contains("Dockerfile:2:6"), "{stderr}");
    assert!(stderr.contains("no-such-tag"), "{stderr}");
    assert!(stderr.contains("404"), "{stderr}");
    assert_eq!(w.read("Dockerfile"), text);
    // Files whose lookups all succeeded are still pinned.
    assert_eq!(
        w.read("other.Dockerfile"),
        format!("FROM {r}:12@{}\n", slim_digest())
    );
}

// ------------------------------------------------------------------------- update ---------

#[test]
fn update_moves_stale_digests_and_check_says_how_old() {
    let w = World::new();
    let r = &w.repo;
    w.tag(&slim(), "3.11");
    w.write("Dockerfile", &format!("FROM {r}:3.11\n"));
    ok(w.plinth().args(["pin"]));
    let pinned = format!("FROM {r}:3.11@{}\n", slim_digest());
    assert_eq!(w.read("Dockerfile"), pinned);
    // Update with nothing new changes nothing.
    ok(w.plinth().args(["update"]));
    assert_eq!(w.read("Dockerfile"), pinned);

    // The tag moves: the pin is stale.
    w.tag(&python(), "3.11");
    let (out, _) = fails(w.plinth().args(["check"]), 1);
    assert!(out.contains("Dockerfile:1:6: warning[PL004]:"), "{out}");
    assert!(
        out.contains(&format!("now points at {}", python_digest())),
        "{out}"
    );
    assert!(out.contains("the pinned image was built "), "{out}");
    // Not failing at --fail-on error.
    ok(w.plinth().args(["check", "--fail-on", "error"]));

    let diff = ok(w.plinth().args(["update", "--dry-run"]));
    assert!(
        diff.contains(&format!("+FROM {r}:3.11@{}", python_digest())),
        "{diff}"
    );
    ok(w.plinth().args(["update"]));
    assert_eq!(
        w.read("Dockerfile"),
        format!("FROM {r}:3.11@{}\n", python_digest())
    );
    ok(w.plinth().args(["check"]));
}

#[test]
fn update_precise_keeps_the_variant_suffix() {
    let w = World::new();
    let r = &w.repo;
    for (src, tag) in [
        (python(), "3.11-slim"),
        (python(), "3.11.2-slim"),
        // Newer, but another image: skipped.
        (slim(), "3.11.3-slim"),
        // Same image without the suffix, and with a longer suffix: never chosen.
        (python(), "3.11.9"),
        (python(), "3.11.9-slim-bookworm"),
        (slim(), "3.11.1-slim"),
    ] {
        w.tag(&src, tag);
    }
    w.write("Dockerfile", &format!("ARG V=3.11-slim\nFROM {r}:$V\n"));
    w.write(
        "Dockerfile.pinned",
        &format!("FROM {r}:3.11-slim@{}\n", slim_digest()),
    );
    // update --precise: floating tags get precise, unpinned stay unpinned, stale pins move.
    let out = ok(w.plinth().args(["update", "--precise"]));
    assert!(out.contains("→"), "{out}");
    assert_eq!(
        w.read("Dockerfile"),
        format!("ARG V=3.11.2-slim\nFROM {r}:$V\n")
    );
    assert_eq!(
        w.read("Dockerfile.pinned"),
        format!("FROM {r}:3.11.2-slim@{}\n", python_digest())
    );
    // pin --precise pins as well.
    w.write("Dockerfile", &format!("FROM {r}:3.11-slim\n"));
    ok(w.plinth().args(["pin", "--precise", "Dockerfile"]));
    assert_eq!(
        w.read("Dockerfile"),
        format!("FROM {r}:3.11.2-slim@{}\n", python_digest())
    );
}

/// Pushes an index to `<repo>:<tag>` whose amd64 entry is `amd64` and whose arm64 entry is
/// `arm64` (both already in the repository), as raw bytes.
async fn push_index(w: &World, tag: &str, amd64: &str, arm64: &str) -> String {
    let c = Client::new(ClientOptions {
        credentials: CredentialStore::from_files(vec![]),
        config: RegistriesConfig::default(),
        ..ClientOptions::default()
    })
    .unwrap();
    let repo = format!("library/{}", w.repo);
    let ep = RegistriesConfig::default().origin(&w.registry, &repo);
    let mut entries = Vec::new();
    for (digest, arch, variant) in [(amd64, "amd64", None), (arm64, "arm64", Some("v8"))] {
        let head = c.head_manifest(&ep, digest).await.unwrap().unwrap();
        let mut platform = serde_json::json!({"architecture": arch, "os": "linux"});
        if let Some(v) = variant {
            platform["variant"] = v.into();
        }
        entries.push(serde_json::json!({
            "mediaType": head.media_type, "digest": digest, "size": head.size.unwrap(),
            "platform": platform,
        }));
    }
    let bytes = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    }))
    .unwrap();
    let raw =
        RawManifest::from_bytes(bytes, Some("application/vnd.oci.image.index.v1+json")).unwrap();
    c.put_manifest(&ep, tag, &raw).await.unwrap();
    raw.digest().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_platform_manifest_pin_stays_a_platform_manifest() {
    let w = World::new();
    let r = w.repo.clone();
    w.tag(&index(), "bookworm");
    w.tag(&python(), "py");
    let arm64 = env("PLINTH_IMG_DEBIAN_ARM64V8_DIGEST");
    let amd64 = env("PLINTH_IMG_DEBIAN_AMD64_DIGEST");
    // Pinned to one platform's manifest, with and without --platform.
    let text = format!(
        "FROM --platform=linux/arm64 {r}:bookworm@{arm64}\nFROM {r}:bookworm@{amd64}\nFROM {r}:bookworm\n"
    );
    w.write("Dockerfile", &text);
    // Current: update changes nothing, check finds nothing stale.
    ok(w.plinth().args(["update"]));
    assert_eq!(w.read("Dockerfile"), text);
    let out = run(w.plinth().args(["check", "--format", "json"]));
    let v = json(&String::from_utf8_lossy(&out.stdout));
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["PL002"], "{v}");

    // The tag moves to a new index (amd64 → python, arm64 → the same fake arm64 image).
    let new_index = push_index(&w, "bookworm", &python_digest(), &arm64).await;
    let (out, _) = fails(w.plinth().args(["check"]), 1);
    assert!(out.contains("Dockerfile:2:6: warning[PL004]"), "{out}");
    assert!(!out.contains("Dockerfile:1:"), "arm64 is unchanged: {out}");
    ok(w.plinth().args(["update"]));
    assert_eq!(
        w.read("Dockerfile"),
        format!(
            "FROM --platform=linux/arm64 {r}:bookworm@{arm64}\nFROM {r}:bookworm@{}\nFROM {r}:bookworm\n",
            python_digest()
        )
    );
    // pin adds the index digest to the unpinned one.
    ok(w.plinth().args(["pin"]));
    assert!(
        w.read("Dockerfile")
            .ends_with(&format!("FROM {r}:bookworm@{new_index}\n")),
        "{}",
        w.read("Dockerfile")
    );
}

// ------------------------------------------------------------------------- check ----------

#[test]
fn check_reports_each_rule_with_location_and_exit_codes() {
    let w = World::new();
    let r = &w.repo;
    let reg = &w.registry;
    w.tag(&slim(), "3.11");
    w.tag(&slim(), "latest");
    w.tag(&index(), "bookworm");
    let zero = format!("sha256:{}", "0".repeat(64));
    let text = format!(
        "ARG NODEF\n\
         FROM {r}\n\
         FROM {r}:3.11\n\
         FROM {r}@{s}\n\
         FROM {reg}/library/{r}:3.11@{zero}\n\
         FROM --platform=linux/s390x {r}:bookworm@{i}\n\
         FROM ${{NODEF}}\n\
         FROM {reg}/library/{r}:missing\n\
         FROM Bad/Name:1\n",
        s = slim_digest(),
        i = index_digest(),
    );
    w.write("Dockerfile", &text);
    w.write(
        "plinth.toml",
        "[check]\nallowed-registries = [\"docker.io\"]\n",
    );
    let (out, _) = fails(w.plinth().args(["check"]), 1);
    let found: Vec<(usize, String)> = out
        .lines()
        .filter(|l| l.starts_with("Dockerfile:"))
        .map(|l| {
            let mut p = l.split(':');
            p.next();
            let line = p.next().unwrap().parse().unwrap();
            let rule = l
                .split('[')
                .nth(1)
                .unwrap()
                .split(']')
                .next()
                .unwrap()
                .to_string();
            (line, rule)
        })
        .collect();
    let want: Vec<(usize, String)> = [
        (2, "PL001"),
        (3, "PL002"),
        (4, "PL003"),
        (5, "PL005"),
        (5, "PL007"),
        (6, "PL006"),
        (7, "PL008"),
        (8, "PL002"),
        (8, "PL007"),
        (8, "PL011"),
        (9, "PL010"),
    ]
    .iter()
    .map(|(l, r)| (*l, r.to_string()))
    .collect();
    assert_eq!(found, want, "{out}");
    assert!(out.contains("linux/s390x"), "{out}");
    assert!(out.contains("hint: "), "{out}");

    // Exit codes by threshold: errors exist, so only `never` passes.
    fails(w.plinth().args(["check", "--fail-on", "error"]), 1);
    ok(w.plinth().args(["check", "--fail-on", "never"]));

    // SARIF 2.1.0.
    let out = run(w.plinth().args(["check", "--format", "sarif"]));
    assert_eq!(out.status.code(), Some(1));
    let v = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(v["version"], "2.1.0");
    assert!(v["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run0 = &v["runs"][0];
    assert_eq!(run0["tool"]["driver"]["name"], "plinth");
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules[0]["id"], "PL001");
    let results = run0["results"].as_array().unwrap();
    assert_eq!(results.len(), want.len());
    for res in results {
        let id = res["ruleId"].as_str().unwrap();
        let index = res["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], id);
        assert!(["error", "warning", "note"].contains(&res["level"].as_str().unwrap()));
        let loc = &res["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "Dockerfile");
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 2);
        assert!(loc["region"]["startColumn"].as_u64().unwrap() >= 1);
        assert!(!res["message"]["text"].as_str().unwrap().is_empty());
    }
    // JSON.
    let out = run(w
        .plinth()
        .args(["check", "--format", "json", "--fail-on", "never"]));
    assert!(out.status.success());
    let v = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(v["summary"]["references"], 8);
    assert_eq!(v["findings"][0]["rule"], "PL001");
    assert_eq!(v["findings"][0]["line"], 2);
    assert_eq!(v["findings"][0]["col"], 6);
}

// ------------------------------------------------------------------------- lock -----------

#[test]
fn lock_records_platforms_and_check_locked_needs_no_network() {
    let w = World::new();
    let r = &w.repo;
    w.tag(&index(), "bookworm");
    w.tag(&python(), "3.11-slim");
    w.write(
        "Dockerfile",
        &format!("FROM {r}:bookworm\nCOPY --from={r}:3.11-slim /a /b\n"),
    );
    w.write(
        "k8s/job.yaml",
        &format!("apiVersion: batch/v1\nkind: Job\nspec:\n  template:\n    spec:\n      containers:\n      - name: j\n        image: {r}:bookworm\n"),
    );
    ok(w.plinth().args(["lock"]));
    let lock = w.read("plinth.lock");
    assert!(lock.starts_with("# plinth.lock"), "{lock}");
    let v: toml::Value = toml::from_str(&lock).unwrap();
    assert_eq!(v["version"].as_integer(), Some(1));
    let images = v["image"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    // Sorted by reference: `3.11-slim` before `bookworm`.
    let (py, deb) = (&images[0], &images[1]);
    assert_eq!(
        deb["reference"].as_str().unwrap(),
        format!("docker.io/library/{r}:bookworm")
    );
    assert_eq!(deb["digest"].as_str().unwrap(), index_digest());
    let files: Vec<&str> = deb["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(files, ["Dockerfile", "k8s/job.yaml"]);
    let platforms = deb["platforms"].as_table().unwrap();
    assert_eq!(
        platforms["linux/amd64"].as_str().unwrap(),
        env("PLINTH_IMG_DEBIAN_AMD64_DIGEST")
    );
    assert_eq!(
        platforms["linux/arm64/v8"].as_str().unwrap(),
        env("PLINTH_IMG_DEBIAN_ARM64V8_DIGEST")
    );
    assert_eq!(
        platforms["linux/arm/v7"].as_str().unwrap(),
        env("PLINTH_IMG_DEBIAN_ARMV7_DIGEST")
    );
    assert_eq!(py["digest"].as_str().unwrap(), python_digest());
    assert_eq!(
        py["platforms"]["linux/amd64"].as_str().unwrap(),
        python_digest()
    );

    // --locked reads no registry configuration at all: no network.
    let offline = |w: &World| {
        let mut c = w.plinth();
        c.env("PLINTH_REGISTRIES_CONF", "/nonexistent/registries.toml");
        c
    };
    ok(offline(&w).args(["check", "--locked", "--fail-on", "error"]));
    // A new reference, and a file that no longer uses a locked one.
    w.write(
        "Dockerfile",
        &format!("FROM {r}:bookworm\nFROM {r}:other\n"),
    );
    let (out, _) = fails(
        offline(&w).args(["check", "--locked", "--fail-on", "error"]),
        1,
    );
    assert!(out.contains("Dockerfile:2:6: error[PL009]"), "{out}");
    assert!(
        out.contains(&format!(
            "docker.io/library/{r}:other is not in plinth.lock"
        )),
        "{out}"
    );
    assert!(out.contains("plinth.lock:"), "{out}");
    assert!(
        out.contains("for Dockerfile, which no longer uses it"),
        "{out}"
    );
}

#[test]
fn missing_environment_fails_loudly() {
    let r = std::panic::catch_unwind(|| env("PLINTH_PIN_TEST_SURELY_UNSET"));
    let msg = r.unwrap_err();
    let msg = msg.downcast_ref::<String>().unwrap();
    assert!(msg.contains("scripts/test-env.sh"), "{msg}");
}

#[allow(dead_code)]
fn _unused(_: &Path) {}
