//! `plinth inspect` and `plinth sbom` against real images (`eval "$(scripts/test-env.sh)"`):
//! the Debian-built test images checked against their rootfs trees (`dpkg-query`, the
//! os-release file, the libc ELF run for its banner, the Python interpreter run in a chroot),
//! and fixture images written here from real database files in their documented formats
//! (Alpine's apk `installed` with Debian's real musl loader, distroless `status.d` from the
//! real dpkg status, an rpm `rpmdb.sqlite` made by rpm 4.18) — each pushed to the local
//! registry and read back as an OCI layout, from the registry and as a docker archive.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command as Proc;

use assert_cmd::Command;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

mod common;
use common::{dpkg_query, env, host, plinth, rootfs, run_ok};

/// The report of `image`, judged on a fixed date so the end-of-life verdicts are stable.
fn inspect(cache: &Path, image: &str, extra: &[&str]) -> Value {
    let out = run_ok(
        plinth(cache)
            .args(["inspect", "--json", "--as-of", "2026-01-01", image])
            .args(extra),
    );
    serde_json::from_slice(&out).unwrap()
}

fn packages_of(report: &Value) -> BTreeSet<(String, String, String)> {
    report["packages"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().into(),
                p["version"].as_str().unwrap().into(),
                p["arch"].as_str().unwrap_or("").into(),
            )
        })
        .collect()
}

fn os_release(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

/// The parts of a report that come from the filesystem (the same whatever the source).
fn catalog(report: &Value) -> Value {
    let mut v = json!({});
    for k in [
        "os",
        "libc",
        "packages",
        "package_managers",
        "runtimes",
        "tools",
        "users",
        "permissions",
    ] {
        v[k] = report[k].clone();
    }
    v
}

fn runtime<'a>(report: &'a Value, name: &str) -> Option<&'a Value> {
    report["runtimes"]["runtimes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
}

