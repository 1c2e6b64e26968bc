//! docker-archive: round trips through plinth's own writer, classic archives built here,
//! malformed archives, image selection, and interop with skopeo.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use plinth_oci::archive::{DockerArchive, Selector};
use plinth_oci::copy::{CopyOptions, copy};
use plinth_oci::layout::Layout;
use plinth_oci::media;
use plinth_oci::source::BlobStream;
use plinth_oci::{ConfigFile, Descriptor, Digest, ErrorKind, ImageManifest, RawManifest};
use plinth_oci::{Sink, Source};
use plinth_reference::Reference;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

// ---------------------------------------------------------------------------------------------
// Building test images

/// Bytes that do not compress much, so layers have some size.
fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// A layer tar holding `files`.
fn layer_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn config_json(diff_ids: &[Digest]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/hello"], "Env": ["PATH=/usr/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": diff_ids.iter().map(|_| json!({"created_by": "test"})).collect::<Vec<_>>(),
    }))
    .unwrap()
}

fn stream(bytes: Vec<u8>) -> BlobStream {
    Box::pin(std::io::Cursor::new(bytes))
}

/// A small image in an OCI layout: one gzip layer, one uncompressed layer.
struct TestImage {
    layout: Layout,
    manifest: RawManifest,
    config: Vec<u8>,
    diff_ids: Vec<Digest>,
    /// Layer blobs as stored (the first gzip, the second a plain tar).
    layers: Vec<Vec<u8>>,
}

async fn test_image(dir: &Path) -> TestImage {
    let tar1 = layer_tar(&[("hello.txt", b"hello"), ("noise.bin", &noise(300_000, 1))]);
    let tar2 = layer_tar(&[("etc/os-release", b"ID=plinth\n")]);
    let diff_ids = vec![Digest::sha256(&tar1), Digest::sha256(&tar2)];
    let config = config_json(&diff_ids);
    let layers = vec![gzip(&tar1), tar2];
    let layout = Layout::new(dir, Some("t".into()));
    let config_desc = Descriptor::new(
        media::OCI_CONFIG,
        Digest::sha256(&config),
        config.len() as u64,
    );
    let layer_descs = vec![
        Descriptor::new(
            media::OCI_LAYER_GZIP,
            Digest::sha256(&layers[0]),
            layers[0].len() as u64,
        ),
        Descriptor::new(
            media::OCI_LAYER,
            Digest::sha256(&layers[1]),
            layers[1].len() as u64,
        ),
    ];
    let blobs = std::iter::once((&config_desc, &config)).chain(layer_descs.iter().zip(&layers));
    for (desc, bytes) in blobs {
        layout
            .put_blob(desc, stream(bytes.clone()), &|_| {})
            .await
            .unwrap();
    }
    let manifest = RawManifest::from_image(&ImageManifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        artifact_type: None,
        config: config_desc,
        layers: layer_descs,
        subject: None,
        annotations: None,
        extra: Default::default(),
    });
    Sink::put_root(&layout, &manifest).await.unwrap();
    TestImage {
        layout,
        manifest,
        config,
        diff_ids,
        layers,
    }
}

fn reference(s: &str) -> Reference {
    Reference::parse_normalized(s).unwrap()
}

/// Writes the test image to a docker archive with plinth.
async fn write_archive(image: &TestImage, path: &Path, tag: Option<&str>) {
    let writer = DockerArchive::writer(path, tag.map(reference)).unwrap();
    let report = copy(&image.layout, &writer, &CopyOptions::default())
        .await
        .unwrap();
    assert_eq!(report.digest, image.manifest.digest().to_string());
}

/// Every regular entry of a tar, by name.
fn tar_files(path: &Path) -> HashMap<String, Vec<u8>> {
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    let mut files = HashMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type() == tar::EntryType::Regular {
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            files.insert(name, data);
        }
    }
    files
}

async fn read_blob(src: &dyn Source, desc: &Descriptor) -> Vec<u8> {
    let mut data = Vec::new();
    src.blob(desc)
        .await
        .unwrap()
        .read_to_end(&mut data)
        .await
        .unwrap();
    data
}

