//! The Dockerfile executor on scratch stages (no registry needed): config instructions,
//! ARG/ENV expansion, multi-stage COPY --from, .dockerignore and --exclude, RUN refused,
//! here-documents, `--parents`, and `ADD` of URLs (a small HTTP server in the test) and git
//! repositories (`git daemon` and dumb HTTP on loopback).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use plinth_builder::dockerfile::{Options, Resolver, build};
use plinth_builder::layer::LayerOptions;
use plinth_builder::mutate::BlobFrom;
use plinth_oci::{Platform, Source};

struct NoImages;

#[async_trait::async_trait]
impl Resolver for NoImages {
    async fn open(&self, name: &str) -> plinth_builder::Result<(Arc<dyn Source>, Option<String>)> {
        Err(plinth_builder::BuildError::Invalid(format!(
            "no images in this test ({name})"
        )))
    }
}

fn write(p: &Path, s: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, s).unwrap();
}

fn opts(ctx: &Path, args: &[(&str, &str)], target: Option<&str>) -> Options {
    Options {
        file_name: "Dockerfile".into(),
        context: ctx.to_path_buf(),
        build_args: args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        target: target.map(str::to_string),
        platform: Platform::parse("linux/amd64").unwrap(),
        layer: LayerOptions {
            epoch: 0,
            ..LayerOptions::default()
        },
        allow_dynamic: false,
    }
}

