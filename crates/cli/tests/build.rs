//! `plinth build` and `plinth rebase` against the real test registry, checked by other tools:
//! `oci-image-tool validate`, `skopeo`, `umoci unpack` + `runc run`, and `buildah bud` for the
//! Dockerfile executor. Needs the test environment: `eval "$(scripts/test-env.sh)"`.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

mod common;
use common::{env, json, unique};

fn registry() -> String {
    env("PLINTH_TEST_REGISTRY")
}

struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        World {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn plinth(&self) -> Command {
        let mut c = Command::cargo_bin("plinth").unwrap();
        c.env("PLINTH_CACHE_DIR", self.path("cache"))
            .env("DOCKER_CONFIG", env("PLINTH_TEST_DOCKER_CONFIG"))
            .env_remove("SOURCE_DATE_EPOCH")
            .current_dir(self.dir.path());
        c
    }
}

fn run(mut c: Command) -> (bool, String, String) {
    let out = c.output().expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(c: Command) -> String {
    let dbg = format!("{c:?}");
    let (success, out, err) = run(c);
    assert!(success, "{dbg} failed:\n{out}\n{err}");
    out
}

fn tool(name: &str, args: &[&str]) -> String {
    let mut c = Command::new(name);
    c.args(args);
    let (success, out, err) = run(c);
    assert!(
        success,
        "{name} {args:?} failed (is it installed? scripts/test-env.sh installs it):\n{out}\n{err}"
    );
    out
}

/// A static and a dynamic hello binary, compiled here with gcc.
fn hello_binaries(w: &World) -> (PathBuf, PathBuf) {
    let src = w.path("hello.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\nint main(void){puts(\"hello from scratch\");return 0;}\n",
    )
    .unwrap();
    let st = w.path("hello-static");
    let dy = w.path("hello-dyn");
    tool(
        "gcc",
        &[
            "-static",
            "-O2",
            "-o",
            st.to_str().unwrap(),
            src.to_str().unwrap(),
        ],
    );
    tool(
        "gcc",
        &["-O2", "-o", dy.to_str().unwrap(), src.to_str().unwrap()],
    );
    (st, dy)
}

/// Copies a registry image to `layout:tag` with skopeo.
fn skopeo_to_layout(reference: &str, layout: &Path, tag: &str) {
    tool(
        "skopeo",
        &[
            "--insecure-policy",
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            &format!("docker://{reference}"),
            &format!("oci:{}:{tag}", layout.display()),
        ],
    );
}

/// Unpacks `layout:tag` into the runtime bundle `dest` with umoci.
fn umoci_unpack(layout: &Path, tag: &str, dest: &Path) {
    tool(
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{}:{tag}", layout.display()),
            dest.to_str().unwrap(),
        ],
    );
}

/// Unpacks `oci:DIR:TAG` with umoci and runs it with runc (`args` replace the process args
/// when given); returns stdout.
fn runc(w: &World, layout: &Path, tag: &str, args: Option<&[&str]>) -> String {
    let bundle = w.path(&unique("bundle"));
    umoci_unpack(layout, tag, &bundle);
    let cfg_path = bundle.join("config.json");
    let mut cfg: Value = serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    // runc in this sandbox cannot set rlimits or cgroups.
    cfg["process"].as_object_mut().unwrap().remove("rlimits");
    cfg["process"]["terminal"] = Value::Bool(false);
    let linux = cfg["linux"].as_object_mut().unwrap();
    linux.remove("resources");
    linux.remove("cgroupsPath");
    if let Some(a) = args {
        cfg["process"]["args"] = serde_json::json!(a);
    }
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let mut c = Command::new("runc");
    c.args(["run", &unique("plinth-builder")])
        .current_dir(&bundle);
    let out = ok(c);
    let _ = std::fs::remove_dir_all(&bundle);
    out
}

fn validate(layout: &Path, tag: &str) {
    tool(
        "oci-image-tool",
        &[
            "validate",
            "--type",
            "image",
            "--ref",
            &format!("name={tag}"),
            layout.to_str().unwrap(),
        ],
    );
}