fn list_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// ---------------------------------------------------------------------------------------------
// Building archives by hand

/// One entry of a hand-made tar.
enum Entry {
    File(String, Vec<u8>),
    Dir(String),
    Symlink(String, String),
    HardLink(String, String),
    /// A file whose name is written as is, bypassing the tar crate's checks.
    RawName(String, Vec<u8>),
}

fn file(name: &str, data: impl Into<Vec<u8>>) -> Entry {
    Entry::File(name.to_string(), data.into())
}

fn write_tar(path: &Path, entries: &[Entry]) {
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    for entry in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_size(0);
        match entry {
            Entry::File(name, data) => {
                h.set_size(data.len() as u64);
                b.append_data(&mut h, name, &data[..]).unwrap();
            }
            Entry::Dir(name) => {
                h.set_entry_type(tar::EntryType::Directory);
                b.append_data(&mut h, name, std::io::empty()).unwrap();
            }
            Entry::Symlink(name, target) | Entry::HardLink(name, target) => {
                let kind = match entry {
                    Entry::Symlink(..) => tar::EntryType::Symlink,
                    _ => tar::EntryType::Link,
                };
                h.set_entry_type(kind);
                b.append_link(&mut h, name, target).unwrap();
            }
            Entry::RawName(name, data) => {
                h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
                h.set_size(data.len() as u64);
                h.set_cksum();
                b.append(&h, &data[..]).unwrap();
            }
        }
    }
    b.finish().unwrap();
}

/// A classic image: its config and the entries holding it.
struct Classic {
    config: Vec<u8>,
    entries: Vec<Entry>,
    item: Value,
}

/// A classic (`<id>/layer.tar`) image of plain tar layers, tagged `tags`.
fn classic_image(id: &str, layers: &[Vec<u8>], tags: &[&str]) -> Classic {
    let diff_ids: Vec<Digest> = layers.iter().map(|l| Digest::sha256(l)).collect();
    let config = config_json(&diff_ids);
    let config_name = format!("{}.json", Digest::sha256(&config).hex());
    let mut entries = vec![file(&config_name, config.clone())];
    let mut layer_names = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let dir = format!("{id}{i}");
        entries.push(Entry::Dir(format!("{dir}/")));
        entries.push(file(&format!("{dir}/VERSION"), "1.0"));
        entries.push(file(&format!("{dir}/layer.tar"), layer.clone()));
        layer_names.push(format!("{dir}/layer.tar"));
    }
    let item = json!({"Config": config_name, "RepoTags": tags, "Layers": layer_names});
    Classic {
        config,
        entries,
        item,
    }
}

/// Writes classic images into one archive with `manifest.json`.
fn write_classic(path: &Path, images: Vec<Classic>, extra: Vec<Entry>) -> Vec<Vec<u8>> {
    let items: Vec<&Value> = images.iter().map(|i| &i.item).collect();
    let manifest = serde_json::to_vec(&items).unwrap();
    let mut configs = Vec::new();
    let mut entries = Vec::new();
    for image in images {
        configs.push(image.config);
        entries.extend(image.entries);
    }
    entries.extend(extra);
    entries.push(file("manifest.json", manifest));
    write_tar(path, &entries);
    configs
}

// ---------------------------------------------------------------------------------------------
// Round trips and the written format

