//! Layer semantics on synthetic images: whiteouts, opaque directories, hard links across
//! layers, symlink resolution, traversal refusal, digest and diff-id checks, compression
//! kinds, the content store cache, and the exported tar.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::atomic::Ordering;

use common::*;
use plinth_fs::{
    ContentRequest, FsError, Kind, LayerChange, ReadOptions, export_tar, read_image, read_layer,
};
use plinth_oci::Digest;

async fn read(
    img: &(
        common::Mem,
        plinth_oci::ImageManifest,
        plinth_oci::ConfigFile,
    ),
    req: &ContentRequest,
) -> Result<plinth_fs::MergedFs, FsError> {
    read_image(&img.0, &img.1, &img.2, req, &ReadOptions::default()).await
}

/// The export of `fs` (read from `img`) as a tar in memory, with its statistics.
async fn export(
    img: &(
        common::Mem,
        plinth_oci::ImageManifest,
        plinth_oci::ConfigFile,
    ),
    fs: &plinth_fs::MergedFs,
) -> (Vec<u8>, plinth_fs::ExportStats) {
    export_tar(
        &img.0,
        &img.1,
        &img.2,
        fs,
        Vec::new(),
        &ReadOptions::default(),
    )
    .await
    .unwrap()
}

fn names(fs: &plinth_fs::MergedFs, dir: &str) -> Vec<String> {
    fs.list_dir(dir)
        .iter()
        .map(|m| m.name().to_string())
        .collect()
}

#[tokio::test]
async fn whiteouts_remove_lower_paths_only() {
    let img = image(vec![
        gz_layer(&[
            E::Dir("a", 0o755),
            E::File("a/x", 0o644, b"x"),
            E::File("a/y", 0o644, b"y"),
            E::Dir("b", 0o755),
            E::File("b/z", 0o644, b"z"),
            E::File("c", 0o644, b"c"),
        ]),
        gz_layer(&[
            E::File("a/.wh.x", 0o644, b""),
            E::File(".wh.b", 0o644, b""),
            // A whiteout hides lower layers only: `d` of this same layer stays.
            E::File("d", 0o644, b"d"),
            E::File(".wh.d", 0o644, b""),
            E::File(".wh.nothing", 0o644, b""),
        ]),
    ]);
    let fs = read(&img, &ContentRequest::new()).await.unwrap();
    assert_eq!(names(&fs, "/"), ["a", "c", "d"]);
    assert_eq!(names(&fs, "/a"), ["y"]);
    assert!(fs.get("/b/z").is_none());
    assert_eq!(fs.get("/d").unwrap().layer, 1);
    let l1 = &fs.layers()[1];
    assert_eq!((l1.added, l1.removed, l1.entries), (1, 3, 5));
    assert_eq!(fs.layers()[0].added, 6);
    assert_eq!(l1.diff_id.as_ref().unwrap(), &img.2.diff_ids()[1]);
}

#[tokio::test]
async fn opaque_directories_hide_lower_contents() {
    let img = image(vec![
        gz_layer(&[
            E::Dir("o", 0o755),
            E::File("o/1", 0o644, b"1"),
            E::Dir("o/2", 0o755),
            E::File("o/2/3", 0o644, b"3"),
            E::File("other", 0o644, b""),
        ]),
        gz_layer(&[
            E::Dir("o", 0o700),
            E::File("o/.wh..wh..opq", 0o644, b""),
            E::File("o/new", 0o644, b"n"),
        ]),
    ]);
    let fs = read(&img, &ContentRequest::new()).await.unwrap();
    assert_eq!(names(&fs, "/o"), ["new"]);
    assert_eq!(fs.get("/o").unwrap().mode, 0o700);
    assert!(fs.get("/other").is_some());
    assert_eq!(fs.layers()[1].removed, 3);

    let changes = read_layer(&img.0, &img.1, &img.2, 1, &ReadOptions::default())
        .await
        .unwrap();
    assert!(changes.contains(&LayerChange::Opaque { path: "/o".into() }));
    let err = read_layer(&img.0, &img.1, &img.2, 5, &ReadOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        FsError::NoLayer {
            index: 5,
            layers: 2
        }
    ));
}