#[test]
fn scratch_static_binary_runs_and_dynamic_is_refused() {
    let w = World::new();
    let (st, dy) = hello_binaries(&w);
    let layout = w.path("out");
    let dest = format!("oci:{}:hello", layout.display());
    let mut c = w.plinth();
    c.args(["build", "--from", "scratch", "--add"])
        .arg(format!("{}:/hello", st.display()))
        .args(["--entrypoint", "/hello", "-t", &dest]);
    let digest = ok(c);
    assert!(digest.trim().starts_with("sha256:"));
    validate(&layout, "hello");
    let inspect = json(&tool(
        "skopeo",
        &["inspect", &format!("oci:{}:hello", layout.display())],
    ));
    assert_eq!(inspect["Architecture"], "amd64");
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 1);
    assert_eq!(
        runc(&w, &layout, "hello", None).trim(),
        "hello from scratch"
    );

    // A dynamic binary on scratch: refused, naming the loader and libc.
    let mut c = w.plinth();
    c.args(["build", "--from", "scratch", "--add"])
        .arg(format!("{}:/hello", dy.display()))
        .args([
            "--entrypoint",
            "/hello",
            "-t",
            &format!("oci:{}:dyn", layout.display()),
        ]);
    let (success, _, err) = run(c);
    assert!(!success);
    assert!(err.contains("/hello is dynamically linked"), "{err}");
    assert!(err.contains("/lib64/ld-linux-x86-64.so.2"), "{err}");
    assert!(err.contains("libc.so.6"), "{err}");
    assert!(err.contains("--allow-dynamic"), "{err}");

    // --with passwd and a named user: no warning, and the files are there.
    let mut c = w.plinth();
    c.args(["build", "--from", "scratch", "--add"])
        .arg(format!("{}:/hello", st.display()))
        .args([
            "--user",
            "app",
            "--with",
            "passwd",
            "--entrypoint",
            "/hello",
        ])
        .args(["-t", &format!("oci:{}:user", layout.display())]);
    let (success, _, err) = run(c);
    assert!(success, "{err}");
    assert!(!err.contains("warning"), "{err}");
    assert_eq!(runc(&w, &layout, "user", None).trim(), "hello from scratch");
    // Without it, a warning.
    let mut c = w.plinth();
    c.args(["build", "--from", "scratch", "--add"])
        .arg(format!("{}:/hello", st.display()))
        .args([
            "--user",
            "app",
            "-t",
            &format!("oci:{}:nouser", layout.display()),
        ]);
    let (success, _, err) = run(c);
    assert!(success, "{err}");
    assert!(err.contains("no /etc/passwd"), "{err}");
}

