//! `plinth compare` and `plinth diff` against the real Debian-built test images
//! (`eval "$(scripts/test-env.sh)"`): compare rows agree with each image's inspect report,
//! package diffs with `dpkg-query` on both rootfs trees, file diffs with the trees themselves
//! (type, mode, owner, size, SHA-256), and the HTML report is rendered in headless Chromium and
//! checked in its DOM.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command as Proc;

use serde_json::Value;
use sha2::{Digest as _, Sha256};

mod common;
use common::{dpkg_query, env, plinth, rootfs, run_ok};

fn json_of(out: Vec<u8>) -> Value {
    serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out)))
}

fn row<'a>(cmp: &'a Value, id: &str) -> &'a Vec<Value> {
    cmp["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no row {id}"))["values"]
        .as_array()
        .unwrap()
}

#[test]
fn compare_rows_are_the_inspect_facts_of_each_image_from_every_source() {
    let cache = tempfile::tempdir().unwrap();
    let layout = env("PLINTH_LAYOUT_DIR");
    let images = [
        env("PLINTH_IMG_DEBIAN_SLIM"),
        env("PLINTH_IMG_PYTHON"),
        env("PLINTH_IMG_BUILDPACK"),
        format!("oci:{layout}:{}", env("PLINTH_IMG_PYTHON_LAYOUT_REF")),
        format!(
            "docker-archive:{}",
            env("PLINTH_DOCKER_ARCHIVE_DEBIAN_SLIM")
        ),
    ];
    let cmp = json_of(run_ok(
        plinth(cache.path())
            .args(["compare", "--json", "--as-of", "2026-01-01"])
            .args(&images),
    ));
    assert_eq!(cmp["schema_version"], 1);
    assert_eq!(cmp["images"].as_array().unwrap().len(), 5);
    for (i, image) in images.iter().enumerate() {
        let report = json_of(run_ok(plinth(cache.path()).args([
            "inspect",
            "--json",
            "--as-of",
            "2026-01-01",
            image,
        ])));
        let at = |id: &str| row(&cmp, id)[i].clone();
        assert_eq!(
            at("compressed_size"),
            report["image"]["compressed_size"],
            "{image}"
        );
        assert_eq!(
            at("uncompressed_size"),
            report["image"]["uncompressed_size"]
        );
        assert_eq!(
            at("layers"),
            report["image"]["layers"].as_array().unwrap().len()
        );
        assert_eq!(at("packages"), report["packages"]["count"]);
        assert_eq!(at("os"), report["os"]["pretty_name"]);
        assert_eq!(
            at("setuid"),
            report["permissions"]["setuid"].as_array().unwrap().len()
        );
        let names = |group: &str| -> Vec<Value> {
            report["tools"][group]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].clone())
                .collect()
        };
        assert_eq!(at("shells").as_array().unwrap(), &names("shells"));
        assert_eq!(at("tools").as_array().unwrap(), &names("tools"));
    }
    // Ground truth for the package counts: dpkg-query on the trees the images were made from.
    let packages = row(&cmp, "packages");
    assert_eq!(packages[0], dpkg_query(&rootfs("minbase")).len());
    assert_eq!(packages[1], dpkg_query(&rootfs("python")).len());
    assert_eq!(packages[2], dpkg_query(&rootfs("buildpack")).len());
    // The same image from the registry and from its OCI layout gives the same facts.
    for r in cmp["rows"].as_array().unwrap() {
        assert_eq!(r["values"][1], r["values"][3], "row {}", r["id"]);
        // A docker archive keeps layers as plain tars: only the compressed size differs.
        if r["id"] != "compressed_size" {
            assert_eq!(r["values"][0], r["values"][4], "row {}", r["id"]);
        }
    }
    // Every image shares its minbase layer with the first; libc is the same glibc.
    assert_eq!(row(&cmp, "shared_layers")[..3], [1, 1, 1]);
    let libc = row(&cmp, "libc");
    assert!(
        libc[0].as_str().unwrap().starts_with("glibc 2.36"),
        "{libc:?}"
    );
    let differs = |id: &str| {
        cmp["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()["differs"]
            .as_bool()
            .unwrap()
    };
    assert!(differs("compressed_size") && differs("toolchain"));
    assert!(!differs("libc") && !differs("os"));
    // Every row is documented.
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/compare-json.md"),
    )
    .unwrap();
    for r in cmp["rows"].as_array().unwrap() {
        assert!(
            doc.contains(&format!("| `{}` |", r["id"].as_str().unwrap())),
            "{}",
            r["id"]
        );
    }
    // Only buildpack-deps has a compiler and git.
    let toolchain = row(&cmp, "toolchain");
    assert_eq!(toolchain[0], Value::Array(vec![]));
    assert!(toolchain[2].as_array().unwrap().contains(&"gcc".into()));
}