#[tokio::test]
async fn files_and_directories_replace_each_other() {
    let img = image(vec![
        gz_layer(&[
            E::Dir("d", 0o755),
            E::File("d/inner", 0o644, b"i"),
            E::File("f", 0o644, b"f"),
            E::Dir("same", 0o755),
        ]),
        gz_layer(&[
            // A file over a directory replaces the whole subtree.
            E::File("d", 0o644, b"now a file"),
            // A directory over a file.
            E::Dir("f", 0o700),
            E::File("f/child", 0o644, b"c"),
            // Re-listed with the same metadata: not counted as changed.
            E::Dir("same", 0o755),
        ]),
    ]);
    let fs = read(&img, &ContentRequest::new().path("/d")).await.unwrap();
    assert_eq!(fs.get("/d").unwrap().kind, Kind::File);
    assert!(fs.get("/d/inner").is_none());
    assert_eq!(fs.read("/d").unwrap(), b"now a file");
    assert_eq!(fs.get("/f").unwrap().kind, Kind::Dir);
    assert_eq!(names(&fs, "/f"), ["child"]);
    let l1 = &fs.layers()[1];
    assert_eq!((l1.added, l1.changed, l1.removed), (1, 2, 1));
}

#[tokio::test]
async fn hardlinks_keep_content_across_layers() {
    let img = image(vec![
        gz_layer(&[
            E::Dir("bin", 0o755),
            E::File("bin/a", 0o755, b"AAAA"),
            E::Hard("bin/b", "bin/a"),
        ]),
        gz_layer(&[
            // The original is removed and another path replaced: the link keeps the bytes.
            E::File("bin/.wh.a", 0o644, b""),
            E::Hard("c", "bin/b"),
        ]),
        gz_layer(&[E::File("bin/b2", 0o644, b"other")]),
    ]);
    let req = ContentRequest::new().path("/c");
    let fs = read(&img, &req).await.unwrap();
    assert!(fs.get("/bin/a").is_none());
    let b = fs.get("/bin/b").unwrap();
    assert_eq!(
        (b.kind, b.size, b.link.as_deref()),
        (Kind::Hardlink, 4, Some("/bin/a"))
    );
    assert_eq!(fs.read("/c").unwrap(), b"AAAA");
    // /bin/b was not requested; its bytes are shared with /c all the same.
    assert_eq!(fs.read("/bin/b").unwrap(), b"AAAA");

    // The export writes the bytes once (at the first path) and links the other to it.
    let (tar, stats) = export(&img, &fs).await;
    let entries = tar_entries(&tar);
    assert_eq!(entries["bin/b"], ('0', None, b"AAAA".to_vec()));
    assert_eq!(entries["c"], ('1', Some("bin/b".to_string()), vec![]));
    assert_eq!(entries["bin/b2"].2, b"other");
    assert!(!entries.contains_key("bin/a"));
    assert_eq!(stats.layers_read, 2);
}