fn tool_names(report: &Value, group: &str) -> BTreeSet<String> {
    report["tools"][group]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

fn finding_ids(report: &Value) -> BTreeSet<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

/// `find ROOT EXPR… -printf '/%P\n'`, sorted.
fn find(root: &Path, expr: &[&str]) -> Vec<String> {
    let mut cmd = Proc::new("find");
    cmd.arg(root).args(expr).args(["-printf", "/%P\n"]);
    let mut v: Vec<String> = host(&mut cmd).lines().map(str::to_string).collect();
    v.sort();
    v
}

fn paths(report: &Value, section: &str) -> Vec<String> {
    let mut v: Vec<String> = report["permissions"][section]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn debian_images_match_their_rootfs() {
    let cache = tempfile::tempdir().unwrap();
    for (key, tree) in [
        ("DEBIAN_SLIM", "minbase"),
        ("PYTHON", "python"),
        ("BUILDPACK", "buildpack"),
    ] {
        let image = env(&format!("PLINTH_IMG_{key}"));
        let root = rootfs(tree);
        let r = inspect(cache.path(), &image, &[]);

        // Image: digests and sizes as the test-image script measured them.
        let img = &r["image"];
        assert_eq!(
            img["manifest_digest"],
            env(&format!("PLINTH_IMG_{key}_DIGEST"))
        );
        let layers = img["layers"].as_array().unwrap();
        assert_eq!(
            layers.len().to_string(),
            env(&format!("PLINTH_IMG_{key}_LAYERS"))
        );
        assert_eq!(
            img["uncompressed_size"].as_u64().unwrap().to_string(),
            env(&format!("PLINTH_IMG_{key}_SIZE"))
        );
        assert!(layers.iter().all(|l| {
            l["created_by"]
                .as_str()
                .unwrap()
                .starts_with("mmdebstrap --variant=minbase")
        }));
        assert!(
            img["empty_layer_history"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["created_by"].as_str().unwrap().contains("CMD")),
            "{image}"
        );
        assert_eq!(img["platform"], "linux/amd64");
        assert!(layers[0]["added"].as_u64().unwrap() > 1000);

        // Packages: exactly what dpkg-query says of the same tree.
        assert_eq!(packages_of(&r), dpkg_query(&root), "{image}");
        assert_eq!(r["packages"]["databases"][0]["kind"], "dpkg");
        let managers = r["package_managers"].as_array().unwrap();
        assert!(
            managers
                .iter()
                .any(|m| m["name"] == "apt-get" && m["usable"] == true)
        );

        // OS: the os-release file.
        let rel = os_release(&root.join("usr/lib/os-release"));
        let os = &r["os"];
        assert_eq!(os["id"], rel["ID"].as_str());
        assert_eq!(os["version_id"], rel["VERSION_ID"].as_str());
        assert_eq!(os["codename"], rel["VERSION_CODENAME"].as_str());
        assert_eq!(os["pretty_name"], rel["PRETTY_NAME"].as_str());
        assert_eq!(os["source"], "/usr/lib/os-release");
        assert_eq!(os["eol"]["status"], "supported");
        assert_eq!(os["eol"]["as_of"], "2026-01-01");

        // libc: the ELF itself, run on the host, prints its banner.
        let libc = root.join("usr/lib/x86_64-linux-gnu/libc.so.6");
        let banner = host(&mut Proc::new(&libc));
        let first = banner.lines().next().unwrap();
        let version = first
            .rsplit("release version ")
            .next()
            .unwrap()
            .trim_end_matches('.');
        assert_eq!(r["libc"]["kind"], "glibc");
        assert_eq!(r["libc"]["version"], version, "{first}");
        assert!(first.contains(r["libc"]["build"].as_str().unwrap()));

        // Python: the interpreter says its own version.
        let python = runtime(&r, "python");
        if tree == "minbase" {
            assert!(python.is_none());
        } else {
            let out = host(
                Proc::new("chroot")
                    .arg(&root)
                    .args(["python3", "--version"]),
            );
            let want = out.trim().strip_prefix("Python ").unwrap();
            let python = python.unwrap();
            assert_eq!(python["version"], want);
            assert_eq!(python["path"], "/usr/bin/python3.11");
            assert!(
                python["package"]
                    .as_str()
                    .unwrap()
                    .starts_with("python3.11-minimal ")
            );
        }
        // perl-base is essential in Debian: perl is always there. Its Config.pm states the
        // version; dpkg's upstream version of perl-base must agree.
        let perl = runtime(&r, "perl").unwrap();
        let (_, pv, _) = dpkg_query(&root)
            .into_iter()
            .find(|(n, _, _)| n == "perl-base")
            .unwrap();
        assert_eq!(perl["version"], pv.split('-').next().unwrap());
        assert!(perl["evidence"][0].as_str().unwrap().contains("Config.pm"));

        // Shells and tools.
        let shells = tool_names(&r, "shells");
        assert!(shells.contains("sh") && shells.contains("bash") && shells.contains("dash"));
        let sh = &r["tools"]["shells"][0];
        assert_eq!(sh["target"], "/usr/bin/dash");
        let tools = tool_names(&r, "tools");
        let toolchain = tool_names(&r, "toolchain");
        if tree == "buildpack" {
            for t in ["curl", "git", "openssl"] {
                assert!(tools.contains(t), "{t}");
            }
            for t in ["gcc", "cc", "make", "g++"] {
                assert!(toolchain.contains(t), "{t}");
            }
            let bundle = &r["tools"]["ca_bundle"];
            let want = std::fs::read_to_string(root.join("etc/ssl/certs/ca-certificates.crt"))
                .unwrap()
                .matches("BEGIN CERTIFICATE")
                .count();
            assert_eq!(bundle["certificates"], want);
        } else {
            assert!(
                tools.is_empty() && toolchain.is_empty(),
                "{tools:?} {toolchain:?}"
            );
            assert!(r["tools"]["ca_bundle"].is_null());
        }

        // Users, setuid and world-writable files: the same tree, walked by find.
        let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
        assert_eq!(
            r["users"]["users"].as_array().unwrap().len(),
            passwd.lines().count()
        );
        assert_eq!(r["users"]["users"][0]["name"], "root");
        assert_eq!(
            paths(&r, "setuid"),
            find(&root, &["-type", "f", "-perm", "/6000"])
        );
        let ww: Vec<String> = find(&root, &["-perm", "-0002", "!", "-type", "l"])
            .into_iter()
            .filter(|p| {
                !["/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock"]
                    .iter()
                    .any(|t| p == t || p.starts_with(&format!("{t}/")))
            })
            .collect();
        assert_eq!(paths(&r, "world_writable"), ww);
        assert!(paths(&r, "scratch_dirs").contains(&"/tmp".to_string()));
        assert!(r["config"]["runs_as_root"] == true);
        assert!(finding_ids(&r).contains("user-root"));
    }
}

#[test]
fn python_image_config_history_and_base() {
    let cache = tempfile::tempdir().unwrap();
    let r = inspect(cache.path(), &env("PLINTH_IMG_PYTHON"), &[]);
    let c = &r["config"];
    assert_eq!(c["cmd"], json!(["python3"]));
    assert!(c["user"].is_null());
    assert!(
        c["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "LANG=C.UTF-8")
    );
    assert_eq!(c["base"]["name"], "docker.io/library/debian:bookworm-slim");
    assert_eq!(c["base"]["digest"], env("PLINTH_IMG_DEBIAN_SLIM_DIGEST"));
    assert_eq!(c["base"]["from"], "manifest annotations");
    let layers = r["image"]["layers"].as_array().unwrap();
    assert!(
        layers[1]["created_by"]
            .as_str()
            .unwrap()
            .contains("--include=python3")
    );
    // The second layer is a real diff: it changes and removes paths of the first.
    assert!(layers[1]["changed"].as_u64().unwrap() > 0);
    assert!(layers[1]["removed"].as_u64().unwrap() > 0);
    let empty: Vec<&str> = r["image"]["empty_layer_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["created_by"].as_str().unwrap())
        .collect();
    assert!(
        empty.iter().any(|h| h.contains("ENV LANG=C.UTF-8")),
        "{empty:?}"
    );
    assert_eq!(r["schema_version"], 1);

    // The human report says the same things.
    let text = String::from_utf8(run_ok(
        plinth(cache.path()).args(["inspect", &env("PLINTH_IMG_PYTHON")]),
    ))
    .unwrap();
    for want in [
        "Debian GNU/Linux 12 (bookworm)",
        "glibc 2.36",
        "python  3.11",
        "apt-get",
        "user-root",
        "docker.io/library/debian:bookworm-slim@sha256:",
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
}

#[test]
fn every_source_gives_the_same_catalog() {
    let cache = tempfile::tempdir().unwrap();
    let registry = inspect(cache.path(), &env("PLINTH_IMG_DEBIAN_SLIM"), &[]);
    let layout = format!(
        "oci:{}:{}",
        env("PLINTH_LAYOUT_DIR"),
        env("PLINTH_IMG_DEBIAN_SLIM_LAYOUT_REF")
    );
    let archive = format!(
        "docker-archive:{}",
        env("PLINTH_DOCKER_ARCHIVE_DEBIAN_SLIM")
    );
    for src in [layout, archive] {
        let other = inspect(cache.path(), &src, &[]);
        assert_eq!(catalog(&other), catalog(&registry), "{src}");
        assert_eq!(other["image"]["reference"], src);
        assert_eq!(
            other["image"]["uncompressed_size"],
            registry["image"]["uncompressed_size"]
        );
    }
    // A second read (warm cache) reports the same.
    let again = inspect(cache.path(), &env("PLINTH_IMG_DEBIAN_SLIM"), &[]);
    assert_eq!(catalog(&again), catalog(&registry));
}

#[test]
fn index_platforms_and_scratch() {
    let cache = tempfile::tempdir().unwrap();
    let r = inspect(
        cache.path(),
        &env("PLINTH_IMG_DEBIAN"),
        &["--platform", "linux/amd64"],
    );
    assert_eq!(
        r["image"]["index_digest"],
        env("PLINTH_IMG_DEBIAN_INDEX_DIGEST")
    );
    assert_eq!(
        r["image"]["manifest_digest"],
        env("PLINTH_IMG_DEBIAN_AMD64_DIGEST")
    );
    // The arm64 image of the index is an honest fake: only /etc/os-release.
    let arm = inspect(
        cache.path(),
        &env("PLINTH_IMG_DEBIAN"),
        &["--platform", "linux/arm64/v8"],
    );
    assert_eq!(
        arm["image"]["manifest_digest"],
        env("PLINTH_IMG_DEBIAN_ARM64V8_DIGEST")
    );
    assert_eq!(arm["image"]["platform"], "linux/arm64/v8");
    assert_eq!(arm["os"]["id"], "debian");
    assert!(arm["libc"].is_null());
    assert_eq!(arm["packages"]["count"], 0);
    // No os-release at all: a scratch-like image is a valid answer.
    let hello = inspect(cache.path(), &env("PLINTH_IMG_HELLO"), &[]);
    assert!(hello["os"].is_null());
    assert!(hello["libc"].is_null());
    assert_eq!(hello["packages"]["count"], 0);
    assert!(hello["package_managers"].as_array().unwrap().is_empty());
    assert!(finding_ids(&hello).contains("os-none"));
    assert_eq!(
        hello["config"]["labels"]["org.opencontainers.image.title"],
        "hello"
    );
}

// ------------------------------------------------------------------ fixture images ------

enum E {
    Dir(&'static str, u32),
    File(String, Vec<u8>, u32),
    Link(&'static str, &'static str),
    Hard(&'static str, &'static str),
}

fn file(path: &str, data: impl Into<Vec<u8>>, mode: u32) -> E {
    E::File(path.to_string(), data.into(), mode)
}

fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

fn put_blob(layout: &Path, bytes: &[u8]) -> String {
    let d = sha256(bytes);
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(&d[7..]), bytes).unwrap();
    d
}

/// An uncompressed layer tar of `entries`.
fn layer(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        match e {
            E::Dir(p, mode) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(*mode);
                h.set_size(0);
                b.append_data(&mut h, format!("{}/", p.trim_start_matches('/')), &[][..])
                    .unwrap();
            }
            E::File(p, data, mode) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p.trim_start_matches('/'), &data[..])
                    .unwrap();
            }
            E::Link(p, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, p.trim_start_matches('/'), target)
                    .unwrap();
            }
            E::Hard(p, target) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_link(
                    &mut h,
                    p.trim_start_matches('/'),
                    target.trim_start_matches('/'),
                )
                .unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// Writes a one-layer image into an OCI layout under `tag`.
fn write_image(layout: &Path, tag: &str, entries: &[E], config: Value) {
    std::fs::create_dir_all(layout).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let tar = layer(entries);
    let diff_id = put_blob(layout, &tar);
    let mut cfg = json!({
        "created": "2023-11-14T22:13:20Z",
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "2023-11-14T22:13:20Z", "created_by": format!("plinth inspect tests: {tag}")}],
    });
    if cfg["config"].is_null() {
        cfg["config"] = json!({});
    }
    let cfg_bytes = serde_json::to_vec(&cfg).unwrap();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": put_blob(layout, &cfg_bytes), "size": cfg_bytes.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": diff_id, "size": tar.len()}],
    });
    let mb = serde_json::to_vec(&manifest).unwrap();
    let index_path = layout.join("index.json");
    let mut index: Value = std::fs::read(&index_path)
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or_else(|_| json!({"schemaVersion": 2, "manifests": []}));
    index["manifests"].as_array_mut().unwrap().push(json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": put_blob(layout, &mb), "size": mb.len(),
        "annotations": {"org.opencontainers.image.ref.name": tag},
    }));
    std::fs::write(index_path, serde_json::to_vec(&index).unwrap()).unwrap();
}