#[test]
fn compare_text_marks_the_rows_that_differ() {
    let cache = tempfile::tempdir().unwrap();
    let out = run_ok(plinth(cache.path()).args([
        "compare",
        &env("PLINTH_IMG_DEBIAN_SLIM"),
        &env("PLINTH_IMG_BUILDPACK"),
    ]));
    let text = String::from_utf8(out).unwrap();
    let line = |label: &str| {
        text.lines()
            .find(|l| l.trim_start_matches(['*', ' ']).starts_with(label))
            .unwrap_or_else(|| panic!("no {label:?} line in\n{text}"))
            .to_string()
    };
    assert!(line("compiler toolchain").starts_with('*'), "{text}");
    assert!(line("libc").starts_with(' '), "{text}");
    assert!(line("libc").contains("glibc 2.36"));
    assert!(text.contains("2 images; "), "{text}");
    // Fewer than two images is a usage error.
    let one = plinth(cache.path())
        .args(["compare", &env("PLINTH_IMG_DEBIAN_SLIM")])
        .output()
        .unwrap();
    assert_eq!(one.status.code(), Some(2));
}

/// `(kind, mode, uid, gid, size, sha256 or link)` of every path below `dir` in a host tree,
/// keyed by its path in the image.
fn tree(root: &Path, dir: &str) -> BTreeMap<String, (char, u32, u32, u32, u64, String)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.join(dir.trim_start_matches('/'))];
    while let Some(p) = stack.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        let rel = format!("/{}", p.strip_prefix(root).unwrap().display());
        let ft = m.file_type();
        let (kind, size, what) = if ft.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
            ('d', 0, String::new())
        } else if ft.is_symlink() {
            (
                'l',
                0,
                std::fs::read_link(&p).unwrap().display().to_string(),
            )
        } else if ft.is_file() {
            let bytes = std::fs::read(&p).unwrap();
            (
                '-',
                m.len(),
                format!("sha256:{}", hex::encode(Sha256::digest(&bytes))),
            )
        } else {
            ('?', 0, String::new())
        };
        out.insert(
            rel,
            (
                kind,
                m.permissions().mode() & 0o7777,
                m.uid(),
                m.gid(),
                size,
                what,
            ),
        );
    }
    out
}