#[tokio::test]
async fn layout_to_archive_to_layout_keeps_the_manifest_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let image = test_image(&tmp.path().join("src")).await;
    let tar_path = tmp.path().join("img.tar");
    write_archive(&image, &tar_path, Some("example.com/plinth/test:1")).await;

    for spec in ["", ":example.com/plinth/test:1", ":@0"] {
        let archive = DockerArchive::parse(&format!("{}{spec}", tar_path.display())).unwrap();
        let root = archive.root().await.unwrap();
        assert_eq!(
            root.bytes(),
            image.manifest.bytes(),
            "{spec}: bytes are truth"
        );
    }

    let archive = DockerArchive::new(&tar_path, Selector::Only);
    let back = Layout::new(tmp.path().join("back"), Some("t".into()));
    let report = copy(&archive, &back, &CopyOptions::default())
        .await
        .unwrap();
    assert_eq!(report.digest, image.manifest.digest().to_string());
    assert_eq!(report.copied, 3);
    assert_eq!(back.root().await.unwrap().bytes(), image.manifest.bytes());
    let layers = &image.manifest.as_image().unwrap().layers;
    for (desc, bytes) in layers.iter().zip(&image.layers) {
        assert_eq!(&read_blob(&back, desc).await, bytes);
        assert_eq!(&read_blob(&archive, desc).await, bytes);
    }
}

#[tokio::test]
async fn the_written_archive_is_docker_25_style() {
    let tmp = tempfile::tempdir().unwrap();
    let image = test_image(&tmp.path().join("src")).await;
    let tar_path = tmp.path().join("img.tar");
    write_archive(&image, &tar_path, Some("example.com/plinth/test:1")).await;

    let files = tar_files(&tar_path);
    let m = image.manifest.as_image().unwrap();
    let blob = |d: &Digest| format!("blobs/sha256/{}", d.hex());
    assert_eq!(files["oci-layout"], br#"{"imageLayoutVersion":"1.0.0"}"#);
    assert_eq!(
        &files[&blob(image.manifest.digest())],
        image.manifest.bytes()
    );
    assert_eq!(files[&blob(&m.config.digest)], image.config);
    let manifest_json: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    assert_eq!(
        manifest_json,
        json!([{
            "Config": blob(&m.config.digest),
            "RepoTags": ["example.com/plinth/test:1"],
            "Layers": [blob(&m.layers[0].digest), blob(&m.layers[1].digest)],
        }])
    );
    let index: Value = serde_json::from_slice(&files["index.json"]).unwrap();
    let entry = &index["manifests"][0];
    assert_eq!(entry["digest"], image.manifest.digest().to_string());
    assert_eq!(entry["mediaType"], media::OCI_MANIFEST);
    assert_eq!(
        entry["annotations"]["io.containerd.image.name"],
        "example.com/plinth/test:1"
    );
    assert_eq!(
        entry["annotations"]["org.opencontainers.image.ref.name"],
        "1"
    );
    let repositories: Value = serde_json::from_slice(&files["repositories"]).unwrap();
    assert_eq!(
        repositories,
        json!({"example.com/plinth/test": {"1": m.layers[1].digest.hex()}})
    );

    let archive = DockerArchive::new(&tar_path, Selector::Only);
    let items = archive.images().await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].repo_tags, ["example.com/plinth/test:1"]);
}

#[tokio::test]
async fn an_untagged_archive_has_no_repo_tags() {
    let tmp = tempfile::tempdir().unwrap();
    let image = test_image(&tmp.path().join("src")).await;
    let tar_path = tmp.path().join("img.tar");
    write_archive(&image, &tar_path, None).await;

    let files = tar_files(&tar_path);
    let manifest_json: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    assert_eq!(manifest_json[0]["RepoTags"], json!([]));
    assert!(!files.contains_key("repositories"));
    let index: Value = serde_json::from_slice(&files["index.json"]).unwrap();
    assert!(index["manifests"][0].get("annotations").is_none());
    let root = DockerArchive::new(&tar_path, Selector::Only)
        .root()
        .await
        .unwrap();
    assert_eq!(root.digest(), image.manifest.digest());
}