#[test]
fn debian_base_runs_sh_and_the_second_push_uploads_nothing() {
    let w = World::new();
    let site = w.path("site");
    std::fs::create_dir_all(site.join("css")).unwrap();
    std::fs::write(site.join("index.html"), "<h1>hi</h1>\n").unwrap();
    std::fs::write(site.join("css/a.css"), "body{}\n").unwrap();
    let base = format!("{}/library/debian:bookworm-slim", registry());
    let dest = format!("{}/itest/{}:1", registry(), unique("build-deb"));
    let build = |dest: &str| {
        let mut c = w.plinth();
        c.args(["build", "--json", "--from", &base, "--add"])
            .arg(format!("{}:/srv/site", site.display()))
            .args([
                "--workdir",
                "/srv",
                "--env",
                "GREETING=hello",
                "--label",
                "a=b",
            ])
            .args([
                "--expose",
                "8080",
                "--cmd",
                "/bin/sh -c 'echo $GREETING from debian'",
            ])
            .args(["-t", dest]);
        json(&ok(c))
    };
    let first = build(&dest);
    assert_eq!(first["mounted"], 1, "{first}"); // the base layer, cross-repository
    assert_eq!(first["uploaded"], 2, "{first}"); // our layer and the config
    assert_eq!(first["cached_layers"], 0, "{first}");
    let second = build(&dest);
    assert_eq!(second["uploaded"], 0, "{second}");
    assert_eq!(second["digest"], first["digest"]);
    // Unchanged inputs: the layer comes from the layer cache, not compressed again.
    assert_eq!(second["cached_layers"], 1, "{second}");
    // A base named as on Docker Hub and read through a mirror on the destination's registry is
    // mounted from the mirror's repository, never downloaded and uploaded.
    let conf = w.path("registries.toml");
    std::fs::write(
        &conf,
        format!(
            "[[registry]]\nprefix = \"docker.io\"\n[[registry.mirror]]\nlocation = \"{}\"\n",
            registry()
        ),
    )
    .unwrap();
    let mut c = w.plinth();
    c.arg("--registries-conf")
        .arg(&conf)
        .args(["build", "--json", "--from", "debian:bookworm-slim", "--add"])
        .arg(format!("{}:/srv/site", site.display()))
        .args([
            "-t",
            &format!("{}/itest/{}:1", registry(), unique("build-mirror")),
        ]);
    let mirrored = json(&ok(c));
    assert_eq!(
        (mirrored["mounted"].as_u64(), mirrored["uploaded"].as_u64()),
        (Some(1), Some(2)),
        "{mirrored}"
    );
    // A changed file is compressed again; the other tag's image is untouched.
    std::fs::write(site.join("css/a.css"), "body{color:red}\n").unwrap();
    let changed = build(&format!("{dest}-changed"));
    assert_eq!(changed["cached_layers"], 0, "{changed}");
    assert_eq!(changed["uploaded"], 2, "{changed}");
    assert_ne!(changed["digest"], first["digest"]);

    // The base annotations: the name without digest, the platform manifest's digest.
    let raw = json(&tool(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{dest}"),
        ],
    ));
    assert_eq!(
        raw["annotations"]["org.opencontainers.image.base.name"],
        base.as_str()
    );
    assert_eq!(
        raw["annotations"]["org.opencontainers.image.base.digest"],
        env("PLINTH_IMG_DEBIAN_SLIM_DIGEST")
    );
    let inspect = json(&tool(
        "skopeo",
        &["inspect", "--tls-verify=false", &format!("docker://{dest}")],
    ));
    assert_eq!(inspect["Labels"]["a"], "b");

    // skopeo copies it to a layout; it validates and runs the base's shell.
    let layout = w.path("deb");
    skopeo_to_layout(&dest, &layout, "app");
    validate(&layout, "app");
    let out = runc(&w, &layout, "app", None);
    assert_eq!(out.trim(), "hello from debian");
    let out = runc(
        &w,
        &layout,
        "app",
        Some(&["/bin/sh", "-c", "cat /srv/site/index.html; pwd"]),
    );
    assert_eq!(out, "<h1>hi</h1>\n/srv\n");

    // docker-archive output: skopeo reads it.
    let archive = w.path("app.tar");
    let mut c = w.plinth();
    c.args(["build", "-q", "--from", &base, "--add"])
        .arg(format!("{}:/srv/site", site.display()))
        .args(["-t", &format!("docker-archive:{}:app:1", archive.display())]);
    ok(c);
    let inspect = json(&tool(
        "skopeo",
        &["inspect", &format!("docker-archive:{}", archive.display())],
    ));
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 2);
}

fn write(p: &Path, s: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, s).unwrap();
}