/// The fixture as an OCI layout, pushed to the local registry and written as a docker
/// archive; returns the three reports after checking that their catalogs agree.
fn three_ways(cache: &Path, layout: &Path, tag: &str) -> Value {
    let oci = format!("oci:{}:{tag}", layout.display());
    let registry = format!("127.0.0.1:5000/plinth-tests/inspect-{tag}:1");
    let archive = format!(
        "docker-archive:{}:plinth-tests/{tag}:1",
        cache.join(format!("{tag}.tar")).display()
    );
    run_ok(plinth(cache).args(["copy", &oci, &registry]));
    run_ok(plinth(cache).args(["copy", &oci, &archive]));
    let from_layout = inspect(cache, &oci, &[]);
    for other in [&registry, &archive] {
        let r = inspect(cache, other, &[]);
        assert_eq!(catalog(&r), catalog(&from_layout), "{other} vs {oci}");
    }
    from_layout
}

const ALPINE_OS_RELEASE: &str = "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\nHOME_URL=\"https://alpinelinux.org/\"\nBUG_REPORT_URL=\"https://gitlab.alpinelinux.org/alpine/aports/-/issues\"\n";

/// apk-tools' `installed` database (text format: one record per package, blank-line
/// separated, `KEY:value` lines) as Alpine 3.19 writes it for these packages.
const APK_INSTALLED: &str = "C:Q1mWpBkBzVXIBnAuCJIJfHyqtJxQk=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407641
I:667648
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
t:1701172830
c:1fb2a4d3bc1d20e5f3da4d5c4b1a0b64b0ba07d5
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1cQrm1lUmVdu8wLCSn1wzXELYQNs=
R:libc.musl-x86_64.so.1
a:0:0:777
Z:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=