/// Calls `f` with every entry of the image's layers (gzip tars in temp files), in order.
fn each_entry(
    image: &plinth_builder::mutate::Finished,
    mut f: impl FnMut(&mut tar::Entry<'_, flate2::read::MultiGzDecoder<std::fs::File>>),
) {
    for (desc, from) in &image.blobs {
        let BlobFrom::File(p) = from else { continue };
        if desc.media_type.contains("config") {
            continue;
        }
        let file = std::fs::File::open(p.path()).unwrap();
        let mut a = tar::Archive::new(flate2::read::MultiGzDecoder::new(file));
        for e in a.entries().unwrap() {
            f(&mut e.unwrap());
        }
    }
}

/// Paths in the layers of a finished image, sorted.
fn paths(image: &plinth_builder::mutate::Finished) -> Vec<String> {
    let mut out = Vec::new();
    each_entry(image, |e| out.push(e.path().unwrap().display().to_string()));
    out.sort();
    out
}

#[tokio::test]
async fn config_instructions_and_stages() {
    let d = tempfile::tempdir().unwrap();
    let ctx = d.path();
    write(&ctx.join("bin/tool"), "#!/bin/sh\n");
    write(&ctx.join("bin/notes.md"), "x\n");
    write(&ctx.join("secret/key"), "k\n");
    write(&ctx.join(".dockerignore"), "secret\n");
    let df = r#"
ARG VERSION=1
FROM scratch AS build
ARG VERSION
ENV abc=hello
ENV abc=bye def=$abc
ENV ghi=$abc V=${VERSION}
COPY --exclude=*.md bin/ /out/
FROM build
SHELL ["/bin/bash", "-c"]
COPY --from=build /out/tool /usr/local/bin/tool
LABEL org.example.version=$VERSION
ONBUILD COPY . /app
HEALTHCHECK --interval=10s --retries=3 CMD tool --health
STOPSIGNAL SIGINT
EXPOSE 80 53/udp
VOLUME ["/data"]
USER 1000
WORKDIR /srv
WORKDIR app
CMD tool serve
ENTRYPOINT ["tool"]
"#;
    let out = build(df, &opts(ctx, &[("VERSION", "2")], None), &NoImages)
        .await
        .unwrap();
    let cfg: serde_json::Value = serde_json::from_slice(&out.image.config).unwrap();
    let c = &cfg["config"];
    let env: Vec<&str> = c["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(env, ["abc=bye", "def=hello", "ghi=bye", "V=2"]);
    // ARGs end with their stage: the second stage did not declare VERSION.
    assert_eq!(c["Labels"]["org.example.version"], "");
    assert_eq!(c["OnBuild"], serde_json::json!(["COPY . /app"]));
    assert_eq!(
        c["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "tool --health"], "Interval": 10_000_000_000u64, "Retries": 3})
    );
    assert_eq!(c["StopSignal"], "SIGINT");
    assert_eq!(
        c["ExposedPorts"],
        serde_json::json!({"80/tcp": {}, "53/udp": {}})
    );
    assert_eq!(c["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(c["User"], "1000");
    assert_eq!(c["WorkingDir"], "/srv/app");
    // CMD set in this stage (shell form with SHELL) survives the later ENTRYPOINT.
    assert_eq!(
        c["Cmd"],
        serde_json::json!(["/bin/bash", "-c", "tool serve"])
    );
    assert_eq!(c["Entrypoint"], serde_json::json!(["tool"]));
    assert_eq!(cfg["created"], "1970-01-01T00:00:00Z");
    let p = paths(&out.image);
    assert!(p.contains(&"out/tool".to_string()), "{p:?}");
    assert!(!p.iter().any(|x| x.contains("notes.md")), "{p:?}");
    assert!(p.contains(&"usr/local/bin/tool".to_string()), "{p:?}");
    assert!(
        p.contains(&"srv/app/".to_string()) || p.contains(&"srv/app".to_string()),
        "{p:?}"
    );

    // The same inputs give the same image.
    let again = build(df, &opts(ctx, &[("VERSION", "2")], None), &NoImages)
        .await
        .unwrap();
    assert_eq!(again.image.manifest.digest(), out.image.manifest.digest());

    // --target picks a stage; ignored files are not in the context.
    let t = build(df, &opts(ctx, &[], Some("build")), &NoImages)
        .await
        .unwrap();
    let cfg: serde_json::Value = serde_json::from_slice(&t.image.config).unwrap();
    assert_eq!(cfg["config"]["Env"][3], "V=1");
    let err = build(
        "FROM scratch\nCOPY secret/key /k\n",
        &opts(ctx, &[], None),
        &NoImages,
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("Dockerfile:2") && err.contains(".dockerignore"),
        "{err}"
    );
}

#[tokio::test]
async fn run_is_refused_with_the_line() {
    let d = tempfile::tempdir().unwrap();
    let err = build(
        "FROM scratch\n\nRUN make\n",
        &opts(d.path(), &[], None),
        &NoImages,
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert_eq!(
        err,
        "Dockerfile:3: RUN needs a container runtime; not supported yet (RUN make)"
    );
    // A stage with RUN that the target does not need is not built.
    write(&d.path().join("a"), "a\n");
    let ok = build(
        "FROM scratch AS unused\nRUN make\nFROM scratch\nCOPY a /a\n",
        &opts(d.path(), &[], None),
        &NoImages,
    )
    .await;
    assert!(ok.is_ok());
}

/// One entry of a built image: mode, owner, mtime, and the file's bytes (or link target).
#[derive(Debug, Clone, PartialEq)]
struct Ent {
    kind: char,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    data: Vec<u8>,
}

/// Every entry of the image's layers, later layers winning; paths without a trailing `/`.
fn entries(image: &plinth_builder::mutate::Finished) -> BTreeMap<String, Ent> {
    let mut out = BTreeMap::new();
    each_entry(image, |e| {
        let h = e.header().clone();
        let kind = match h.entry_type() {
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => 'l',
            _ => 'f',
        };
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        if kind == 'l' {
            data = h.link_name_bytes().unwrap().into_owned();
        }
        let path = e.path().unwrap().display().to_string();
        out.insert(
            path.trim_end_matches('/').to_string(),
            Ent {
                kind,
                mode: h.mode().unwrap(),
                uid: h.uid().unwrap(),
                gid: h.gid().unwrap(),
                mtime: h.mtime().unwrap(),
                data,
            },
        );
    });
    out
}

fn text(e: &BTreeMap<String, Ent>, path: &str) -> String {
    let ent = e
        .get(path)
        .unwrap_or_else(|| panic!("{path} not in the image: {:?}", e.keys()));
    String::from_utf8(ent.data.clone()).unwrap()
}

async fn build_err(df: &str, o: &Options) -> plinth_builder::BuildError {
    match build(df, o, &NoImages).await {
        Ok(_) => panic!("the build of\n{df}\nsucceeded"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn heredocs_are_files_with_buildkit_semantics() {
    let d = tempfile::tempdir().unwrap();
    let df = "FROM scratch\n\
ARG NAME=world\n\
ENV GREETING=hello\n\
COPY <<EOF /app/conf\n\
$GREETING ${NAME} \"quoted\" 'single' $UNSET \\$ESCAPED\n\
EOF\n\
COPY --chmod=755 --chown=7:8 <<a.sh <<\"b.txt\" /dir/\n\
#!/bin/sh\n\
echo $NAME\n\
a.sh\n\
literal $NAME\n\
b.txt\n\
COPY <<-EOF /tabs\n\
\tindented\n\
\t\ttwice\n\
\tEOF\n\
WORKDIR /srv\n\
ADD <<'notes.txt' ./\n\
$NAME stays\n\
notes.txt\n";
    let mut o = opts(d.path(), &[], None);
    o.layer.epoch = 2_000_000_000;
    let out = build(df, &o, &NoImages).await.unwrap();
    let e = entries(&out.image);
    // Unquoted delimiter: variables expanded (ARG and ENV), quotes kept, unset ones left.
    assert_eq!(
        text(&e, "app/conf"),
        "hello world \"quoted\" 'single' $UNSET $ESCAPED\n"
    );
    assert_eq!(e["app/conf"].mode, 0o644);
    assert_eq!((e["app/conf"].uid, e["app/conf"].gid), (0, 0));
    // Made by the build: the epoch, as BuildKit gives them with SOURCE_DATE_EPOCH.
    assert_eq!(e["app/conf"].mtime, 2_000_000_000);
    // Two documents into a directory, named by their delimiters; flags apply to both.
    assert_eq!(text(&e, "dir/a.sh"), "#!/bin/sh\necho world\n");
    assert_eq!(text(&e, "dir/b.txt"), "literal $NAME\n");
    for p in ["dir/a.sh", "dir/b.txt"] {
        assert_eq!((e[p].mode, e[p].uid, e[p].gid), (0o755, 7, 8), "{p}");
    }
    assert_eq!((e["dir"].uid, e["dir"].gid), (7, 8));
    // <<- strips leading tabs, of the body and of the terminator.
    assert_eq!(text(&e, "tabs"), "indented\ntwice\n");
    // ADD takes them too; a relative destination is below WORKDIR.
    assert_eq!(text(&e, "srv/notes.txt"), "$NAME stays\n");

    // Same input, same image.
    let again = build(df, &o, &NoImages).await.unwrap();
    assert_eq!(again.image.manifest.digest(), out.image.manifest.digest());

    let err = build_err("FROM scratch\nCOPY /a <<EOF\nx\nEOF\n", &o)
        .await
        .to_string();
    assert!(
        err.starts_with("Dockerfile:2:") && err.contains("here-document as its destination"),
        "{err}"
    );
    // With epoch 0 (the default) every mtime is 0.
    let out = build(df, &opts(d.path(), &[], None), &NoImages)
        .await
        .unwrap();
    assert_eq!(entries(&out.image)["app/conf"].mtime, 0);
}

#[tokio::test]
async fn parents_keep_paths_from_the_context_a_pivot_and_a_stage() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let ctx = d.path();
    write(&ctx.join("x/a.txt"), "xa\n");
    write(&ctx.join("y/a.txt"), "ya\n");
    write(&ctx.join("src/app/main.go"), "package main\n");
    write(&ctx.join("src/app/util.go"), "package main // util\n");
    write(&ctx.join("src/app/readme.md"), "readme\n");
    write(&ctx.join("src/lib/x/y.go"), "package x\n");
    write(&ctx.join("src/lib/secret.go"), "package lib\n");
    write(&ctx.join("src/top.go"), "package src\n");
    write(&ctx.join(".dockerignore"), "src/lib/secret.go\n");
    std::fs::set_permissions(ctx.join("src/app"), std::fs::Permissions::from_mode(0o750)).unwrap();
    let df = "FROM scratch AS ctx\n\
COPY ./x/a.txt ./y/a.txt /flat/\n\
COPY --parents ./x/a.txt ./y/a.txt /parents/\n\
COPY --parents ./src/./app/*.go /pivot/\n\
COPY --parents src/**/*.go /deep/\n\
COPY --parents --chown=5:6 --exclude=**/*.md src/app /dirs/\n\
FROM scratch\n\
COPY --from=ctx --parents /deep/src/./lib /fromstage/\n\
COPY --from=ctx --parents /pivot/app/*.go /whole/\n";
    let out = build(df, &opts(ctx, &[], Some("ctx")), &NoImages)
        .await
        .unwrap();
    let e = entries(&out.image);
    // Without --parents the second a.txt replaces the first; with it both keep their paths.
    assert_eq!(text(&e, "flat/a.txt"), "ya\n");
    assert_eq!(text(&e, "parents/x/a.txt"), "xa\n");
    assert_eq!(text(&e, "parents/y/a.txt"), "ya\n");
    // A /./ pivot: only what follows it is kept.
    assert_eq!(text(&e, "pivot/app/main.go"), "package main\n");
    assert!(e.contains_key("pivot/app/util.go"));
    assert!(!e.contains_key("pivot/app/readme.md") && !e.contains_key("pivot/src"));
    // The directories between keep their own mode.
    assert_eq!((e["pivot/app"].kind, e["pivot/app"].mode), ('d', 0o750));
    // ** matches any number of directories, none included; .dockerignore applies.
    for p in [
        "deep/src/top.go",
        "deep/src/app/main.go",
        "deep/src/lib/x/y.go",
    ] {
        assert!(e.contains_key(p), "{p} missing: {:?}", e.keys());
    }
    assert!(!e.contains_key("deep/src/app/readme.md"));
    assert!(!e.contains_key("deep/src/lib/secret.go"));
    // A directory source keeps its path and contents; --chown and --exclude apply.
    assert_eq!(
        (e["dirs/src/app/main.go"].uid, e["dirs/src/app/main.go"].gid),
        (5, 6)
    );
    assert_eq!((e["dirs/src"].uid, e["dirs/src/app"].mode), (5, 0o750));
    assert!(!e.contains_key("dirs/src/app/readme.md"));
    assert!(!e.contains_key("dirs/src/lib"));

    let out = build(df, &opts(ctx, &[], None), &NoImages).await.unwrap();
    let e = entries(&out.image);
    let files: Vec<&String> = e.keys().filter(|k| e[*k].kind == 'f').collect();
    assert_eq!(
        files,
        [
            "fromstage/lib/x/y.go",
            "whole/pivot/app/main.go",
            "whole/pivot/app/util.go"
        ]
    );
    assert_eq!(e["whole/pivot/app"].mode, 0o750);

    for (src, what) in [
        ("./nope/./a.txt", "not found in the build context"),
        ("./x/./nope", "not found in the build context"),
        ("src/lib/secret.go", "not found in the build context"),
    ] {
        let err = build_err(
            &format!("FROM scratch\nCOPY --parents {src} /p/\n"),
            &opts(ctx, &[], None),
        )
        .await
        .to_string();
        assert!(
            err.starts_with("Dockerfile:2:") && err.contains(what),
            "{err}"
        );
    }
}

#[tokio::test]
async fn context_source_symlinks_are_followed_within_the_context() {
    use std::os::unix::fs::symlink;
    let d = tempfile::tempdir().unwrap();
    let ctx = d.path().join("ctx");
    write(&ctx.join("target.txt"), "t\n");
    write(&ctx.join("d/f"), "in\n");
    write(&d.path().join("outside"), "secret\n");
    symlink("target.txt", ctx.join("link")).unwrap();
    symlink("d", ctx.join("dlink")).unwrap();
    symlink("/outside", ctx.join("abs")).unwrap();
    symlink("../outside", ctx.join("up")).unwrap();
    symlink(d.path(), ctx.join("hostdir")).unwrap();
    let o = opts(&ctx, &[], None);
    let df = "FROM scratch\nCOPY link /x\nCOPY dlink /y/\nCOPY link /z/\nCOPY dlink/f /w\n";
    let out = build(df, &o, &NoImages).await.unwrap();
    let e = entries(&out.image);
    assert_eq!((e["x"].kind, text(&e, "x").as_str()), ('f', "t\n"));
    assert_eq!(text(&e, "y/f"), "in\n");
    assert_eq!(
        (e["z/link"].kind, text(&e, "z/link").as_str()),
        ('f', "t\n")
    );
    assert_eq!(text(&e, "w"), "in\n");
    // Targets are resolved within the context: nothing outside it is read.
    for src in ["abs", "up", "hostdir/outside"] {
        let err = build_err(&format!("FROM scratch\nCOPY {src} /x\n"), &o)
            .await
            .to_string();
        assert!(
            err.starts_with("Dockerfile:2:") && err.contains("not in the build context"),
            "{src}: {err}"
        );
    }
}

/// A fixed response of [`serve`]: path, extra headers, body.
type Route = (&'static str, Vec<(&'static str, String)>, Vec<u8>);

/// A tiny HTTP/1.1 server for the tests: fixed routes, then files below `root`; 404 otherwise.
/// Every response closes its connection.
fn serve(routes: Vec<Route>, root: Option<PathBuf>) -> u16 {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let routes = Arc::new(routes);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let routes = routes.clone();
            let root = root.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let target = head.split_whitespace().nth(1).unwrap_or("/");
                let path = target.split('?').next().unwrap_or("/");
                let found = routes
                    .iter()
                    .find(|(p, _, _)| *p == path)
                    .cloned()
                    .or_else(|| {
                        let f = root.as_ref()?.join(path.trim_start_matches('/'));
                        f.is_file().then(|| ("", vec![], std::fs::read(f).unwrap()))
                    });
                let (status, headers, body) = match found {
                    Some((_, h, b)) => ("200 OK", h, b),
                    None => ("404 Not Found", vec![], b"not here\n".to_vec()),
                };
                let mut resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                for (k, v) in headers {
                    resp.push_str(&format!("{k}: {v}\r\n"));
                }
                resp.push_str("\r\n");
                let _ = s.write_all(resp.as_bytes());
                let _ = s.write_all(&body);
            });
        }
    });
    port
}

fn sha256_hex(b: &[u8]) -> String {
    plinth_oci::digest::Digest::sha256(b).hex().to_string()
}

/// A gzipped tar holding `inner/file.txt`.
fn small_tgz() -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let data = b"inside the archive\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, "inner/file.txt", &data[..]).unwrap();
    b.into_inner().unwrap().finish().unwrap()
}

#[tokio::test]
async fn add_url_downloads_verifies_and_names_files() {
    let d = tempfile::tempdir().unwrap();
    let body = b"hello over http\n".to_vec();
    let tgz = small_tgz();
    let port = serve(
        vec![
            (
                "/files/hello.txt",
                vec![("Last-Modified", "Sun, 09 Sep 2001 01:46:40 GMT".into())],
                body.clone(),
            ),
            ("/files/bundle.tgz", vec![], tgz.clone()),
            ("/", vec![], b"index\n".to_vec()),
            ("/files/signed", vec![], b"signed\n".to_vec()),
        ],
        None,
    );
    let base = format!("http://127.0.0.1:{port}");
    let sum = sha256_hex(&body);
    let df = format!(
        "FROM scratch\n\
ADD {base}/files/hello.txt /dl/\n\
ADD --chmod=644 --chown=3:4 --checksum=sha256:{sum} {base}/files/hello.txt /named\n\
ADD {base}/files/bundle.tgz /kept/\n\
ADD --unpack=true {base}/files/bundle.tgz /unpacked/\n\
ADD {base}/ /root-url/\n\
ADD {base}/files/signed?sig=a*b /signed\n"
    );
    let mut o = opts(d.path(), &[], None);
    o.layer.epoch = 2_000_000_000;
    let out = build(&df, &o, &NoImages).await.unwrap();
    let e = entries(&out.image);
    // Named by the URL's path, mode 0600, mtime from Last-Modified (2001-09-09).
    assert_eq!(text(&e, "dl/hello.txt"), "hello over http\n");
    assert_eq!(
        (e["dl/hello.txt"].mode, e["dl/hello.txt"].mtime),
        (0o600, 1_000_000_000)
    );
    // A destination without a trailing slash is the file; flags apply.
    let n = &e["named"];
    assert_eq!((n.kind, n.mode, n.uid, n.gid), ('f', 0o644, 3, 4));
    // Archives from URLs are not extracted, unless --unpack=true.
    assert_eq!(e["kept/bundle.tgz"].data, tgz);
    assert_eq!(text(&e, "unpacked/inner/file.txt"), "inside the archive\n");
    // No path: BuildKit's name. No Last-Modified: the epoch.
    assert_eq!(text(&e, "root-url/__unnamed__"), "index\n");
    assert_eq!(e["root-url/__unnamed__"].mtime, 2_000_000_000);
    // A query (with wildcard characters) is no pattern: a file destination stays a file.
    assert_eq!(
        (e["signed"].kind, text(&e, "signed").as_str()),
        ('f', "signed\n")
    );

    let kind = |e: &plinth_builder::BuildError| e.kind();
    let wrong = "0".repeat(64);
    let err = build_err(
        &format!("FROM scratch\nADD --checksum=sha256:{wrong} {base}/files/hello.txt /x\n"),
        &o,
    )
    .await;
    assert_eq!(kind(&err), plinth_oci::ErrorKind::Integrity);
    let msg = err.to_string();
    assert!(
        msg.starts_with("Dockerfile:2:")
            && msg.contains(&format!("{base}/files/hello.txt"))
            && msg.contains(&format!("expected sha256:{wrong}"))
            && msg.contains(&format!("got sha256:{sum}")),
        "{msg}"
    );
    let err = build_err(&format!("FROM scratch\nADD {base}/missing /x\n"), &o).await;
    assert_eq!(kind(&err), plinth_oci::ErrorKind::NotFound);
    assert_eq!(
        err.to_string(),
        format!("Dockerfile:2: {base}/missing: HTTP 404 Not Found")
    );
    // Nothing listens on a port just released.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = build_err(
        &format!("FROM scratch\nADD http://127.0.0.1:{closed}/x /x\n"),
        &o,
    )
    .await;
    assert_eq!(kind(&err), plinth_oci::ErrorKind::Network);
    assert!(
        err.to_string()
            .starts_with(&format!("Dockerfile:2: http://127.0.0.1:{closed}/x: ")),
        "{err}"
    );
    for (df, what) in [
        (
            format!("FROM scratch\nCOPY {base}/files/hello.txt /x\n"),
            "COPY takes no URLs",
        ),
        (
            format!("FROM scratch\nADD --checksum=sha256:{sum} {base}/a {base}/b /x/\n"),
            "exactly one source",
        ),
        (
            "FROM scratch\nADD --checksum=sha256:abc local.txt /x\n".to_string(),
            "needs an HTTP(S) or git source",
        ),
        (
            format!("FROM scratch\nADD --checksum=md5:abc {base}/files/hello.txt /x\n"),
            "--checksum=md5:abc",
        ),
    ] {
        let err = build_err(&df, &o).await.to_string();
        assert!(err.contains(what), "{df}: {err}");
    }
}