#[tokio::test]
async fn the_writer_refuses_digest_references() {
    let tmp = tempfile::tempdir().unwrap();
    let r = reference(&format!("debian@sha256:{}", "a".repeat(64)));
    let err = DockerArchive::writer(tmp.path().join("x.tar"), Some(r)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert_eq!(list_dir(tmp.path()), Vec::<String>::new());
}

#[tokio::test]
async fn an_embedded_layout_is_searched_through_nested_indexes() {
    let tmp = tempfile::tempdir().unwrap();
    let layer = layer_tar(&[("n", b"nested")]);
    let config = config_json(&[Digest::sha256(&layer)]);
    let (config_d, layer_d) = (Digest::sha256(&config), Digest::sha256(&layer));
    // Odd spacing on purpose: the bytes must be served as they are.
    let manifest = format!(
        r#"{{ "schemaVersion": 2, "mediaType": "{}",
  "config": {{"mediaType": "{}", "digest": "{config_d}", "size": {}}},
  "layers": [{{"mediaType": "{}", "digest": "{layer_d}", "size": {}}}] }}"#,
        media::OCI_MANIFEST,
        media::OCI_CONFIG,
        config.len(),
        media::OCI_LAYER,
        layer.len()
    );
    let manifest_d = Digest::sha256(manifest.as_bytes());
    let absent = Digest::sha256(b"another platform, not saved");
    let index = json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_INDEX,
        "manifests": [
            {"mediaType": media::OCI_MANIFEST, "digest": absent, "size": 100,
             "platform": {"architecture": "arm64", "os": "linux"}},
            {"mediaType": media::OCI_MANIFEST, "digest": manifest_d, "size": manifest.len(),
             "platform": {"architecture": "amd64", "os": "linux"}},
        ],
    });
    let index = serde_json::to_vec(&index).unwrap();
    let index_d = Digest::sha256(&index);
    let index_json = json!({"schemaVersion": 2, "manifests": [
        {"mediaType": media::OCI_INDEX, "digest": index_d, "size": index.len()}]});
    let blob = |d: &Digest| format!("blobs/sha256/{}", d.hex());
    let manifest_json = json!([{"Config": blob(&config_d), "RepoTags": ["nested:1"],
        "Layers": [blob(&layer_d)]}]);
    let path = tmp.path().join("nested.tar");
    write_tar(
        &path,
        &[
            file("oci-layout", r#"{"imageLayoutVersion":"1.0.0"}"#),
            file(&blob(&config_d), config),
            file(&blob(&layer_d), layer.clone()),
            file(&blob(&manifest_d), manifest.clone()),
            file(&blob(&index_d), index.clone()),
            file("index.json", serde_json::to_vec(&index_json).unwrap()),
            file("manifest.json", serde_json::to_vec(&manifest_json).unwrap()),
        ],
    );

    let archive = DockerArchive::parse(&format!("{}:nested:1", path.display())).unwrap();
    let root = archive.root().await.unwrap();
    assert_eq!(root.bytes(), manifest.as_bytes());
    assert_eq!(root.media_type(), media::OCI_MANIFEST);
    let index_desc = Descriptor::new(media::OCI_INDEX, index_d, index.len() as u64);
    let served = archive.manifest(&index_desc).await.unwrap();
    assert_eq!(served.bytes(), &index[..]);
    let layer_desc = &root.as_image().unwrap().layers[0];
    assert_eq!(read_blob(&archive, layer_desc).await, layer);
    let out = Layout::new(tmp.path().join("out"), None);
    let report = copy(&archive, &out, &CopyOptions::default()).await.unwrap();
    assert_eq!(report.digest, manifest_d.to_string());
}

#[test]
fn a_destination_spec_makes_a_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = format!("{}:debian", tmp.path().join("x.tar").display());
    let writer = DockerArchive::parse(&spec).unwrap().into_writer().unwrap();
    assert_eq!(
        writer.reference().unwrap().to_string(),
        "docker.io/library/debian:latest"
    );
    assert_eq!(Sink::name(&writer), format!("docker-archive:{spec}:latest"));
    let spec = format!("{}:@1", tmp.path().join("y.tar").display());
    let err = DockerArchive::parse(&spec)
        .unwrap()
        .into_writer()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
}

// ---------------------------------------------------------------------------------------------
// Classic archives