C:Q1kjaYVrVNzJn85RtxaWQLQ9ia4Ng=
P:busybox
V:1.36.1-r15
A:x86_64
S:509557
I:955784
T:Size optimized toolbox of many common UNIX utilities
U:https://busybox.net/
L:GPL-2.0-only
o:busybox
m:Sören Tempel <soeren+alpine@soeren-tempel.net>
t:1700744016
c:bdfbd7ec2db3fb4f6cbe7ba3b00eb8e4bc7f0d6e
D:so:libc.musl-x86_64.so.1
F:bin
R:busybox
a:0:0:755
Z:Q1WUwBY0eOGgzhufBADDAYP9n4EDU=

C:Q1qSkkI5zkbIbPpmfbm0gGxxjNNbk=
P:busybox-binsh
V:1.36.1-r15
A:x86_64
S:1513
I:1
T:busybox ash /bin/sh
U:https://busybox.net/
L:GPL-2.0-only
o:busybox
m:Sören Tempel <soeren+alpine@soeren-tempel.net>
t:1700744016
c:bdfbd7ec2db3fb4f6cbe7ba3b00eb8e4bc7f0d6e
D:busybox=1.36.1-r15
F:bin
R:sh
a:0:0:777
Z:Q1pcfTfDNEbNKQc2s1tia7da05M8Q=

C:Q1e4TLEz3W9qa2DApEUNfcnYQYsr4=
P:apk-tools
V:2.14.0-r5
A:x86_64
S:120973
I:307200
T:Alpine Package Keeper - package manager for alpine
U:https://gitlab.alpinelinux.org/alpine/apk-tools
L:GPL-2.0-only
o:apk-tools
m:Natanael Copa <ncopa@alpinelinux.org>
t:1700073817
c:a1d9a3fb1a20af5d6d2e69f2e5b0e5a8f8b40f4d
F:sbin
R:apk
a:0:0:755
Z:Q1KEqb1TmN2mjZsLTUWY2ZZhaW84E=

