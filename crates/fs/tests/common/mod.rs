//! Synthetic images: layers built in memory, served by an in-memory source.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use plinth_oci::manifest::RootFs;
use plinth_oci::source::{BlobOrigin, BlobStream};
use plinth_oci::{ConfigFile, Descriptor, Digest, ImageManifest, RawManifest, Source};

pub const GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// One tar entry.
pub enum E {
    File(&'static str, u32, &'static [u8]),
    Dir(&'static str, u32),
    Sym(&'static str, &'static str),
    Hard(&'static str, &'static str),
    /// A raw name written into the header as is (for traversal tests).
    RawFile(&'static str),
    Fifo(&'static str),
    Char(&'static str, u32, u32),
    /// A file preceded by a PAX header with one extended attribute and a large uid.
    XattrFile(&'static str, &'static str, &'static [u8]),
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h.set_size(size);
    h
}

pub fn tar_of(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        match e {
            E::File(p, mode, data) => {
                let mut h = header(tar::EntryType::Regular, *mode, data.len() as u64);
                b.append_data(&mut h, p, *data).unwrap();
            }
            E::Dir(p, mode) => {
                let mut h = header(tar::EntryType::Directory, *mode, 0);
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            E::Sym(p, t) => {
                let mut h = header(tar::EntryType::Symlink, 0o777, 0);
                b.append_link(&mut h, p, t).unwrap();
            }
            E::Hard(p, t) => {
                let mut h = header(tar::EntryType::Link, 0o644, 0);
                b.append_link(&mut h, p, t).unwrap();
            }
            E::Fifo(p) => {
                let mut h = header(tar::EntryType::Fifo, 0o644, 0);
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            E::Char(p, major, minor) => {
                let mut h = header(tar::EntryType::Char, 0o666, 0);
                h.set_device_major(*major).unwrap();
                h.set_device_minor(*minor).unwrap();
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            E::XattrFile(p, name, value) => {
                let mut records = Vec::new();
                for (k, v) in [
                    (format!("SCHILY.xattr.{name}"), value.to_vec()),
                    ("uid".to_string(), b"3000000".to_vec()),
                ] {
                    let body = k.len() + v.len() + 3;
                    let mut len = body + body.to_string().len();
                    if len.to_string().len() != body.to_string().len() {
                        len += 1;
                    }
                    records.extend_from_slice(format!("{len} {k}=").as_bytes());
                    records.extend_from_slice(&v);
                    records.push(b'\n');
                }
                let mut h = header(tar::EntryType::XHeader, 0o644, records.len() as u64);
                h.set_path("PaxHeaders/x").unwrap();
                h.set_cksum();
                b.append(&h, &records[..]).unwrap();
                let mut h = header(tar::EntryType::Regular, 0o755, 2);
                b.append_data(&mut h, p, &b"cp"[..]).unwrap();
            }
            E::RawFile(name) => {
                let mut h = header(tar::EntryType::Regular, 0o644, 1);
                let field = &mut h.as_old_mut().name;
                field.fill(0);
                field[..name.len()].copy_from_slice(name.as_bytes());
                h.set_cksum();
                b.append(&h, &b"x"[..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

/// A layer: the uncompressed tar, its media type and the blob bytes.
pub struct Layer {
    pub tar: Vec<u8>,
    pub media_type: &'static str,
    pub blob: Vec<u8>,
}

pub fn gz_layer(entries: &[E]) -> Layer {
    let tar = tar_of(entries);
    Layer {
        blob: gzip(&tar),
        tar,
        media_type: GZIP,
    }
}

/// An in-memory image source; blob requests can be counted and refused.
#[derive(Default)]
pub struct Mem {
    pub blobs: Mutex<HashMap<Digest, Vec<u8>>>,
    pub blob_reads: AtomicUsize,
    pub deny_blobs: AtomicBool,
    pub registry_like: bool,
}

#[async_trait]
impl Source for Mem {
    fn name(&self) -> String {
        "mem".into()
    }
    async fn root(&self) -> plinth_oci::Result<RawManifest> {
        Err(plinth_oci::Error::NotFound("root".into()))
    }
    async fn manifest(&self, _desc: &Descriptor) -> plinth_oci::Result<RawManifest> {
        Err(plinth_oci::Error::NotFound("manifest".into()))
    }
    async fn blob(&self, desc: &Descriptor) -> plinth_oci::Result<BlobStream> {
        if self.deny_blobs.load(Ordering::SeqCst) {
            return Err(plinth_oci::Error::NotFound(format!(
                "blob {} (blobs denied)",
                desc.digest
            )));
        }
        self.blob_reads.fetch_add(1, Ordering::SeqCst);
        let bytes = self
            .blobs
            .lock()
            .unwrap()
            .get(&desc.digest)
            .cloned()
            .ok_or_else(|| plinth_oci::Error::NotFound(desc.digest.to_string()))?;
        Ok(Box::pin(std::io::Cursor::new(bytes)))
    }
    fn origin(&self) -> Option<BlobOrigin> {
        self.registry_like.then(|| BlobOrigin {
            registry: "mem".into(),
            repository: "test".into(),
        })
    }
}

/// An image of `layers`, base first.
pub fn image(layers: Vec<Layer>) -> (Mem, ImageManifest, ConfigFile) {
    let mem = Mem::default();
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for l in layers {
        let d = Digest::sha256(&l.blob);
        descs.push(Descriptor::new(
            l.media_type,
            d.clone(),
            l.blob.len() as u64,
        ));
        diff_ids.push(Digest::sha256(&l.tar));
        mem.blobs.lock().unwrap().insert(d, l.blob);
    }
    let config = ConfigFile {
        architecture: "amd64".into(),
        os: "linux".into(),
        rootfs: Some(RootFs {
            kind: "layers".into(),
            diff_ids,
        }),
        ..Default::default()
    };
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some("application/vnd.oci.image.manifest.v1+json".into()),
        artifact_type: None,
        config: Descriptor::new(
            "application/vnd.oci.image.config.v1+json",
            Digest::sha256(&config_bytes),
            config_bytes.len() as u64,
        ),
        layers: descs,
        subject: None,
        annotations: None,
        extra: Default::default(),
    };
    (mem, manifest, config)
}