#[tokio::test]
async fn symlinks_resolve_across_layers_and_loops_stop() {
    let img = image(vec![
        gz_layer(&[
            E::Dir("etc", 0o755),
            E::Sym("etc/os-release", "../usr/lib/os-release"),
            E::Sym("lib", "usr/lib"),
            E::Sym("loop1", "/loop2"),
            E::Sym("loop2", "loop1"),
            E::Sym("escape", "../../../../usr/lib/os-release"),
        ]),
        gz_layer(&[
            E::Dir("usr", 0o755),
            E::Dir("usr/lib", 0o755),
            E::File("usr/lib/os-release", 0o644, b"ID=test\n"),
            E::File("usr/lib/big", 0o644, b"0123456789"),
        ]),
    ]);
    let req = ContentRequest::new()
        .path("/etc/os-release")
        .path("/loop1")
        .merge(ContentRequest::new().path("/lib/big").max_size(5));
    let fs = read(&img, &req).await.unwrap();
    assert_eq!(fs.read("/etc/os-release").unwrap(), b"ID=test\n");
    assert_eq!(fs.read("/lib/os-release").unwrap(), b"ID=test\n");
    assert_eq!(fs.read("/escape").unwrap(), b"ID=test\n");
    assert_eq!(
        fs.resolve("/lib/os-release").unwrap().path,
        "/usr/lib/os-release"
    );
    assert_eq!(fs.get("/etc/os-release").unwrap().kind, Kind::Symlink);
    assert!(fs.resolve("/loop1").is_none());
    assert!(fs.read("/loop1").is_none());
    assert!(fs.read("/lib/big").is_none(), "over the size limit");
    assert!(fs.read("/usr/lib/big").is_none());
}

#[tokio::test]
async fn same_layer_symlinks_are_followed_in_the_first_pass() {
    let img = image(vec![gz_layer(&[
        E::Sym("etc/os-release", "../usr/lib/os-release"),
        E::File("usr/lib/os-release", 0o644, b"ID=one\n"),
    ])]);
    let req = ContentRequest::new().path("/etc/os-release");
    let fs = read(&img, &req).await.unwrap();
    assert_eq!(fs.read("/etc/os-release").unwrap(), b"ID=one\n");
    assert_eq!(img.0.blob_reads.load(Ordering::SeqCst), 1, "one pass only");
    // Parents that the tar does not list are directories.
    assert_eq!(fs.get("/usr/lib").unwrap().kind, Kind::Dir);
}

#[tokio::test]
async fn traversal_is_refused() {
    for name in ["../evil", "a/../../evil", "/etc/abs"] {
        let tar = tar_of(&[E::RawFile(name)]);
        let img = image(vec![Layer {
            blob: gzip(&tar),
            tar,
            media_type: GZIP,
        }]);
        let err = read(&img, &ContentRequest::new()).await.unwrap_err();
        assert!(
            matches!(&err, FsError::Traversal { path, .. } if path == name),
            "{name}: {err}"
        );
        assert!(err.to_string().contains("refusing tar entry"), "{err}");
    }
    let img = image(vec![gz_layer(&[E::Hard("x", "../../etc/shadow")])]);
    let err = read(&img, &ContentRequest::new()).await.unwrap_err();
    assert!(matches!(err, FsError::Traversal { .. }), "{err}");
}

#[tokio::test]
async fn digest_and_diff_id_mismatches_are_errors() {
    // The blob's bytes differ from what the descriptor says.
    let mut img = image(vec![gz_layer(&[E::File("f", 0o644, b"f")])]);
    let d = img.1.layers[0].digest.clone();
    let other = gzip(&tar_of(&[E::File("g", 0o644, b"g")]));
    img.1.layers[0].size = other.len() as u64;
    img.0.blobs.lock().unwrap().insert(d, other);
    let err = read(&img, &ContentRequest::new()).await.unwrap_err();
    assert!(matches!(err, FsError::Digest { index: 0, .. }), "{err}");
    assert_eq!(err.kind(), plinth_oci::ErrorKind::Integrity);

    // Truncated.
    let img = image(vec![gz_layer(&[E::File("f", 0o644, b"f")])]);
    let d = img.1.layers[0].digest.clone();
    img.0
        .blobs
        .lock()
        .unwrap()
        .get_mut(&d)
        .unwrap()
        .truncate(10);
    let err = read(&img, &ContentRequest::new()).await.unwrap_err();
    assert!(matches!(err, FsError::Digest { .. }), "{err}");

    // The config's diff id is wrong.
    let mut img = image(vec![gz_layer(&[E::File("f", 0o644, b"f")])]);
    img.2.rootfs.as_mut().unwrap().diff_ids[0] = Digest::sha256(b"something else");
    let err = read(&img, &ContentRequest::new()).await.unwrap_err();
    assert!(matches!(err, FsError::DiffId { index: 0, .. }), "{err}");
    assert!(err.to_string().contains("diff id mismatch"), "{err}");

    // Layer count and diff ids disagree.
    let mut img = image(vec![gz_layer(&[E::File("f", 0o644, b"f")])]);
    img.2.rootfs.as_mut().unwrap().diff_ids.clear();
    let err = read(&img, &ContentRequest::new()).await.unwrap_err();
    assert!(matches!(err, FsError::LayerCount { .. }), "{err}");
}