/// A COPY-only build context exercising .dockerignore, --chown, --chmod, ADD of a tar, source
/// symlinks, WORKDIR, and every config instruction.
fn context(dir: &Path) {
    write(&dir.join("app/main.py"), "print('hi')\n");
    write(&dir.join("app/sub/data.txt"), "data\n");
    std::fs::set_permissions(
        dir.join("app/sub/data.txt"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    write(&dir.join("docs/a.md"), "a\n");
    write(&dir.join("docs/keep.md"), "keep\n");
    write(&dir.join("ignored/x"), "x\n");
    write(&dir.join("junk.tmp"), "tmp\n");
    // Source symlinks are followed (to a file and to a directory), as buildah and BuildKit do.
    std::os::unix::fs::symlink("app/main.py", dir.join("main-link")).unwrap();
    std::os::unix::fs::symlink("app", dir.join("app-link")).unwrap();
    write(
        &dir.join(".dockerignore"),
        "# comment\nignored\ndocs\n!docs/keep.md\n**/*.tmp\n",
    );
    let tgz = dir.join("bundle.tgz");
    tool(
        "tar",
        &[
            "czf",
            tgz.to_str().unwrap(),
            "--owner=0",
            "--group=0",
            "-C",
            dir.join("app").to_str().unwrap(),
            ".",
        ],
    );
    write(
        &dir.join("Dockerfile"),
        &format!(
            r#"ARG BASE={}/library/debian:bookworm-slim
FROM ${{BASE}} AS base
ENV APP_HOME=/opt/app
WORKDIR $APP_HOME
COPY --chown=1000:1000 app/ ./
COPY docs /docs/
ADD bundle.tgz /extracted/
COPY --chmod=755 app/main.py /usr/local/bin/main
COPY main-link /usr/local/bin/
COPY app-link /linked-app/
LABEL version="1.0" description="a test"
USER 1000:1000
EXPOSE 8080 9000/udp
VOLUME /data
STOPSIGNAL SIGTERM
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo hello from dockerfile"]

FROM scratch AS files
COPY --from=base /opt/app /app
COPY --from=base /etc/debian_version /etc/
"#,
            registry()
        ),
    );
}

/// path → (kind, mode, uid, gid, content digest or link target), of an unpacked rootfs.
/// Builds `ctx/Dockerfile` with `buildah bud` (vfs storage, chroot isolation: no daemon, no
/// privileges beyond root; `bud_args` added), pushes it to an OCI layout as `tag`, and unpacks
/// it and plinth's `layout:tag` with umoci. Returns plinth's rootfs, buildah's rootfs and
/// buildah's layout.
fn buildah_twin(
    w: &World,
    ctx: &Path,
    layout: &Path,
    tag: &str,
    bud_args: &[&str],
) -> (PathBuf, PathBuf, PathBuf) {
    let storage = w.path("buildah");
    let (root, run) = (storage.join("root"), storage.join("run"));
    let bstore = [
        "--root",
        root.to_str().unwrap(),
        "--runroot",
        run.to_str().unwrap(),
        "--storage-driver",
        "vfs",
    ];
    let image = format!("localhost/{}:{tag}", unique("plinth-cmp"));
    let df = ctx.join("Dockerfile");
    let mut args: Vec<&str> = bstore.to_vec();
    args.extend(["bud", "--isolation", "chroot"]);
    args.extend(bud_args);
    args.extend([
        "-f",
        df.to_str().unwrap(),
        "-t",
        &image,
        ctx.to_str().unwrap(),
    ]);
    tool("buildah", &args);
    let blayout = w.path("buildah-out");
    let bdest = format!("oci:{}:{tag}", blayout.display());
    let mut args: Vec<&str> = bstore.to_vec();
    args.extend(["push", &image, &bdest]);
    tool("buildah", &args);
    let mine = w.path("unpack-plinth");
    let theirs = w.path("unpack-buildah");
    umoci_unpack(layout, tag, &mine);
    umoci_unpack(&blayout, tag, &theirs);
    (mine.join("rootfs"), theirs.join("rootfs"), blayout)
}

fn tree(root: &Path) -> BTreeMap<String, (u32, u32, u32, u32, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (u32, u32, u32, u32, String)>) {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        for p in names {
            let m = std::fs::symlink_metadata(&p).unwrap();
            let what = if m.is_file() {
                use sha2::Digest;
                hex::encode(sha2::Sha256::digest(std::fs::read(&p).unwrap()))
            } else if m.file_type().is_symlink() {
                std::fs::read_link(&p).unwrap().display().to_string()
            } else {
                String::new()
            };
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            out.insert(
                rel,
                (
                    m.mode() & 0o170000,
                    m.mode() & 0o7777,
                    m.uid(),
                    m.gid(),
                    what,
                ),
            );
            if m.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn config_of(layout: &Path, tag: &str) -> Value {
    let index = json(&std::fs::read_to_string(layout.join("index.json")).unwrap());
    let desc = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap()
        .clone();
    let blob = |d: &Value| {
        let digest = d["digest"]
            .as_str()
            .unwrap()
            .strip_prefix("sha256:")
            .unwrap();
        json(&std::fs::read_to_string(layout.join("blobs/sha256").join(digest)).unwrap())
    };
    let manifest = blob(&desc);
    blob(&manifest["config"])
}

#[test]
fn dockerfile_matches_buildah_and_is_reproducible() {
    let w = World::new();
    let ctx = w.path("ctx");
    context(&ctx);
    let layout = w.path("plinth");
    let mut c = w.plinth();
    c.args(["build", "-q", "-f"])
        .arg(ctx.join("Dockerfile"))
        .arg(&ctx)
        .args([
            "--target",
            "base",
            "-t",
            &format!("oci:{}:df", layout.display()),
        ]);
    let digest = ok(c);
    validate(&layout, "df");

    // A second checkout elsewhere (new mtimes, other path): the same digest.
    let ctx2 = w.path("checkout2/ctx");
    context(&ctx2);
    let mut c = w.plinth();
    c.args(["build", "-q", "-f"])
        .arg(ctx2.join("Dockerfile"))
        .arg(&ctx2)
        .args([
            "--target",
            "base",
            "-t",
            &format!("oci:{}:df2", layout.display()),
        ]);
    assert_eq!(ok(c), digest, "not reproducible across checkouts");

    // buildah on the same input.
    let (mine, theirs, blayout) = buildah_twin(
        &w,
        &ctx,
        &layout,
        "df",
        &["--tls-verify=false", "--target", "base"],
    );
    let a = tree(&mine);
    let b = tree(&theirs);
    let diffs: Vec<_> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("{k}: plinth {:?}, buildah {:?}", a.get(k), b.get(k)))
        .collect();
    assert!(
        diffs.is_empty(),
        "filesystems differ:\n{}",
        diffs.join("\n")
    );
    assert!(a.contains_key("docs/keep.md") && !a.contains_key("docs/a.md"));
    assert!(a.contains_key("extracted/sub/data.txt"));
    assert_eq!(
        a["usr/local/bin/main-link"].0, 0o100000,
        "a file, not a link"
    );
    assert!(a.contains_key("linked-app/sub/data.txt"));
    assert!(!a.contains_key("junk.tmp") && !a.contains_key("ignored"));

    // …and the same config (buildah adds its version label; it keeps HEALTHCHECK only in the
    // Docker format, so none is used here).
    let mine = config_of(&layout, "df");
    let mut theirs = config_of(&blayout, "df");
    if let Some(l) = theirs["config"]["Labels"].as_object_mut() {
        l.remove("io.buildah.version");
    }
    for k in [
        "Env",
        "Entrypoint",
        "Cmd",
        "WorkingDir",
        "User",
        "Labels",
        "ExposedPorts",
        "Volumes",
        "StopSignal",
    ] {
        assert_eq!(mine["config"][k], theirs["config"][k], "config {k} differs");
    }
    assert_eq!(mine["os"], theirs["os"]);
    assert_eq!(mine["architecture"], theirs["architecture"]);
    assert_eq!(
        mine["rootfs"]["diff_ids"][0], theirs["rootfs"]["diff_ids"][0],
        "the base layer is the same"
    );

    // The other stage: scratch with files copied --from the first (owners kept).
    let mut c = w.plinth();
    c.args(["build", "-q", "-f"])
        .arg(ctx.join("Dockerfile"))
        .arg(&ctx)
        .args(["-t", &format!("oci:{}:files", layout.display())]);
    ok(c);
    let files = w.path("unpack-files");
    umoci_unpack(&layout, "files", &files);
    let t = tree(&files.join("rootfs"));
    assert_eq!(t["app/main.py"].2, 1000);
    assert!(t.contains_key("etc/debian_version"));
}

#[test]
fn run_is_refused_with_file_and_line() {
    let w = World::new();
    let ctx = w.path("ctx");
    write(
        &ctx.join("Dockerfile"),
        "FROM scratch\nCOPY a /a\nRUN echo hi\n",
    );
    write(&ctx.join("a"), "a\n");
    let mut c = w.plinth();
    c.args(["build", "-f"])
        .arg(ctx.join("Dockerfile"))
        .arg(&ctx)
        .args(["-t", &format!("oci:{}:x", w.path("out").display())]);
    let (success, _, err) = run(c);
    assert!(!success);
    assert!(err.contains("Dockerfile:3"), "{err}");
    assert!(
        err.contains("RUN needs a container runtime; not supported yet"),
        "{err}"
    );
}

#[test]
fn multi_platform_flags_build_makes_an_index() {
    let w = World::new();
    let (st, _) = hello_binaries(&w);
    // An honest fake arm64 binary: the same file with e_machine = EM_AARCH64.
    let mut arm = std::fs::read(&st).unwrap();
    arm[18] = 0xb7;
    arm[19] = 0;
    let arm_path = w.path("hello-arm64");
    std::fs::write(&arm_path, arm).unwrap();
    let dest = format!("{}/itest/{}:multi", registry(), unique("build-multi"));
    let mut c = w.plinth();
    c.args(["build", "-q", "--from", "scratch", "--entrypoint", "/hello"])
        .arg("--platform")
        .arg(format!("linux/amd64={}", st.display()))
        .arg("--platform")
        .arg(format!("linux/arm64={}", arm_path.display()))
        .args(["--compression", "zstd", "-t", &dest]);
    ok(c);
    let raw = json(&tool(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{dest}"),
        ],
    ));
    let platforms: Vec<String> = raw["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    // A binary of the wrong architecture is refused.
    let mut c = w.plinth();
    c.args(["build", "-q", "--from", "scratch"])
        .arg("--platform")
        .arg(format!("linux/arm64={}", st.display()))
        .args(["-t", &format!("oci:{}:x", w.path("o").display())]);
    let (success, _, err) = run(c);
    assert!(!success);
    assert!(err.contains("x86_64 binary"), "{err}");
}

#[test]
fn rebase_onto_a_new_base_runs_and_reuses_own_layers() {
    let w = World::new();
    let r = registry();
    let site = w.path("site");
    write(&site.join("index.html"), "rebased\n");
    let repo = format!("{r}/itest/{}", unique("rebase"));
    let app = format!("{repo}:1");
    let mut c = w.plinth();
    c.args([
        "build",
        "-q",
        "--from",
        &format!("{r}/library/debian:bookworm-slim"),
    ])
    .arg("--add")
    .arg(format!("{}:/srv", site.display()))
    .args([
        "--cmd",
        "/bin/sh -c 'cat /srv/index.html; python3 --version'",
        "-t",
        &app,
    ]);
    ok(c);

    // onto python:3.11-slim (debian-slim plus a layer): old base from the annotations.
    let rebased = format!("{repo}:rebased");
    let mut c = w.plinth();
    c.args([
        "rebase",
        "--json",
        &app,
        "--onto",
        &format!("{r}/library/python:3.11-slim"),
    ])
    .args(["-t", &rebased]);
    let report = json(&ok(c));
    assert_eq!(report["platforms"][0]["old_base_layers"], 1, "{report}");
    assert_eq!(report["platforms"][0]["new_base_layers"], 2, "{report}");
    assert_eq!(report["uploaded"], 1, "only the new config: {report}");
    let inspect = json(&tool(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            &format!("docker://{rebased}"),
        ],
    ));
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 3);
    let raw = json(&tool(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{rebased}"),
        ],
    ));
    assert_eq!(
        raw["annotations"]["org.opencontainers.image.base.digest"],
        env("PLINTH_IMG_PYTHON_DIGEST")
    );
    let layout = w.path("rebased");
    skopeo_to_layout(&rebased, &layout, "r");
    validate(&layout, "r");
    let out = runc(&w, &layout, "r", None);
    assert!(out.starts_with("rebased\nPython 3."), "{out}");

    // The wrong old base is refused, naming the mismatch.
    let mut c = w.plinth();
    c.args([
        "rebase",
        &app,
        "--onto",
        &format!("{r}/library/python:3.11-slim"),
    ])
    .args(["--old-base", &format!("{r}/library/python:3.11-slim")])
    .args(["-t", &format!("{repo}:wrong")]);
    let (success, _, err) = run(c);
    assert!(!success);
    assert!(
        err.contains("bottom layers are not the old base's"),
        "{err}"
    );

    // A new base of another architecture is refused.
    let arm = format!(
        "{r}/library/debian@{}",
        env("PLINTH_IMG_DEBIAN_ARM64_DIGEST")
    );
    let mut c = w.plinth();
    c.args(["rebase", &app, "--onto", &arm, "-t", &format!("{repo}:arm")]);
    let (success, _, err) = run(c);
    assert!(!success);
    assert!(err.contains("different architecture"), "{err}");
}