#[tokio::test]
async fn a_classic_archive_gets_a_manifest_from_its_diff_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = layer_tar(&[("a.txt", b"a"), ("noise", &noise(70_000, 2))]);
    let compressed_tar = layer_tar(&[("b.txt", b"b")]);
    let compressed = gzip(&compressed_tar);
    // Four layers: plain, gzip, a symlink to the first, a hard link to the first.
    let diff_ids = [
        Digest::sha256(&plain),
        Digest::sha256(&compressed_tar),
        Digest::sha256(&plain),
        Digest::sha256(&plain),
    ];
    let config = config_json(&diff_ids);
    let config_hex = Digest::sha256(&config).hex().to_string();
    let entries = vec![
        Entry::Dir("aaa/".into()),
        file("aaa/VERSION", "1.0"),
        file("aaa/json", "{}"),
        file("aaa/layer.tar", plain.clone()),
        file("bbb/layer.tar", compressed.clone()),
        Entry::Symlink("ccc/layer.tar".into(), "../aaa/layer.tar".into()),
        Entry::HardLink("ddd/layer.tar".into(), "aaa/layer.tar".into()),
        file(&format!("{config_hex}.json"), config.clone()),
        file("repositories", r#"{"plinth/classic":{"1":"ddd"}}"#),
        file(
            "manifest.json",
            serde_json::to_vec(&json!([{
                "Config": format!("{config_hex}.json"),
                "RepoTags": ["plinth/classic:1"],
                "Layers": ["aaa/layer.tar", "./bbb/layer.tar", "ccc/layer.tar", "ddd/layer.tar"],
            }]))
            .unwrap(),
        ),
    ];
    let tar_path = tmp.path().join("classic.tar");
    write_tar(&tar_path, &entries);

    let archive = DockerArchive::new(&tar_path, Selector::parse("plinth/classic:1").unwrap());
    let root = archive.root().await.unwrap();
    assert_eq!(root.media_type(), media::DOCKER_MANIFEST);
    let m = root.as_image().unwrap();
    assert_eq!(m.config.digest, Digest::sha256(&config));
    assert_eq!(m.config.size, config.len() as u64);
    assert_eq!(m.config.media_type, media::DOCKER_CONFIG);
    let digests: Vec<&Digest> = m.layers.iter().map(|l| &l.digest).collect();
    let compressed_digest = Digest::sha256(&compressed);
    assert_eq!(
        digests,
        [&diff_ids[0], &compressed_digest, &diff_ids[2], &diff_ids[3]]
    );
    let types: Vec<&str> = m.layers.iter().map(|l| l.media_type.as_str()).collect();
    assert_eq!(
        types,
        [
            media::DOCKER_LAYER,
            media::DOCKER_LAYER_GZIP,
            media::DOCKER_LAYER,
            media::DOCKER_LAYER
        ]
    );
    assert_eq!(m.layers[1].size, compressed.len() as u64);
    assert_eq!(read_blob(&archive, &m.layers[3]).await, plain);
    assert_eq!(read_blob(&archive, &m.config).await, config);

    // Every blob verifies on the way into a layout.
    let out = Layout::new(tmp.path().join("out"), None);
    let report = copy(&archive, &out, &CopyOptions::default()).await.unwrap();
    assert_eq!(report.digest, root.digest().to_string());
    assert_eq!(
        report.copied, 3,
        "config, the plain layer once, the gzip layer"
    );
    let cfg = ConfigFile::from_slice(&read_blob(&out, &m.config).await).unwrap();
    assert_eq!(cfg.diff_ids(), diff_ids);
}

#[tokio::test]
async fn a_classic_layer_that_lies_about_its_diff_id_fails_the_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let mut image = classic_image("l", &[layer_tar(&[("x", b"x")])], &["x:1"]);
    // Replace the layer's bytes by others of another size: the config's diff_id now lies.
    for entry in &mut image.entries {
        if let Entry::File(name, data) = entry
            && name.ends_with("layer.tar")
        {
            *data = layer_tar(&[("y", b"not x")]);
        }
    }
    let tar_path = tmp.path().join("lie.tar");
    write_classic(&tar_path, vec![image], vec![]);
    let out = Layout::new(tmp.path().join("out"), None);
    let archive = DockerArchive::new(&tar_path, Selector::Only);
    let err = copy(&archive, &out, &CopyOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
}