#[tokio::test]
async fn zstd_plain_multi_member_gzip_and_padding() {
    let t0 = tar_of(&[E::File("zst", 0o644, b"z")]);
    let mut t1 = tar_of(&[E::File("plain", 0o644, b"p")]);
    // Padding after the end-of-archive blocks is part of the diff id.
    t1.extend_from_slice(&[0u8; 10240]);
    let t1_len = t1.len() as u64;
    let t2 = tar_of(&[
        E::File("multi", 0o644, b"m"),
        E::Fifo("fifo"),
        E::Char("null", 1, 3),
    ]);
    let (a, b) = t2.split_at(700);
    let mut multi = gzip(a);
    multi.extend(gzip(b));
    let img = image(vec![
        Layer {
            blob: zstd(&t0),
            tar: t0,
            media_type: ZSTD,
        },
        Layer {
            blob: t1.clone(),
            tar: t1,
            media_type: TAR,
        },
        Layer {
            blob: multi,
            tar: t2,
            media_type: GZIP,
        },
    ]);
    let req = ContentRequest::new().glob("/*");
    let fs = read(&img, &req).await.unwrap();
    assert_eq!(fs.read("/zst").unwrap(), b"z");
    assert_eq!(fs.read("/plain").unwrap(), b"p");
    assert_eq!(fs.read("/multi").unwrap(), b"m");
    assert_eq!(fs.get("/fifo").unwrap().kind, Kind::Fifo);
    assert_eq!(fs.get("/null").unwrap().kind, Kind::CharDevice);
    assert_eq!(fs.layers()[1].uncompressed_size, t1_len);
}

#[tokio::test]
async fn the_store_makes_warm_reads_skip_layers() {
    let store_dir = tempfile::tempdir().unwrap();
    let mut img = image(vec![
        gz_layer(&[
            E::Sym("etc/os-release", "../usr/lib/os-release"),
            E::File("etc/passwd", 0o644, b"root:x:0:0::/root:/bin/sh\n"),
        ]),
        gz_layer(&[E::File("usr/lib/os-release", 0o644, b"ID=warm\n")]),
    ]);
    img.0.registry_like = true;
    let opts = ReadOptions {
        store: Some(plinth_oci::store::Store::at(store_dir.path())),
        ..Default::default()
    };
    let req = ContentRequest::new().path("/etc/os-release");
    let cold = read_image(&img.0, &img.1, &img.2, &req, &opts)
        .await
        .unwrap();
    assert_eq!(cold.read("/etc/os-release").unwrap(), b"ID=warm\n");
    // Both blobs were teed into the store on the first read.
    for l in &img.1.layers {
        assert!(opts.store.as_ref().unwrap().blobs().has(l).await.unwrap());
    }

    img.0.deny_blobs.store(true, Ordering::SeqCst);
    let warm = read_image(&img.0, &img.1, &img.2, &req, &opts)
        .await
        .unwrap();
    assert_eq!(warm.read("/etc/os-release").unwrap(), b"ID=warm\n");
    assert_eq!(warm.layers(), cold.layers());
    assert_eq!(
        warm.iter().cloned().collect::<Vec<_>>(),
        cold.iter().cloned().collect::<Vec<_>>()
    );
    // A new request streams the stored blob, not the source.
    let other = ContentRequest::new().path("/etc/passwd");
    let warm2 = read_image(&img.0, &img.1, &img.2, &other, &opts)
        .await
        .unwrap();
    assert!(warm2.read("/etc/passwd").unwrap().starts_with(b"root:"));
    // The export reads the stored blobs too.
    let (tar, _) = export_tar(&img.0, &img.1, &img.2, &warm2, Vec::new(), &opts)
        .await
        .unwrap();
    assert_eq!(tar_entries(&tar)["usr/lib/os-release"].2, b"ID=warm\n");
}