/// Runs git in `dir`, panicking with its output on failure.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .output()
        .expect("git is installed");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `git daemon` serving `base`, stopped when dropped.
struct GitDaemon(std::process::Child, u16);

impl GitDaemon {
    fn start(base: &Path) -> GitDaemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // The daemon itself, not the `git` wrapper (which would leave it running when killed).
        let exec_path = std::process::Command::new("git")
            .arg("--exec-path")
            .output()
            .expect("git is installed");
        let exec_path = String::from_utf8(exec_path.stdout).unwrap();
        let child = std::process::Command::new(Path::new(exec_path.trim()).join("git-daemon"))
            .args(["--reuseaddr", "--export-all", "--listen=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("git daemon runs");
        let daemon = GitDaemon(child, port);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return daemon;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("git daemon did not start on port {port}");
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn add_git_repository_by_ref_subdir_and_checksum() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let work = d.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    write(&work.join("README"), "one\n");
    write(&work.join("bin/run.sh"), "#!/bin/sh\necho run\n");
    std::fs::set_permissions(
        work.join("bin/run.sh"),
        std::fs::Permissions::from_mode(0o775),
    )
    .unwrap();
    write(&work.join("docs/guide.md"), "guide\n");
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "one"]);
    git(&work, &["tag", "v1"]);
    let first = git(&work, &["rev-parse", "HEAD"]);
    write(&work.join("README"), "two\n");
    git(&work, &["commit", "-q", "-am", "two"]);
    let srv = d.path().join("srv");
    std::fs::create_dir_all(&srv).unwrap();
    git(d.path(), &["clone", "-q", "--bare", "work", "srv/repo.git"]);
    git(&srv.join("repo.git"), &["update-server-info"]);
    let daemon = GitDaemon::start(&srv);
    let repo = format!("git://127.0.0.1:{}/repo.git", daemon.1);
    // The same repository over dumb HTTP (no shallow fetches there).
    let http = serve(vec![], Some(srv.clone()));
    let dumb = format!("http://127.0.0.1:{http}/repo.git");