C:Q1CpdsbrtaQj0nn0AbeHz8u4w8ZOs=
P:ca-certificates-bundle
V:20230506-r0
A:x86_64
S:126707
I:228864
T:Pre generated bundle of Mozilla certificates
U:https://www.mozilla.org/en-US/about/governance/policies/security-group/certs/
L:MPL-2.0 AND MIT
o:ca-certificates
m:Natanael Copa <ncopa@alpinelinux.org>
t:1683380457
c:59534a02716a92a10d177a118c34066162eff4b6

";

#[test]
fn alpine_fixture_with_a_real_musl() {
    let musl = std::fs::read("/usr/lib/x86_64-linux-musl/libc.so").unwrap_or_else(|e| {
        panic!(
            "Debian's musl package is needed for this fixture ({e}); run `eval \"$(scripts/test-env.sh)\"`"
        )
    });
    let bundle = std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    write_image(
        &layout,
        "alpine",
        &[
            E::Dir("/bin", 0o755),
            E::Dir("/etc", 0o755),
            E::Dir("/lib", 0o755),
            E::Dir("/sbin", 0o755),
            E::Dir("/tmp", 0o1777),
            E::Dir("/usr/bin", 0o755),
            file("/etc/os-release", ALPINE_OS_RELEASE, 0o644),
            file("/etc/alpine-release", "3.19.1\n", 0o644),
            file(
                "/etc/passwd",
                "root:x:0:0:root:/root:/bin/ash\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n",
                0o644,
            ),
            file("/etc/group", "root:x:0:root\nnobody:x:65534:\n", 0o644),
            file("/lib/apk/db/installed", APK_INSTALLED, 0o644),
            file("/lib/ld-musl-x86_64.so.1", musl, 0o755),
            E::Link("/lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1"),
            file("/bin/busybox", b"\x7fELF busybox stand-in".to_vec(), 0o755),
            E::Link("/bin/sh", "/bin/busybox"),
            E::Link("/bin/ash", "/bin/busybox"),
            E::Link("/bin/ls", "/bin/busybox"),
            E::Link("/usr/bin/wget", "/bin/busybox"),
            file("/sbin/apk", b"\x7fELF apk stand-in".to_vec(), 0o755),
            file("/etc/ssl/certs/ca-certificates.crt", bundle.clone(), 0o644),
            E::Link("/etc/ssl/cert.pem", "certs/ca-certificates.crt"),
        ],
        json!({"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["/bin/sh"]}),
    );
    let r = three_ways(dir.path(), &layout, "alpine");
    assert_eq!(r["os"]["id"], "alpine");
    assert_eq!(r["os"]["version_id"], "3.19.1");
    assert_eq!(r["os"]["eol"]["release"], "3.19");
    // Alpine 3.19's support ended 2025-11-01; the tests judge on 2026-01-01.
    assert_eq!(r["os"]["eol"]["status"], "end_of_life");
    assert_eq!(r["os"]["eol"]["eol"], "2025-11-01");
    assert!(finding_ids(&r).contains("os-eol"));
    // The loader's own version string: Debian's musl is 1.2.3.
    let want = host(Proc::new("dpkg-query").args(["-W", "-f", "${Version}", "musl"]));
    assert_eq!(r["libc"]["kind"], "musl");
    assert_eq!(r["libc"]["version"], want.split('-').next().unwrap());
    assert_eq!(r["libc"]["path"], "/lib/ld-musl-x86_64.so.1");
    let pk = packages_of(&r);
    assert_eq!(pk.len(), 5);
    assert!(pk.contains(&(
        "musl".into(),
        "1.2.4_git20230717-r4".into(),
        "x86_64".into()
    )));
    let bb = r["packages"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "busybox-binsh")
        .unwrap();
    assert_eq!(bb["source"], "busybox");
    assert_eq!(bb["license"], "GPL-2.0-only");
    assert_eq!(r["packages"]["databases"][0]["kind"], "apk");
    assert_eq!(r["package_managers"][0]["name"], "apk");
    assert_eq!(r["package_managers"][0]["usable"], true);
    assert_eq!(
        r["tools"]["busybox"]["applets"],
        json!(["ash", "ls", "sh", "wget"])
    );
    let wget = r["tools"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "wget")
        .unwrap();
    assert_eq!(wget["provided_by"], "busybox");
    assert_eq!(
        r["tools"]["ca_bundle"]["certificates"],
        String::from_utf8_lossy(&bundle)
            .matches("BEGIN CERTIFICATE")
            .count()
    );

    // purls for apk packages.
    let purls = purls(
        plinth(dir.path()).env("SOURCE_DATE_EPOCH", "1700000000"),
        &format!("oci:{}:alpine", layout.display()),
    );
    assert!(
        purls.contains("pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.1"),
        "{purls:?}"
    );
    assert!(purls.contains(
        "pkg:apk/alpine/busybox-binsh@1.36.1-r15?arch=x86_64&distro=alpine-3.19.1&upstream=busybox"
    ));
}

#[test]
fn distroless_fixture_from_the_real_dpkg_status() {
    // distroless has no status file: one control stanza per package under status.d (no
    // Status field) and their md5sums beside them. Made here from the minbase tree's own.
    let root = rootfs("minbase");
    let status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap();
    let wanted = [
        "base-files",
        "libc6",
        "libgcc-s1",
        "zlib1g",
        "tzdata",
        "gcc-12-base",
    ];
    let mut entries = vec![
        E::Dir("/etc", 0o755),
        E::Dir("/tmp", 0o1777),
        E::Dir("/var/lib/dpkg/status.d", 0o755),
        file(
            "/etc/os-release",
            "PRETTY_NAME=\"Distroless\"\nNAME=\"Debian GNU/Linux\"\nID=\"debian\"\nVERSION_ID=\"12\"\nVERSION=\"Debian GNU/Linux 12 (bookworm)\"\nHOME_URL=\"https://github.com/GoogleContainerTools/distroless\"\nSUPPORT_URL=\"https://github.com/GoogleContainerTools/distroless/blob/master/README.md\"\nBUG_REPORT_URL=\"https://github.com/GoogleContainerTools/distroless/issues/new\"\n",
            0o644,
        ),
        file(
            "/etc/passwd",
            "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
            0o644,
        ),
        file(
            "/etc/group",
            "root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n",
            0o644,
        ),
        file(
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            std::fs::read(root.join("usr/lib/x86_64-linux-gnu/libc.so.6")).unwrap(),
            0o755,
        ),
        E::Link("/lib64", "usr/lib64"),
        // A world-writable drop directory a careless image might have.
        E::Dir("/srv/drop", 0o777),
    ];
    let mut want = BTreeSet::new();
    for stanza in status.split("\n\n") {
        let name = stanza
            .lines()
            .find_map(|l| l.strip_prefix("Package: "))
            .unwrap_or("");
        if !wanted.contains(&name) {
            continue;
        }
        let control: String = stanza
            .lines()
            .filter(|l| !l.starts_with("Status:"))
            .map(|l| format!("{l}\n"))
            .collect();
        entries.push(file(
            &format!("/var/lib/dpkg/status.d/{name}"),
            control,
            0o644,
        ));
        if let Ok(md5) = std::fs::read(root.join(format!("var/lib/dpkg/info/{name}.md5sums"))) {
            entries.push(file(
                &format!("/var/lib/dpkg/status.d/{name}.md5sums"),
                md5,
                0o644,
            ));
        }
        want.insert(name.to_string());
    }
    assert_eq!(want.len(), wanted.len(), "minbase lacks one of {wanted:?}");
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    write_image(
        &layout,
        "distroless",
        &entries,
        json!({"User": "65532", "Entrypoint": ["/app"]}),
    );
    let r = three_ways(dir.path(), &layout, "distroless");
    assert_eq!(r["os"]["distro"], "distroless");
    assert_eq!(r["os"]["eol"]["release"], "12");
    assert_eq!(r["packages"]["databases"][0]["kind"], "dpkg_status_d");
    let truth: BTreeSet<(String, String, String)> = dpkg_query(&root)
        .into_iter()
        .filter(|(n, _, _)| want.contains(n))
        .collect();
    assert_eq!(packages_of(&r), truth);
    assert_eq!(r["libc"]["kind"], "glibc");
    assert_eq!(r["libc"]["version"], "2.36");
    assert!(r["package_managers"].as_array().unwrap().is_empty());
    assert_eq!(r["config"]["runs_as_root"], false);
    assert_eq!(r["config"]["user_entry"]["name"], "nonroot");
    let ids = finding_ids(&r);
    assert!(!ids.contains("user-root"));
    assert!(
        ids.contains("no-package-manager") && ids.contains("world-writable"),
        "{ids:?}"
    );
    assert_eq!(paths(&r, "world_writable"), ["/srv/drop"]);
    // purls name the Debian release and the source package.
    let spdx: Value = serde_json::from_slice(&run_ok(plinth(dir.path()).args([
        "sbom",
        "--format",
        "spdx-json",
        &format!("oci:{}:distroless", layout.display()),
    ])))
    .unwrap();
    let libc6 = spdx["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "libc6")
        .unwrap();
    let v = truth
        .iter()
        .find(|(n, _, _)| n == "libc6")
        .unwrap()
        .1
        .clone();
    assert_eq!(
        libc6["externalRefs"][0]["referenceLocator"],
        format!("pkg:deb/debian/libc6@{v}?arch=amd64&distro=debian-12&upstream=glibc")
    );
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../inspect/tests/fixtures")
        .join(name)
}

#[test]
fn rpm_fixture_sqlite_read_and_bdb_named() {
    let db = std::fs::read(fixture("rpmdb.sqlite")).unwrap();
    // Ground truth: rpm itself on a copy of the same database.
    let work = tempfile::tempdir().unwrap();
    let dbdir = work.path().join("root/var/lib/rpm");
    std::fs::create_dir_all(&dbdir).unwrap();
    std::fs::write(dbdir.join("rpmdb.sqlite"), &db).unwrap();
    let out = host(Proc::new("rpm").args([
        "--root",
        &work.path().join("root").display().to_string(),
        "--dbpath",
        "/var/lib/rpm",
        "-qa",
        "--qf",
        "%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE} %{ARCH}\n",
    ]));
    let truth: BTreeSet<(String, String, String)> = out
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[0].into(), f[1].into(), f[2].into())
        })
        .collect();
    assert_eq!(truth.len(), 3, "{out}");
    let ubi = "NAME=\"Red Hat Enterprise Linux\"\nVERSION=\"9.3 (Plow)\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.3\"\nPLATFORM_ID=\"platform:el9\"\nPRETTY_NAME=\"Red Hat Enterprise Linux 9.3 (Plow)\"\n";
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    write_image(
        &layout,
        "ubi",
        &[
            E::Dir("/etc", 0o755),
            E::Dir("/tmp", 0o1777),
            file("/etc/os-release", ubi, 0o644),
            file("/var/lib/rpm/rpmdb.sqlite", db.clone(), 0o644),
            file(
                "/usr/bin/microdnf",
                b"\x7fELF microdnf stand-in".to_vec(),
                0o755,
            ),
            file("/usr/bin/rpm", b"\x7fELF rpm stand-in".to_vec(), 0o755),
            file("/usr/bin/passwd", b"\x7fELF".to_vec(), 0o4755),
            file("/usr/bin/busybox", b"\x7fELF".to_vec(), 0o755),
            E::Hard("/usr/bin/sh", "/usr/bin/busybox"),
        ],
        json!({"User": "root"}),
    );
    let r = three_ways(dir.path(), &layout, "ubi");
    assert_eq!(r["os"]["id"], "rhel");
    assert_eq!(r["os"]["eol"]["release"], "9");
    assert_eq!(packages_of(&r), truth);
    let openssl = r["packages"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "plinth-openssl")
        .unwrap();
    assert_eq!(openssl["epoch"], 1);
    assert_eq!(openssl["license"], "Apache-2.0");
    assert_eq!(r["packages"]["databases"][0]["kind"], "rpm_sqlite");
    assert_eq!(r["package_managers"][0]["name"], "microdnf");
    assert_eq!(paths(&r, "setuid"), ["/usr/bin/passwd"]);
    assert_eq!(r["tools"]["busybox"]["applets"], json!(["sh"]));
    assert_eq!(r["config"]["runs_as_root"], true);
    let purls = purls(
        &mut plinth(dir.path()),
        &format!("oci:{}:ubi", layout.display()),
    );
    assert!(
        purls.contains(
            "pkg:rpm/redhat/plinth-openssl@3.0.7-27.el9?arch=x86_64&distro=rhel-9.3&epoch=1"
        ),
        "{purls:?}"
    );

    // An older image: a Berkeley DB `Packages` is found and named, not read.
    let mut bdb = vec![0u8; 4096];
    bdb[12..16].copy_from_slice(&0x0006_1561u32.to_le_bytes());
    write_image(
        &layout,
        "centos7",
        &[
            E::Dir("/etc", 0o755),
            file(
                "/etc/os-release",
                "NAME=\"CentOS Linux\"\nVERSION=\"7 (Core)\"\nID=\"centos\"\nVERSION_ID=\"7\"\n",
                0o644,
            ),
            file("/var/lib/rpm/Packages", bdb, 0o644),
            file("/usr/bin/yum", b"#!/usr/bin/python\n".to_vec(), 0o755),
        ],
        json!({}),
    );
    let old = inspect(
        dir.path(),
        &format!("oci:{}:centos7", layout.display()),
        &[],
    );
    let db0 = &old["packages"]["databases"][0];
    assert_eq!(db0["kind"], "rpm_bdb");
    assert_eq!(db0["read"], false);
    assert!(db0["note"].as_str().unwrap().contains("Berkeley DB"));
    assert!(finding_ids(&old).contains("package-db-unread"));
    assert!(finding_ids(&old).contains("os-eol"));
    assert_eq!(old["package_managers"][0]["usable"], false);
}