#[test]
fn multi_platform_image_on_an_index_base_rebases_per_platform() {
    let w = World::new();
    let (st, _) = hello_binaries(&w);
    let mut arm = std::fs::read(&st).unwrap();
    arm[18] = 0xb7;
    arm[19] = 0;
    let arm_path = w.path("hello-arm64");
    std::fs::write(&arm_path, arm).unwrap();
    let r = registry();
    // library/debian:bookworm is an index: linux/amd64, linux/arm64, linux/arm/v7.
    let base = format!("{r}/library/debian:bookworm");
    let repo = format!("{r}/itest/{}", unique("rebase-multi"));
    let mut c = w.plinth();
    c.args(["build", "-q", "--from", &base, "--entrypoint", "/hello"])
        .arg("--platform")
        .arg(format!("linux/amd64={}", st.display()))
        .arg("--platform")
        .arg(format!("linux/arm64={}", arm_path.display()))
        .args(["-t", &format!("{repo}:1")]);
    ok(c);
    let raw = json(&tool(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{repo}:1"),
        ],
    ));
    assert_eq!(raw["manifests"].as_array().unwrap().len(), 2);
    // Each platform's base annotation is that platform's manifest of the base index.
    let arm_manifest = raw["manifests"][1]["digest"].as_str().unwrap().to_string();
    let child = json(&tool(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{repo}@{arm_manifest}"),
        ],
    ));
    assert_eq!(
        child["annotations"]["org.opencontainers.image.base.digest"],
        env("PLINTH_IMG_DEBIAN_ARM64_DIGEST")
    );
    // Rebased platform by platform (onto the same base here: every layer is reused).
    let mut c = w.plinth();
    c.args(["rebase", "--json", &format!("{repo}:1"), "--onto", &base])
        .args(["-t", &format!("{repo}:rebased")]);
    let report = json(&ok(c));
    let platforms: Vec<&str> = report["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["platform"].as_str().unwrap())
        .collect();
    // The arm64 base's config says variant v8.
    assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8"]);
    assert_eq!(report["uploaded"], 0, "{report}");
    assert_eq!(report["digest"], raw_digest(&format!("{repo}:1")));
}

