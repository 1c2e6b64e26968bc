//! `plinth ls`, `cat` and `export` on the real test images (`eval "$(scripts/test-env.sh)"`):
//! every source kind, whiteouts in a real diff layer, and the exported tar checked file for
//! file against `umoci unpack`.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use assert_cmd::Command;
use plinth_oci::Digest;
use serde_json::Value;

mod common;
use common::{env, run_ok};

fn plinth(cache: &Path) -> Command {
    let mut c = Command::cargo_bin("plinth").unwrap();
    c.env("PLINTH_CACHE_DIR", cache)
        .env("DOCKER_CONFIG", cache.join("docker"))
        .env("XDG_CONFIG_HOME", cache.join("config"))
        .env_remove("PLINTH_REGISTRIES_CONF")
        .arg("--quiet");
    c
}

/// The three names of debian:bookworm-slim: registry, OCI layout, docker archive.
fn slim_sources() -> Vec<String> {
    vec![
        env("PLINTH_IMG_DEBIAN_SLIM"),
        format!(
            "oci:{}:{}",
            env("PLINTH_LAYOUT_DIR"),
            env("PLINTH_IMG_DEBIAN_SLIM_LAYOUT_REF")
        ),
        format!(
            "docker-archive:{}",
            env("PLINTH_DOCKER_ARCHIVE_DEBIAN_SLIM")
        ),
    ]
}

#[test]
fn cat_and_ls_work_on_every_source() {
    let rootfs = Path::new(&env("PLINTH_ROOTFS_DIR")).join("minbase");
    let want_release = std::fs::read(rootfs.join("usr/lib/os-release")).unwrap();
    let mut want_top: Vec<String> = std::fs::read_dir(&rootfs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    want_top.sort();
    for src in slim_sources() {
        let cache = tempfile::tempdir().unwrap();
        // /etc/os-release is a symlink to ../usr/lib/os-release; /lib is a symlink to usr/lib.
        let out = run_ok(plinth(cache.path()).args(["cat", &src, "/etc/os-release"]));
        assert_eq!(out, want_release, "{src}");
        let out = run_ok(plinth(cache.path()).args(["cat", &src, "/lib/os-release"]));
        assert_eq!(out, want_release, "{src}");
        let out = run_ok(plinth(cache.path()).args(["ls", &src]));
        let got: Vec<String> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(got, want_top, "{src}");
    }
}

#[test]
fn ls_long_and_json() {
    let cache = tempfile::tempdir().unwrap();
    let img = env("PLINTH_IMG_PYTHON");
    let out = run_ok(plinth(cache.path()).args(["ls", "-l", &img, "/usr/bin/passwd"]));
    let line = String::from_utf8(out).unwrap();
    assert!(line.starts_with("-rwsr-xr-x"), "{line}");
    assert!(line.trim_end().ends_with("/usr/bin/passwd"), "{line}");

    let out = run_ok(plinth(cache.path()).args(["ls", "--json", &img, "/etc"]));
    let v: Value = serde_json::from_slice(&out).unwrap();
    let os = v
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "/etc/os-release")
        .unwrap();
    assert_eq!(os["kind"], "symlink");
    assert_eq!(os["link"], "../usr/lib/os-release");
    for k in ["mode", "uid", "gid", "size", "mtime", "layer"] {
        assert!(os[k].is_number(), "{k}");
    }
    // The python layer added /usr/bin/python3.11.
    let out = run_ok(plinth(cache.path()).args(["ls", "--json", &img, "/usr/bin/python3.11"]));
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v[0]["layer"], 1);
    assert_eq!(v[0]["kind"], "file");
}