// ---------------------------------------------------------------------------------------------
// Selection

#[tokio::test]
async fn images_are_selected_by_reference_or_index() {
    let tmp = tempfile::tempdir().unwrap();
    let layer = |s: &str| layer_tar(&[(s, s.as_bytes())]);
    let images = vec![
        classic_image("a", &[layer("a")], &["debian:12", "debian:latest"]),
        classic_image("b", &[layer("b"), layer("bb")], &["example.com/team/app:2"]),
        classic_image("c", &[layer("c")], &[]),
    ];
    let path = tmp.path().join("multi.tar");
    let configs = write_classic(&path, images, vec![]);
    let config_of = |i: usize| Digest::sha256(&configs[i]);
    let p = path.display();

    let cases = [
        (format!("{p}:debian:12"), 0),
        (format!("{p}:docker.io/library/debian:12"), 0),
        (format!("{p}:debian"), 0),
        (format!("{p}:example.com/team/app:2"), 1),
        (format!("{p}:@1"), 1),
        (format!("{p}:@2"), 2),
    ];
    for (spec, want) in cases {
        let archive = DockerArchive::parse(&spec).unwrap();
        let root = archive.root().await.unwrap();
        assert_eq!(
            root.as_image().unwrap().config.digest,
            config_of(want),
            "{spec}"
        );
    }

    let err = DockerArchive::new(&path, Selector::Only)
        .root()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    let msg = err.to_string();
    for needle in [
        "3 images",
        "debian:12",
        "example.com/team/app:2",
        "@2 (untagged)",
    ] {
        assert!(msg.contains(needle), "{msg}");
    }
    for spec in [format!("{p}:debian:11"), format!("{p}:@3")] {
        let err = DockerArchive::parse(&spec)
            .unwrap()
            .root()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{spec}: {err}");
        assert!(err.to_string().contains(&p.to_string()), "{err}");
    }
}

// ---------------------------------------------------------------------------------------------
// Malformed archives

/// The error reading `path` as a docker-archive.
async fn read_error(path: &Path) -> plinth_oci::Error {
    DockerArchive::new(path, Selector::Only)
        .root()
        .await
        .unwrap_err()
}

#[tokio::test]
async fn path_traversal_refuses_the_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let evils = [
        ("../evil", Entry::RawName("../evil".into(), b"boo".to_vec())),
        (
            "a/../../evil",
            Entry::RawName("a/../../evil".into(), b"boo".to_vec()),
        ),
        (
            "/etc/evil",
            Entry::RawName("/etc/evil".into(), b"boo".to_vec()),
        ),
        (
            "../etc/passwd",
            Entry::HardLink("x/evil".into(), "../etc/passwd".into()),
        ),
    ];
    for (needle, evil) in evils {
        let path = tmp.path().join("evil.tar");
        let image = classic_image("a", &[layer_tar(&[("a", b"a")])], &["a:1"]);
        write_classic(&path, vec![image], vec![evil]);
        let err = read_error(&path).await;
        assert_eq!(err.kind(), ErrorKind::Invalid, "{needle}: {err}");
        let msg = err.to_string();
        assert!(
            msg.contains(needle) && msg.contains(&path.display().to_string()),
            "{msg}"
        );
    }

    // A symlink escaping the archive is refused when it is followed.
    let path = tmp.path().join("link.tar");
    let mut image = classic_image("a", &[layer_tar(&[("a", b"a")])], &["a:1"]);
    for entry in &mut image.entries {
        if let Entry::File(name, _) = entry
            && name.ends_with("layer.tar")
        {
            *entry = Entry::Symlink(name.clone(), "../../../etc/passwd".into());
        }
    }
    write_classic(&path, vec![image], vec![]);
    let err = read_error(&path).await;
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(err.to_string().contains("outside the archive"), "{err}");
}