fn raw_digest(r: &str) -> String {
    json(&tool(
        "skopeo",
        &["inspect", "--tls-verify=false", &format!("docker://{r}")],
    ))["Digest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The files of one image (`docker://REF`), unpacked with skopeo and umoci.
fn rootfs_of(w: &World, reference: &str) -> PathBuf {
    let layout = w.path(&unique("pulled"));
    skopeo_to_layout(reference, &layout, "x");
    let bundle = w.path(&unique("unpacked"));
    umoci_unpack(&layout, "x", &bundle);
    bundle.join("rootfs")
}

#[test]
fn dockerfile_copy_from_a_registry_image_for_two_platforms_makes_an_index() {
    let w = World::new();
    let r = registry();
    let ctx = w.path("ctx");
    // library/debian:bookworm is an index: each platform copies from its own manifest. Its
    // amd64 /etc/os-release is a symlink to ../usr/lib/os-release: the file is copied.
    write(
        &ctx.join("Dockerfile"),
        &format!(
            "FROM scratch\n\
             ARG TARGETPLATFORM\n\
             COPY --from={r}/library/debian:bookworm /etc/os-release /etc/os-release\n\
             COPY --from={r}/library/debian:bookworm /etc /base-etc/\n\
             COPY <<EOF /etc/motd\n\
             built for $TARGETPLATFORM\n\
             EOF\n"
        ),
    );
    let repo = format!("{r}/itest/{}", unique("df-multi"));
    let mut c = w.plinth();
    c.args(["build", "-q", "-f"])
        .arg(ctx.join("Dockerfile"))
        .arg(&ctx)
        .args(["--platform", "linux/amd64", "--platform", "linux/arm64/v8"])
        .args(["-t", &format!("{repo}:1")]);
    let digest = ok(c);
    let raw = json(&tool(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{repo}:1"),
        ],
    ));
    assert_eq!(
        raw["mediaType"], "application/vnd.oci.image.index.v1+json",
        "{raw}"
    );
    assert_eq!(digest.trim(), raw_digest(&format!("{repo}:1")));
    let manifests = raw["manifests"].as_array().unwrap();
    let platforms: Vec<String> = manifests
        .iter()
        .map(|m| {
            let p = &m["platform"];
            let mut s = format!(
                "{}/{}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap()
            );
            if let Some(v) = p["variant"].as_str() {
                s.push_str(&format!("/{v}"));
            }
            s
        })
        .collect();
    // Scratch has no variant; arm64/v8 is written linux/arm64, as Docker normalizes it.
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    let sources = [
        env("PLINTH_IMG_DEBIAN_AMD64_DIGEST"),
        env("PLINTH_IMG_DEBIAN_ARM64V8_DIGEST"),
    ];
    let mut copied = Vec::new();
    for ((m, platform), source) in manifests.iter().zip(&platforms).zip(&sources) {
        let mine = rootfs_of(&w, &format!("{repo}@{}", m["digest"].as_str().unwrap()));
        let theirs = rootfs_of(&w, &format!("{r}/library/debian@{source}"));
        let copied_file = std::fs::symlink_metadata(mine.join("etc/os-release")).unwrap();
        assert!(
            copied_file.is_file(),
            "{platform}: a file, not the base's symlink"
        );
        let os_release = std::fs::read_to_string(mine.join("etc/os-release")).unwrap();
        assert_eq!(
            os_release,
            std::fs::read_to_string(theirs.join("etc/os-release")).unwrap(),
            "{platform}: /etc/os-release is the one of the same platform's base"
        );
        assert_eq!(
            std::fs::read_to_string(mine.join("etc/motd")).unwrap(),
            format!("built for {platform}\n")
        );
        let names = |d: &Path| -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(names(&mine.join("base-etc")), names(&theirs.join("etc")));
        copied.push(names(&mine.join("base-etc")));
    }
    // The fake arm64 base holds /etc/os-release only; the amd64 one a whole Debian /etc.
    assert!(
        copied[0].contains(&"debian_version".to_string()),
        "{copied:?}"
    );
    assert_eq!(copied[1], ["os-release"]);
}

/// `python3 -m http.server` on a free loopback port, serving `dir`; stopped when dropped.
struct HttpServer(std::process::Child, u16);

impl HttpServer {
    fn start(dir: &Path) -> HttpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let python = if Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3"
        } else {
            "python3"
        };
        let child = Command::new(python)
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 runs");
        let server = HttpServer(child, port);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("http.server did not start on port {port}");
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn dockerfile_add_url_matches_buildah_and_fails_with_exit_codes() {
    let w = World::new();
    let www = w.path("www");
    write(&www.join("files/hello.txt"), "hello over http\n");
    // http.server sends the file's mtime as Last-Modified.
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    std::fs::File::options()
        .write(true)
        .open(www.join("files/hello.txt"))
        .unwrap()
        .set_modified(t)
        .unwrap();
    let server = HttpServer::start(&www);
    let base = format!("http://127.0.0.1:{}", server.1);
    let ctx = w.path("ctx");
    write(
        &ctx.join("Dockerfile"),
        &format!(
            "FROM scratch\n\
             ADD {base}/files/hello.txt /dl/\n\
             ADD {base}/files/hello.txt /dl/renamed\n"
        ),
    );
    let layout = w.path("plinth");
    let mut c = w.plinth();
    c.env("SOURCE_DATE_EPOCH", "2000000000")
        .args(["build", "-q", "-f"])
        .arg(ctx.join("Dockerfile"))
        .arg(&ctx)
        .args(["-t", &format!("oci:{}:url", layout.display())]);
    ok(c);
    validate(&layout, "url");

    let (mine, theirs, _) = buildah_twin(&w, &ctx, &layout, "url", &[]);
    let a = tree(&mine);
    let b = tree(&theirs);
    assert_eq!(a, b, "plinth and buildah differ");
    // Remote files are 0600, dated by Last-Modified (before the epoch, so kept).
    assert_eq!(a["dl/hello.txt"].1, 0o600);
    assert_eq!(a["dl/renamed"].1, 0o600);
    for root in [&mine, &theirs] {
        let m = std::fs::metadata(root.join("dl/hello.txt")).unwrap();
        assert_eq!(m.mtime(), 1_000_000_000, "{}", root.display());
    }

    // A wrong checksum is an integrity failure (exit 6), a missing file "not found" (exit 3).
    let wrong = "1".repeat(64);
    for (line, code, what) in [
        (
            format!("ADD --checksum=sha256:{wrong} {base}/files/hello.txt /x"),
            6,
            format!("expected sha256:{wrong}"),
        ),
        (format!("ADD {base}/nope.txt /x"), 3, "HTTP 404".to_string()),
    ] {
        write(
            &ctx.join("Dockerfile.bad"),
            &format!("FROM scratch\n{line}\n"),
        );
        let mut c = w.plinth();
        c.args(["build", "-q", "-f"])
            .arg(ctx.join("Dockerfile.bad"))
            .arg(&ctx)
            .args(["-t", &format!("oci:{}:bad", w.path("bad").display())]);
        let out = c.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{line}: {err}");
        assert!(
            err.contains("Dockerfile.bad:2") && err.contains(&what) && err.contains(&base),
            "{line}: {err}"
        );
    }
}