#[test]
fn ls_layer_shows_whiteouts() {
    let cache = tempfile::tempdir().unwrap();
    let img = env("PLINTH_IMG_PYTHON");
    let out = run_ok(plinth(cache.path()).args(["ls", "--layer", "1", "--json", &img, "/var"]));
    let v: Value = serde_json::from_slice(&out).unwrap();
    let whiteouts: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["change"] == "whiteout")
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(
        whiteouts.contains(&"/var/lib/dpkg/status-old"),
        "{whiteouts:?}"
    );
    // The merged view no longer has it, and the base layer does.
    let out = plinth(cache.path())
        .args(["ls", &img, "/var/lib/dpkg/status-old"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let slim = env("PLINTH_IMG_DEBIAN_SLIM");
    run_ok(plinth(cache.path()).args(["ls", &slim, "/var/lib/dpkg/status-old"]));
    let out = plinth(cache.path())
        .args(["ls", "--layer", "7", &img])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn cat_errors_have_exit_codes() {
    let cache = tempfile::tempdir().unwrap();
    let img = env("PLINTH_IMG_DEBIAN_SLIM");
    let out = plinth(cache.path())
        .args(["cat", &img, "/etc"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a directory"));
    let out = plinth(cache.path())
        .args(["cat", &img, "/no/such/file"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[derive(Debug, PartialEq)]
struct Item {
    kind: &'static str,
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    link: Option<String>,
    sha: Option<Digest>,
}

fn walk_rootfs(root: &Path) -> (BTreeMap<String, Item>, Vec<Vec<String>>) {
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let ft = m.file_type();
            use std::os::unix::fs::FileTypeExt;
            let kind = if ft.is_file() {
                "file"
            } else if ft.is_dir() {
                stack.push(p.clone());
                "dir"
            } else if ft.is_symlink() {
                "symlink"
            } else if ft.is_char_device() {
                "char"
            } else if ft.is_block_device() {
                "block"
            } else {
                "fifo"
            };
            let (size, sha) = if kind == "file" {
                if m.nlink() > 1 {
                    inodes.entry(m.ino()).or_default().push(rel.clone());
                }
                (m.len(), Some(Digest::sha256(&std::fs::read(&p).unwrap())))
            } else {
                (0, None)
            };
            let link = (kind == "symlink").then(|| {
                std::fs::read_link(&p)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            });
            out.insert(
                rel,
                Item {
                    kind,
                    mode: m.mode() & 0o7777,
                    uid: m.uid() as u64,
                    gid: m.gid() as u64,
                    size,
                    link,
                    sha,
                },
            );
        }
    }
    let mut groups: Vec<Vec<String>> = inodes
        .into_values()
        .map(|mut v| {
            v.sort();
            v
        })
        .collect();
    groups.sort();
    (out, groups)
}

fn read_tar(path: &Path) -> (BTreeMap<String, Item>, Vec<Vec<String>>) {
    let mut ar = tar::Archive::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut out: BTreeMap<String, Item> = BTreeMap::new();
    let mut links: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let rel = e
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        if rel == "." || rel.is_empty() {
            continue;
        }
        let h = e.header().clone();
        let (mode, uid, gid) = (
            h.mode().unwrap() & 0o7777,
            h.uid().unwrap(),
            h.gid().unwrap(),
        );
        let link = e
            .link_name()
            .unwrap()
            .map(|l| l.to_string_lossy().into_owned());
        let item = match h.entry_type() {
            tar::EntryType::Regular => {
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                Item {
                    kind: "file",
                    mode,
                    uid,
                    gid,
                    size: data.len() as u64,
                    link: None,
                    sha: Some(Digest::sha256(&data)),
                }
            }
            tar::EntryType::Link => {
                let target = link.unwrap();
                let t = &out[&target];
                links.entry(target.clone()).or_default().push(rel.clone());
                Item {
                    kind: "file",
                    mode,
                    uid,
                    gid,
                    size: t.size,
                    link: None,
                    sha: t.sha.clone(),
                }
            }
            tar::EntryType::Directory => Item {
                kind: "dir",
                mode,
                uid,
                gid,
                size: 0,
                link: None,
                sha: None,
            },
            tar::EntryType::Symlink => Item {
                kind: "symlink",
                mode,
                uid,
                gid,
                size: 0,
                link,
                sha: None,
            },
            tar::EntryType::Char => Item {
                kind: "char",
                mode,
                uid,
                gid,
                size: 0,
                link: None,
                sha: None,
            },
            tar::EntryType::Block => Item {
                kind: "block",
                mode,
                uid,
                gid,
                size: 0,
                link: None,
                sha: None,
            },
            tar::EntryType::Fifo => Item {
                kind: "fifo",
                mode,
                uid,
                gid,
                size: 0,
                link: None,
                sha: None,
            },
            other => panic!("{rel}: unexpected entry type {other:?}"),
        };
        assert!(
            out.insert(rel.clone(), item).is_none(),
            "{rel} written twice"
        );
    }
    let mut groups: Vec<Vec<String>> = links
        .into_iter()
        .map(|(t, mut v)| {
            v.push(t);
            v.sort();
            v
        })
        .collect();
    groups.sort();
    (out, groups)
}

#[test]
fn export_matches_umoci_unpack() {
    let layout = env("PLINTH_LAYOUT_DIR");
    let reference = env("PLINTH_IMG_PYTHON_LAYOUT_REF");
    let work = tempfile::tempdir().unwrap();
    let bundle = work.path().join("bundle");
    let st = std::process::Command::new("umoci")
        .args(["unpack", "--image", &format!("{layout}:{reference}")])
        .arg(&bundle)
        .output()
        .expect("umoci is installed by scripts/test-env.sh");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let (disk, disk_links) = walk_rootfs(&bundle.join("rootfs"));

    // From the registry (same image, pushed by the test harness).
    let tar_path = work.path().join("rootfs.tar");
    run_ok(
        plinth(&work.path().join("cache"))
            .args(["export", &env("PLINTH_IMG_PYTHON"), "-o"])
            .arg(&tar_path),
    );
    let (mine, my_links) = read_tar(&tar_path);
    let mut diffs = Vec::new();
    for p in disk.keys().chain(mine.keys()) {
        if disk.get(p) != mine.get(p) {
            diffs.push(format!(
                "{p}: umoci {:?} plinth {:?}",
                disk.get(p),
                mine.get(p)
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differences, first: {:#?}",
        diffs.len(),
        &diffs[..diffs.len().min(20)]
    );
    assert_eq!(disk.len(), mine.len());
    assert!(disk.len() > 5000, "{}", disk.len());
    assert_eq!(disk_links, my_links, "hard link groups");
    // No temp file left beside the output.
    let names: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.to_string_lossy().starts_with(".plinth-export")),
        "{names:?}"
    );
}