#[test]
fn sbom_documents_for_a_real_image() {
    let cache = tempfile::tempdir().unwrap();
    let image = env("PLINTH_IMG_PYTHON");
    let truth = dpkg_query(&rootfs("python"));
    let sbom = |format: &str| -> Value {
        serde_json::from_slice(&run_ok(
            plinth(cache.path())
                .env("SOURCE_DATE_EPOCH", "1700000000")
                .args(["sbom", "--format", format, &image]),
        ))
        .unwrap()
    };
    let spdx = sbom("spdx-json");
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
    assert_eq!(spdx["dataLicense"], "CC0-1.0");
    assert_eq!(spdx["creationInfo"]["created"], "2023-11-14T22:13:20Z");
    let pkgs = spdx["packages"].as_array().unwrap();
    // image + OS + every package.
    assert_eq!(pkgs.len(), truth.len() + 2);
    let ids: BTreeSet<&str> = pkgs.iter().map(|p| p["SPDXID"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), pkgs.len(), "SPDX ids are unique");
    assert!(ids.iter().all(|id| {
        id.starts_with("SPDXRef-")
            && id[8..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    }));
    for p in pkgs {
        for k in ["name", "SPDXID", "downloadLocation", "filesAnalyzed"] {
            assert!(!p[k].is_null(), "{k} missing in {p}");
        }
    }
    let rels = spdx["relationships"].as_array().unwrap();
    assert_eq!(rels.len(), truth.len() + 2);
    assert!(rels.iter().any(|r| r["relationshipType"] == "DESCRIBES"));
    let (_, v, _) = truth
        .iter()
        .find(|(n, _, _)| n == "python3.11-minimal")
        .unwrap();
    let want_purl = format!(
        "pkg:deb/debian/python3.11-minimal@{v}?arch=amd64&distro=debian-12&upstream=python3.11"
    );
    assert!(
        pkgs.iter()
            .any(|p| p["externalRefs"][0]["referenceLocator"] == want_purl.as_str()),
        "{want_purl}"
    );
    assert_eq!(
        sbom("spdx-json"),
        spdx,
        "SOURCE_DATE_EPOCH makes the document reproducible"
    );

    let cdx = sbom("cyclonedx-json");
    assert_eq!(cdx["bomFormat"], "CycloneDX");
    assert_eq!(cdx["specVersion"], "1.5");
    let serial = cdx["serialNumber"].as_str().unwrap();
    assert!(
        serial.starts_with("urn:uuid:") && serial.len() == 45,
        "{serial}"
    );
    assert_eq!(cdx["metadata"]["component"]["type"], "container");
    assert_eq!(
        cdx["metadata"]["component"]["version"],
        env("PLINTH_IMG_PYTHON_DIGEST")
    );
    let comps = cdx["components"].as_array().unwrap();
    assert_eq!(comps.len(), truth.len() + 1);
    assert_eq!(comps[0]["type"], "operating-system");
    let refs: BTreeSet<&str> = comps
        .iter()
        .map(|c| c["bom-ref"].as_str().unwrap())
        .collect();
    assert_eq!(refs.len(), comps.len(), "bom-refs are unique");
    let purl = cdx["metadata"]["component"]["purl"].as_str().unwrap();
    assert!(
        purl.starts_with("pkg:oci/python@sha256%3A")
            && purl.ends_with("?arch=amd64&repository_url=127.0.0.1:5000/library/python"),
        "{purl}"
    );

    // -o writes the file whole.
    let out = cache.path().join("sbom.json");
    run_ok(plinth(cache.path()).args([
        "sbom",
        "--format",
        "cyclonedx-json",
        "-o",
        out.to_str().unwrap(),
        &image,
    ]));
    let written: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(written["components"].as_array().unwrap().len(), comps.len());
}

/// The package URLs of `image`'s CycloneDX SBOM, written by `cmd`.
fn purls(cmd: &mut Command, image: &str) -> BTreeSet<String> {
    let cdx: Value = serde_json::from_slice(&run_ok(cmd.args([
        "sbom",
        "--format",
        "cyclonedx-json",
        image,
    ])))
    .unwrap();
    cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn json_schema_doc_covers_the_report() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/inspect-json.md"),
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let r = inspect(cache.path(), &env("PLINTH_IMG_BUILDPACK"), &[]);
    let mut missing = Vec::new();
    for section in r.as_object().unwrap().keys() {
        if !doc.contains(&format!("`{section}`")) {
            missing.push(section.clone());
        }
        if let Some(obj) = r[section].as_object() {
            for k in obj.keys() {
                if !doc.contains(&format!("`{k}`")) {
                    missing.push(format!("{section}.{k}"));
                }
            }
        }
    }
    for layer_key in r["image"]["layers"][0].as_object().unwrap().keys() {
        if !doc.contains(&format!("`{layer_key}`")) {
            missing.push(format!("image.layers.{layer_key}"));
        }
    }
    for id in finding_ids(&r) {
        if !doc.contains(&format!("`{id}`")) {
            missing.push(format!("finding {id}"));
        }
    }
    assert!(
        missing.is_empty(),
        "docs/inspect-json.md does not document {missing:?}"
    );
}