#[tokio::test]
async fn a_bad_blob_never_enters_the_store() {
    let store_dir = tempfile::tempdir().unwrap();
    let mut img = image(vec![gz_layer(&[E::File("f", 0o644, b"f")])]);
    img.0.registry_like = true;
    img.2.rootfs.as_mut().unwrap().diff_ids[0] = Digest::sha256(b"wrong");
    let store = plinth_oci::store::Store::at(store_dir.path());
    let opts = ReadOptions {
        store: Some(store.clone()),
        ..Default::default()
    };
    assert!(
        read_image(&img.0, &img.1, &img.2, &ContentRequest::new(), &opts)
            .await
            .is_err()
    );
    assert!(!store.blobs().has(&img.1.layers[0]).await.unwrap());
    assert_eq!(store.du().unwrap().blobs, 0, "no temp file left behind");
}

#[tokio::test]
async fn export_writes_every_final_path_once() {
    let img = image(vec![
        gz_layer(&[
            E::Dir("etc", 0o755),
            E::File("etc/a", 0o644, b"old"),
            E::File("etc/gone", 0o644, b"x"),
            E::Dir("tmp", 0o1777),
            E::File("usr/bin/su", 0o4755, b"su"),
            E::Sym("bin", "usr/bin"),
            E::Char("dev/null", 1, 3),
        ]),
        gz_layer(&[
            E::File("etc/a", 0o600, b"new"),
            E::File("etc/.wh.gone", 0o644, b""),
        ]),
    ]);
    let fs = read(&img, &ContentRequest::new()).await.unwrap();
    let (tar, stats) = export(&img, &fs).await;
    let mut ar = tar::Archive::new(&tar[..]);
    let mut seen = BTreeMap::new();
    for e in ar.entries().unwrap() {
        let e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let h = e.header();
        assert!(
            seen.insert(p.clone(), (h.mode().unwrap(), h.entry_type()))
                .is_none(),
            "{p} twice"
        );
    }
    assert_eq!(seen["tmp/"].0, 0o1777);
    assert_eq!(seen["usr/bin/su"].0, 0o4755);
    assert_eq!(seen["etc/a"].0, 0o600);
    assert_eq!(seen["dev/null"].1, tar::EntryType::Char);
    assert!(!seen.contains_key("etc/gone"));
    let entries = tar_entries(&tar);
    assert_eq!(entries["etc/a"].2, b"new");
    assert_eq!(entries["bin"], ('2', Some("usr/bin".into()), vec![]));
    assert_eq!(stats.entries as usize, seen.len());
}

#[tokio::test]
async fn pax_records_are_read_and_xattrs_exported() {
    let img = image(vec![gz_layer(&[E::XattrFile(
        "usr/bin/ping",
        "security.capability",
        b"\x01\x00\x00\x02\x00\x20\x00\x00",
    )])]);
    let fs = read(&img, &ContentRequest::new()).await.unwrap();
    assert_eq!(fs.get("/usr/bin/ping").unwrap().uid, 3_000_000);
    let (tar, _) = export(&img, &fs).await;
    let mut ar = tar::Archive::new(&tar[..]);
    let mut found = false;
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_str() != Some("usr/bin/ping") {
            continue;
        }
        let exts: Vec<(String, Vec<u8>)> = e
            .pax_extensions()
            .unwrap()
            .expect("a PAX header")
            .map(|x| {
                let x = x.unwrap();
                (x.key().unwrap().to_string(), x.value_bytes().to_vec())
            })
            .collect();
        assert_eq!(
            exts,
            [(
                "SCHILY.xattr.security.capability".to_string(),
                b"\x01\x00\x00\x02\x00\x20\x00\x00".to_vec()
            )]
        );
        assert_eq!(e.header().uid().unwrap(), 3_000_000);
        found = true;
    }
    assert!(found);
}