#[tokio::test]
async fn a_truncated_archive_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let image = test_image(&tmp.path().join("src")).await;
    let full = tmp.path().join("full.tar");
    write_archive(&image, &full, Some("t:1")).await;
    let bytes = std::fs::read(&full).unwrap();

    // Find the largest entry: cut inside its data, and inside the header after it.
    let mut archive = tar::Archive::new(std::fs::File::open(&full).unwrap());
    let (mut data_cut, mut header_cut, mut largest) = (0, 0, 0);
    for entry in archive.entries_with_seek().unwrap() {
        let entry = entry.unwrap();
        if entry.size() > largest {
            largest = entry.size();
            data_cut = entry.raw_file_position() + entry.size() / 2;
            header_cut = entry.raw_file_position() + entry.size().div_ceil(512) * 512 + 100;
        }
    }
    for cut in [data_cut, header_cut] {
        let path = tmp.path().join(format!("cut-{cut}.tar"));
        std::fs::write(&path, &bytes[..cut as usize]).unwrap();
        let err = read_error(&path).await;
        assert_eq!(err.kind(), ErrorKind::Invalid, "cut at {cut}: {err}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }
    for cut in [data_cut, header_cut] {
        let path = tmp.path().join(format!("cut-{cut}.tar"));
        let err = read_error(&path).await.to_string();
        assert!(err.contains("truncated archive"), "{err}");
    }
}

#[tokio::test]
async fn missing_or_malformed_manifest_json_and_missing_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("x.tar");

    write_tar(&path, &[file("hello", "x")]);
    let err = read_error(&path).await;
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(err.to_string().contains("no manifest.json"), "{err}");

    write_tar(&path, &[file("manifest.json", "{not json")]);
    let err = read_error(&path).await;
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(err.to_string().contains("malformed manifest.json"), "{err}");

    let manifest = json!([{"Config": "c.json", "RepoTags": null, "Layers": ["gone/layer.tar"]}]);
    write_tar(
        &path,
        &[
            file("c.json", config_json(&[Digest::sha256(b"x")])),
            file("manifest.json", serde_json::to_vec(&manifest).unwrap()),
        ],
    );
    let err = read_error(&path).await;
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("gone/layer.tar") && msg.contains(&path.display().to_string()),
        "{msg}"
    );

    std::fs::write(&path, gzip(b"whatever")).unwrap();
    assert_eq!(read_error(&path).await.kind(), ErrorKind::Unsupported);
    std::fs::write(&path, noise(2048, 3)).unwrap();
    let err = read_error(&path).await;
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.to_string().ends_with("not a tar archive"), "{err}");
    assert_eq!(
        read_error(&tmp.path().join("absent.tar")).await.kind(),
        ErrorKind::NotFound
    );
}

// ---------------------------------------------------------------------------------------------
// Failed writes leave nothing

#[tokio::test]
async fn a_bad_blob_fails_the_copy_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let image = test_image(&tmp.path().join("src")).await;
    // Corrupt the last layer in the layout, keeping its size.
    let last = image.manifest.as_image().unwrap().layers[1].clone();
    let blob_path = image.layout.blobs().path(&last.digest);
    let mut bytes = std::fs::read(&blob_path).unwrap();
    bytes[600] ^= 0xff;
    std::fs::write(&blob_path, bytes).unwrap();

    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("existing.tar"), "old").unwrap();
    for target in ["existing.tar", "new.tar"] {
        let writer = DockerArchive::writer(out.join(target), Some(reference("x:1"))).unwrap();
        let err = copy(&image.layout, &writer, &CopyOptions::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
        assert_eq!(list_dir(&out), ["existing.tar"], "temp file left behind");
        assert_eq!(std::fs::read(out.join("existing.tar")).unwrap(), b"old");
        // The failed writer refuses to go on.
        let again = Sink::put_root(&writer, &image.manifest).await.unwrap_err();
        assert!(
            again.to_string().contains("earlier write failed"),
            "{again}"
        );
        drop(writer);
        assert_eq!(list_dir(&out), ["existing.tar"]);
    }
}