    let short = &first[..10];
    let df = format!(
        "FROM scratch\n\
ADD {repo} /head/\n\
ADD {repo}#v1:docs /docs\n\
ADD --keep-git-dir --chown=9:9 {repo}#v1 /kept/\n\
ADD --checksum={short} {repo}#{first} /bysha/\n\
ADD {dumb}#main /dumb/\n\
ADD {dumb}?tag=v1&subdir=bin /dumbtag/\n"
    );
    let ctx = d.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    let o = opts(&ctx, &[], None);
    let out = build(&df, &o, &NoImages).await.unwrap();
    let e = entries(&out.image);
    assert_eq!(text(&e, "head/README"), "two\n");
    // Git keeps only the executable bit: 0755 and 0644, whatever the checkout's umask.
    assert_eq!(e["head/bin/run.sh"].mode, 0o755);
    assert_eq!(e["head/docs/guide.md"].mode, 0o644);
    assert_eq!(e["head/bin"].mode, 0o755);
    assert!(
        !e.keys().any(|k| k.starts_with("head/.git")),
        "{:?}",
        e.keys()
    );
    // Files of a checkout are made now: their mtimes are the epoch.
    assert_eq!(e["head/README"].mtime, 0);
    // A ref and a subdirectory.
    assert_eq!(text(&e, "docs/guide.md"), "guide\n");
    assert!(!e.contains_key("docs/README"));
    // --keep-git-dir keeps .git; --chown applies to everything.
    assert_eq!(text(&e, "kept/README"), "one\n");
    assert!(e.contains_key("kept/.git/HEAD"));
    assert_eq!((e["kept/README"].uid, e["kept/.git/HEAD"].gid), (9, 9));
    // A commit by its hash, verified by a prefix.
    assert_eq!(text(&e, "bysha/README"), "one\n");
    // Dumb HTTP: a full fetch, then the ref; the query form of tag and subdirectory.
    assert_eq!(text(&e, "dumb/README"), "two\n");
    assert_eq!(text(&e, "dumbtag/run.sh"), "#!/bin/sh\necho run\n");
    assert!(!e.contains_key("dumbtag/README"));

    let err = build_err(
        &format!("FROM scratch\nADD --checksum=0000000 {repo}#v1 /x/\n"),
        &o,
    )
    .await;
    assert_eq!(err.kind(), plinth_oci::ErrorKind::Integrity);
    let msg = err.to_string();
    assert!(
        msg.starts_with("Dockerfile:2:")
            && msg.contains("expected commit 0000000")
            && msg.contains(&first),
        "{msg}"
    );
    let err = build_err(&format!("FROM scratch\nADD {repo}#nope /x/\n"), &o).await;
    assert_eq!(err.kind(), plinth_oci::ErrorKind::Network);
    assert!(
        err.to_string()
            .contains(&format!("{repo}#nope: git fetch failed")),
        "{err}"
    );
    let err = build_err(&format!("FROM scratch\nADD {repo}#v1:missing /x/\n"), &o).await;
    assert_eq!(err.kind(), plinth_oci::ErrorKind::NotFound);
    let err = build_err(&format!("FROM scratch\nCOPY {repo} /x/\n"), &o)
        .await
        .to_string();
    assert!(err.contains("use ADD"), "{err}");
}