/// path → (type flag, link target, content)
fn tar_entries(tar: &[u8]) -> BTreeMap<String, (char, Option<String>, Vec<u8>)> {
    let mut ar = tar::Archive::new(tar);
    let mut out = BTreeMap::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let t = e.header().entry_type().as_byte() as char;
        let l = e
            .link_name()
            .unwrap()
            .map(|l| l.to_string_lossy().into_owned());
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.insert(p, (t, l, data));
    }
    out
}

#[tokio::test]
async fn a_memo_streams_a_shared_layer_once_for_concurrent_reads() {
    let base = || gz_layer(&[E::File("etc/os-release", 0o644, b"ID=shared\n")]);
    let a = image(vec![base(), gz_layer(&[E::File("a", 0o644, b"from a")])]);
    let b = image(vec![base(), gz_layer(&[E::File("b", 0o644, b"from b")])]);
    let opts = ReadOptions {
        memo: Some(plinth_fs::LayerMemo::new()),
        ..Default::default()
    };
    let req = ContentRequest::new().path("/etc/os-release");
    let (fa, fb) = tokio::join!(
        read_image(&a.0, &a.1, &a.2, &req, &opts),
        read_image(&b.0, &b.1, &b.2, &req, &opts)
    );
    let (fa, fb) = (fa.unwrap(), fb.unwrap());
    assert_eq!(fa.read("/etc/os-release").unwrap(), b"ID=shared\n");
    assert_eq!(fb.read("/etc/os-release").unwrap(), b"ID=shared\n");
    assert!(fa.get("/a").is_some() && fa.get("/b").is_none());
    assert!(fb.get("/b").is_some() && fb.get("/a").is_none());
    // Three distinct layers, three blob reads in all: the base was streamed once.
    let reads = a.0.blob_reads.load(Ordering::SeqCst) + b.0.blob_reads.load(Ordering::SeqCst);
    assert_eq!(reads, 3);
    assert_eq!(opts.memo.as_ref().unwrap().len(), 3);
}

#[tokio::test]
async fn files_of_a_hashed_layer_have_content_digests_also_from_the_store() {
    let store_dir = tempfile::tempdir().unwrap();
    let mut img = image(vec![
        gz_layer(&[E::File("lower", 0o644, b"lower bytes")]),
        gz_layer(&[
            E::File("upper", 0o644, b"upper bytes"),
            E::File("kept", 0o644, b"kept bytes"),
        ]),
    ]);
    img.0.registry_like = true;
    let opts = ReadOptions {
        store: Some(plinth_oci::store::Store::at(store_dir.path())),
        ..Default::default()
    };
    // A first read without hashes fills the store's layer index.
    read_image(&img.0, &img.1, &img.2, &ContentRequest::new(), &opts)
        .await
        .unwrap();
    let req = ContentRequest::new()
        .path("/kept")
        .hash_files_of(&img.1.layers[1].digest);
    let fs = read_image(&img.0, &img.1, &img.2, &req, &opts)
        .await
        .unwrap();
    assert_eq!(
        fs.content_digest("/upper"),
        Some(&Digest::sha256(b"upper bytes"))
    );
    assert_eq!(
        fs.content_digest("/kept"),
        Some(&Digest::sha256(b"kept bytes"))
    );
    assert_eq!(fs.content_digest("/lower"), None, "layer 0 was not hashed");
    // The hashes are kept in the index: a warm read needs no blob.
    img.0.deny_blobs.store(true, Ordering::SeqCst);
    let warm = read_image(&img.0, &img.1, &img.2, &req, &opts)
        .await
        .unwrap();
    assert_eq!(
        warm.content_digest("/upper"),
        Some(&Digest::sha256(b"upper bytes"))
    );
}