#[test]
fn diff_packages_agree_with_dpkg_query_on_both_rootfs() {
    let cache = tempfile::tempdir().unwrap();
    let d = json_of(run_ok(plinth(cache.path()).args([
        "diff",
        "--json",
        &env("PLINTH_IMG_DEBIAN_SLIM"),
        &env("PLINTH_IMG_BUILDPACK"),
    ])));
    let (a, b) = (
        dpkg_query(&rootfs("minbase")),
        dpkg_query(&rootfs("buildpack")),
    );
    let names = |s: &BTreeSet<(String, String, String)>| -> BTreeMap<String, String> {
        s.iter().map(|(n, v, _)| (n.clone(), v.clone())).collect()
    };
    let (na, nb) = (names(&a), names(&b));
    let mut expected: BTreeMap<String, (String, Option<String>, Option<String>)> = BTreeMap::new();
    for (n, v) in &nb {
        match na.get(n) {
            None => {
                expected.insert(n.clone(), ("added".into(), None, Some(v.clone())));
            }
            Some(old) if old != v => {
                expected.insert(
                    n.clone(),
                    ("upgraded".into(), Some(old.clone()), Some(v.clone())),
                );
            }
            _ => {}
        }
    }
    for (n, v) in &na {
        if !nb.contains_key(n) {
            expected.insert(n.clone(), ("removed".into(), Some(v.clone()), None));
        }
    }
    let got: BTreeMap<String, (String, Option<String>, Option<String>)> = d["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                (
                    p["change"].as_str().unwrap().to_string(),
                    p["old"].as_str().map(str::to_string),
                    p["new"].as_str().map(str::to_string),
                ),
            )
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(got, expected);
    assert_eq!(d["shared_layers"], 1);
    assert_eq!(d["size"]["shared"].as_array().unwrap().len(), 1);
    assert_eq!(d["size"]["b_layers"].as_array().unwrap().len(), 2);
    assert!(d["differs"].as_bool().unwrap());
    // Config changes are exactly what the two configs say.
    let config = |image: &str| json_of(run_ok(plinth(cache.path()).args(["config", image])));
    let (ca, cb) = (
        config(&env("PLINTH_IMG_DEBIAN_SLIM"))["config"].clone(),
        config(&env("PLINTH_IMG_BUILDPACK"))["config"].clone(),
    );
    let change = |field: &str| {
        d["config"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["field"] == field && c["key"].is_null())
            .cloned()
    };
    for (field, key) in [("cmd", "Cmd"), ("entrypoint", "Entrypoint")] {
        let shown = |v: &Value| (!v.is_null()).then(|| Value::String(v.to_string()));
        match change(field) {
            None => assert_eq!(ca[key], cb[key], "{field}"),
            Some(c) => {
                assert_eq!(
                    Some(c["old"].clone()).filter(|v| !v.is_null()),
                    shown(&ca[key])
                );
                assert_eq!(
                    Some(c["new"].clone()).filter(|v| !v.is_null()),
                    shown(&cb[key])
                );
            }
        }
    }
    let env_of = |c: &Value| -> BTreeSet<String> {
        c["Env"]
            .as_array()
            .map(|v| v.iter().map(|e| e.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    let env_changes = d["config"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["field"] == "env")
        .count();
    assert_eq!(env_changes == 0, env_of(&ca) == env_of(&cb));
}

#[test]
fn diff_files_agree_with_the_two_trees() {
    let cache = tempfile::tempdir().unwrap();
    for dir in ["/etc", "/usr/bin"] {
        let d = json_of(run_ok(plinth(cache.path()).args([
            "diff",
            "--json",
            &format!("--files={dir}"),
            &env("PLINTH_IMG_PYTHON"),
            &env("PLINTH_IMG_BUILDPACK"),
        ])));
        let (ta, tb) = (
            tree(&rootfs("python"), dir),
            tree(&rootfs("buildpack"), dir),
        );
        let mut expected: BTreeMap<String, String> = BTreeMap::new();
        for (p, x) in &ta {
            match tb.get(p) {
                None => {
                    expected.insert(p.clone(), "removed".into());
                }
                Some(y) if x != y => {
                    expected.insert(p.clone(), "changed".into());
                }
                _ => {}
            }
        }
        for p in tb.keys() {
            if !ta.contains_key(p) {
                expected.insert(p.clone(), "added".into());
            }
        }
        let files = &d["files"];
        let got: BTreeMap<String, String> = files["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["path"].as_str().unwrap().to_string(),
                    c["change"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(!expected.is_empty(), "{dir}");
        assert_eq!(got, expected, "{dir}");
        assert_eq!(files["prefix"], dir);
        // A changed file whose size stayed the same was told apart by its content hash.
        for c in files["changes"].as_array().unwrap() {
            if c["change"] == "changed"
                && c["a"]["size"] == c["b"]["size"]
                && c["a"]["kind"] == "file"
            {
                assert!(
                    c["what"].as_array().unwrap().contains(&"content".into()),
                    "{c}"
                );
                assert_ne!(c["a"]["sha256"], c["b"]["sha256"]);
                let p = c["path"].as_str().unwrap();
                assert_eq!(c["b"]["sha256"].as_str().unwrap(), tb[p].5);
            }
        }
    }
}

#[test]
fn diff_of_one_file_exit_codes_and_identical_images() {
    let cache = tempfile::tempdir().unwrap();
    let (a, b) = (env("PLINTH_IMG_DEBIAN_SLIM"), env("PLINTH_IMG_BUILDPACK"));
    let out = run_ok(plinth(cache.path()).args(["diff", "--file", "/var/lib/dpkg/status", &a, &b]));
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with("--- a/var/lib/dpkg/status\n+++ b/var/lib/dpkg/status\n"),
        "{text}"
    );
    assert!(text.contains("\n+Package: build-essential\n"), "{text}");
    // The unified diff applies: patch turns A's file into B's.
    let work = tempfile::tempdir().unwrap();
    let status = work.path().join("status");
    std::fs::copy(rootfs("minbase").join("var/lib/dpkg/status"), &status).unwrap();
    let mut patch = Proc::new("patch")
        .arg(&status)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("patch(1)");
    use std::io::Write;
    patch
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    assert!(patch.wait().unwrap().success());
    assert_eq!(
        std::fs::read(&status).unwrap(),
        std::fs::read(rootfs("buildpack").join("var/lib/dpkg/status")).unwrap()
    );

    // --exit-code: 1 when they differ, 0 when they do not; without it, 0 either way.
    let code = |args: &[&str]| {
        plinth(cache.path())
            .arg("diff")
            .args(args)
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(code(&["--exit-code", &a, &b]), Some(1));
    assert_eq!(code(&[&a, &b]), Some(0));
    assert_eq!(code(&["--exit-code", &a, &a]), Some(0));
    let same = String::from_utf8(run_ok(plinth(cache.path()).args(["diff", &a, &a]))).unwrap();
    assert!(same.contains("The images do not differ."), "{same}");
    assert_eq!(code(&["--file", "/no/such/file", &a, &b]), Some(3));
}

#[test]
fn diff_and_compare_stream_each_shared_layer_once() {
    // Copies of the images under fresh repository names, so the registry's access log tells
    // exactly which blobs this test fetched.
    let cache = tempfile::tempdir().unwrap();
    let ns = common::unique("shared");
    let reg = env("PLINTH_TEST_REGISTRY");
    let (py, bp) = (
        format!("{reg}/{ns}/python:1"),
        format!("{reg}/{ns}/buildpack:1"),
    );
    run_ok(plinth(cache.path()).args(["copy", &env("PLINTH_IMG_PYTHON"), &py]));
    run_ok(plinth(cache.path()).args(["copy", &env("PLINTH_IMG_BUILDPACK"), &bp]));
    let log = Path::new(&env("PLINTH_TEST_STATE")).join("open/registry.log");
    let gets = |digest: &str| {
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .filter(|l| {
                l.contains(&format!("GET /v2/{ns}/")) && l.contains(digest) && l.contains("\" 200 ")
            })
            .count()
    };
    for cmd in [&["diff", "--json"][..], &["compare", "--json"][..]] {
        let fresh = tempfile::tempdir().unwrap();
        let out = json_of(run_ok(plinth(fresh.path()).args(cmd).args([&py, &bp])));
        if cmd[0] == "diff" {
            assert_eq!(out["shared_layers"], 2);
        }
    }
    // Two commands, each with a cold store: each layer blob was fetched once per command,
    // the two shared ones included (not once per image).
    let manifest = json_of(run_ok(plinth(cache.path()).args(["manifest", &bp])));
    let layers: Vec<String> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(layers.len(), 3);
    for (i, l) in layers.iter().enumerate() {
        assert_eq!(gets(l), 2, "layer {i} ({l}) fetched once per command");
    }
}

/// Chromium, headless, as root in a sandbox without a session bus or network.
fn chromium(args: &[&str], profile: &Path) -> std::process::Output {
    let out = Proc::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium (Debian package chromium, installed by scripts/test-env.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The values of `attr="…"` in the order they appear after each occurrence of `anchor`.
fn attrs_after<'a>(dom: &'a str, anchor: &str, attr: &str) -> Vec<&'a str> {
    dom.match_indices(anchor)
        .filter_map(|(i, _)| {
            let rest = &dom[i..];
            let end = rest.find('>')?;
            let tag = &rest[..end];
            let at = tag.find(&format!("{attr}=\""))? + attr.len() + 2;
            Some(&tag[at..at + tag[at..].find('"')?])
        })
        .collect()
}

#[test]
fn the_html_report_renders_in_chromium_with_the_right_numbers() {
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let html = work.path().join("report.html");
    let images = [
        env("PLINTH_IMG_DEBIAN_SLIM"),
        env("PLINTH_IMG_PYTHON"),
        env("PLINTH_IMG_BUILDPACK"),
    ];
    let cmp = json_of(run_ok(
        plinth(cache.path())
            .args(["compare", "--json", "--html"])
            .arg(&html)
            .args(&images),
    ));
    let page = std::fs::read_to_string(&html).unwrap();
    // Self-contained: nothing to fetch when it is opened.
    for needle in ["<script", "src=\"http", "href=\"http", "@import", "url("] {
        assert!(!page.contains(needle), "the report refers to {needle}");
    }
    let url = format!("file://{}", html.display());
    let profile = work.path().join("profile");
    let dom = String::from_utf8(chromium(&["--dump-dom", &url], &profile).stdout).unwrap();
    assert!(dom.contains("<table id=\"facts\">"), "{dom}");
    // The rendered table has the comparison's numbers, per image.
    for id in ["compressed_size", "packages", "layers"] {
        let start = dom.find(&format!("data-row=\"{id}\"")).unwrap();
        let end = start + dom[start..].find("</tr>").unwrap();
        let cells = attrs_after(&dom[start..end], "<td", "data-value");
        let want: Vec<String> = row(&cmp, id).iter().map(|v| v.to_string()).collect();
        assert_eq!(cells, want, "row {id}");
    }
    // One bar per image in each chart, one segment per layer, each sized by its layer.
    assert!(dom.contains("<svg id=\"layers-chart\""));
    let chart = &dom[dom.find("<svg id=\"layers-chart\"").unwrap()..];
    let chart = &chart[..chart.find("</svg>").unwrap()];
    let totals = attrs_after(chart, "<g class=\"bar\"", "data-bytes");
    let want: Vec<String> = row(&cmp, "compressed_size")
        .iter()
        .map(|v| v.to_string())
        .collect();
    assert_eq!(totals, want);
    let segments = attrs_after(chart, "<rect", "data-layer");
    assert_eq!(segments, ["0", "0", "1", "0", "1", "2"]);
    let own = chart.matches("class=\"layer own\"").count();
    // python's two layers are both in buildpack-deps too: only buildpack-deps' top layer is
    // its own.
    assert_eq!(own, 1);
    for id in ["packages-chart", "package-size-chart"] {
        assert!(dom.contains(&format!("<svg id=\"{id}\"")), "{id}");
    }
    let counts = attrs_after(
        &dom[dom.find("<svg id=\"packages-chart\"").unwrap()..],
        "<g class=\"bar\"",
        "data-bytes",
    );
    let want: Vec<String> = row(&cmp, "packages")
        .iter()
        .map(|v| v.to_string())
        .collect();
    assert_eq!(counts[..3], want[..]);
    // And it paints: a real PNG screenshot of the page.
    let png = work.path().join("report.png");
    chromium(
        &[&format!("--screenshot={}", png.display()), &url],
        &profile,
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 20_000,
        "{}",
        bytes.len()
    );
}

#[test]
fn the_diff_html_report_lists_the_package_changes() {
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let html = work.path().join("diff.html");
    let d = json_of(run_ok(
        plinth(cache.path())
            .args(["diff", "--json", "--files=/etc", "--html"])
            .arg(&html)
            .args([env("PLINTH_IMG_DEBIAN_SLIM"), env("PLINTH_IMG_BUILDPACK")]),
    ));
    let url = format!("file://{}", html.display());
    let dom =
        String::from_utf8(chromium(&["--dump-dom", &url], &work.path().join("p")).stdout).unwrap();
    let added = d["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["change"] == "added")
        .count();
    assert_eq!(
        attrs_after(&dom, "<p id=\"package-counts\"", "data-added"),
        [added.to_string()]
    );
    assert_eq!(
        dom.matches("<tr data-package=").count(),
        d["packages"].as_array().unwrap().len()
    );
    assert_eq!(
        attrs_after(&dom, "<p id=\"file-counts\"", "data-changed"),
        [d["files"]["changed"].to_string()]
    );
}
