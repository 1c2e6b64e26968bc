//! The Dockerfile executor on scratch stages (no registry needed): config instructions,
//! ARG/ENV expansion, multi-stage COPY --from, .dockerignore and --exclude, RUN refused.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use plinth_build::dockerfile::{Options, Resolver, build};
use plinth_build::layer::LayerOptions;
use plinth_build::mutate::BlobFrom;
use plinth_oci::{Platform, Source};

struct NoImages;

#[async_trait::async_trait]
impl Resolver for NoImages {
    async fn open(&self, name: &str) -> plinth_build::Result<(Arc<dyn Source>, Option<String>)> {
        Err(plinth_build::BuildError::Invalid(format!(
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

/// Paths in the layers of a finished image (gzip tars in temp files).
fn paths(image: &plinth_build::mutate::Finished) -> Vec<String> {
    let mut out = Vec::new();
    for (desc, from) in &image.blobs {
        let BlobFrom::File(p) = from else { continue };
        if desc.media_type.contains("config") {
            continue;
        }
        let f = std::fs::File::open(p.path()).unwrap();
        let mut a = tar::Archive::new(flate2::read::MultiGzDecoder::new(f));
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let mut s = String::new();
            let _ = e.read_to_string(&mut s);
            out.push(e.path().unwrap().display().to_string());
        }
    }
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
async fn run_and_remote_add_are_refused_with_the_line() {
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
    let err = build(
        "FROM scratch\nADD https://example.com/x /x\n",
        &opts(d.path(), &[], None),
        &NoImages,
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(err.starts_with("Dockerfile:2: ADD https://"), "{err}");
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