#[tokio::test]
async fn a_dropped_writer_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let image = test_image(&tmp.path().join("src")).await;
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let writer = DockerArchive::writer(out.join("x.tar"), None).unwrap();
    let config = image.manifest.as_image().unwrap().config.clone();
    writer
        .put_blob(&config, stream(image.config.clone()), &|_| {})
        .await
        .unwrap();
    assert!(writer.has_blob(&config).await.unwrap());
    drop(writer);
    assert_eq!(list_dir(&out), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// Interop with skopeo

fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "skopeo is required for this test ({e}): run scripts/test-env.sh (CI installs it)"
            )
        });
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test]
async fn skopeo_reads_what_plinth_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let image = test_image(&tmp.path().join("src")).await;
    let tar_path = tmp.path().join("plinth.tar");
    write_archive(&image, &tar_path, Some("example.com/plinth/interop:1")).await;
    let archive = format!("docker-archive:{}", path_str(&tar_path));

    let inspect: Value = serde_json::from_str(&skopeo(&["inspect", &archive])).unwrap();
    // skopeo serves docker-archive layers uncompressed: their digests are the diff ids.
    let layers: Vec<String> = serde_json::from_value(inspect["Layers"].clone()).unwrap();
    let diff_ids: Vec<String> = image.diff_ids.iter().map(Digest::to_string).collect();
    assert_eq!(layers, diff_ids);
    assert_eq!(inspect["RepoTags"], json!([]), "{inspect}");
    let config: Value = serde_json::from_str(&skopeo(&["inspect", "--config", &archive])).unwrap();
    assert_eq!(config["rootfs"]["diff_ids"], json!(diff_ids));

    let dir = tmp.path().join("skopeo-oci");
    skopeo(&["copy", &archive, &format!("oci:{}:t", path_str(&dir))]);
    let copied = Layout::new(&dir, Some("t".into()));
    let root = copied.root().await.unwrap();
    let m = root.as_image().unwrap();
    assert_eq!(m.layers.len(), 2);
    let cfg = ConfigFile::from_slice(&read_blob(&copied, &m.config).await).unwrap();
    assert_eq!(cfg.diff_ids(), image.diff_ids);
}

#[tokio::test]
async fn plinth_reads_what_skopeo_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let image = test_image(&tmp.path().join("src")).await;
    let tar_path = tmp.path().join("skopeo.tar");
    skopeo(&[
        "copy",
        &format!("oci:{}:t", path_str(image.layout.dir())),
        &format!(
            "docker-archive:{}:plinth/from-skopeo:2",
            path_str(&tar_path)
        ),
    ]);

    // skopeo writes RepoTags in full (docker.io/…); selection normalizes both sides.
    let spec = format!("{}:plinth/from-skopeo:2", path_str(&tar_path));
    let archive = DockerArchive::parse(&spec).unwrap();
    let items = archive.images().await.unwrap();
    assert_eq!(items[0].repo_tags, ["docker.io/plinth/from-skopeo:2"]);
    let root = archive.root().await.unwrap();
    let m = root.as_image().unwrap();
    let digests: Vec<Digest> = m.layers.iter().map(|l| l.digest.clone()).collect();
    assert_eq!(digests, image.diff_ids, "skopeo stores layers uncompressed");
    let cfg = ConfigFile::from_slice(&read_blob(&archive, &m.config).await).unwrap();
    assert_eq!(cfg.diff_ids(), image.diff_ids);

    // Every blob verifies, and plinth can write it out again for skopeo.
    let out = Layout::new(tmp.path().join("out"), Some("t".into()));
    let report = copy(&archive, &out, &CopyOptions::default()).await.unwrap();
    assert_eq!(report.digest, root.digest().to_string());
    let again = tmp.path().join("again.tar");
    let writer = DockerArchive::writer(&again, None).unwrap();
    copy(&archive, &writer, &CopyOptions::default())
        .await
        .unwrap();
    let inspect: Value = serde_json::from_str(&skopeo(&[
        "inspect",
        &format!("docker-archive:{}", path_str(&again)),
    ]))
    .unwrap();
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 2);
}
