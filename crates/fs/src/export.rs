//! The flattened filesystem as one tar.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use plinth_oci::{ConfigFile, ImageManifest, Source};

use crate::error::FsError;
use crate::layer::walk;
use crate::merged::{Extra, MergedFs, Node, Origin};
use crate::meta::Kind;
use crate::read::{ReadOptions, layer_infos, open_layer, progress_fn};

/// What [`export_tar`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportStats {
    /// Tar entries written.
    pub entries: u64,
    /// Bytes of file content written.
    pub bytes: u64,
    /// Layers streamed for file contents.
    pub layers_read: u64,
}

/// Files that share one content origin: the first is written with the bytes, the others as
/// hard links to it.
struct Group {
    paths: Vec<String>,
}

fn rel(path: &str) -> String {
    path.trim_start_matches('/').to_string()
}

fn header_for(n: &Node, kind: Kind) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    let m = &n.meta;
    h.set_mode(m.mode);
    h.set_uid(m.uid);
    h.set_gid(m.gid);
    h.set_mtime(m.mtime.max(0) as u64);
    h.set_size(0);
    h.set_entry_type(match kind {
        Kind::File => tar::EntryType::Regular,
        Kind::Dir => tar::EntryType::Directory,
        Kind::Symlink => tar::EntryType::Symlink,
        Kind::Hardlink => tar::EntryType::Link,
        Kind::CharDevice => tar::EntryType::Char,
        Kind::BlockDevice => tar::EntryType::Block,
        Kind::Fifo => tar::EntryType::Fifo,
    });
    if let Some(Extra {
        dev: Some((major, minor)),
        ..
    }) = n.extra.as_deref()
    {
        let _ = h.set_device_major(*major);
        let _ = h.set_device_minor(*minor);
    }
    h
}

/// Writes a PAX extended header carrying `n`'s extended attributes, when it has any.
fn write_xattrs<W: Write>(b: &mut tar::Builder<W>, n: &Node) -> io::Result<()> {
    let Some(extra) = n.extra.as_deref() else {
        return Ok(());
    };
    if extra.xattrs.is_empty() {
        return Ok(());
    }
    let mut data = Vec::new();
    for (name, value) in &extra.xattrs {
        let key = format!("SCHILY.xattr.{name}");
        // "LEN KEY=VALUE\n" where LEN counts itself.
        let body = key.len() + value.len() + 3;
        let mut len = body + body.to_string().len();
        if len.to_string().len() != body.to_string().len() {
            len += 1;
        }
        data.extend_from_slice(format!("{len} {key}=").as_bytes());
        data.extend_from_slice(value);
        data.push(b'\n');
    }
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_path("PaxHeaders/entry")?;
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.set_cksum();
    b.append(&h, &data[..])
}

/// Writes one entry that carries no bytes (directory, symlink, device, fifo, hard link).
fn write_plain<W: Write>(
    b: &mut tar::Builder<W>,
    n: &Node,
    kind: Kind,
    link: Option<&str>,
) -> io::Result<()> {
    write_xattrs(b, n)?;
    let mut h = header_for(n, kind);
    let path = if n.meta.path == "/" {
        "./".to_string()
    } else if kind == Kind::Dir {
        format!("{}/", rel(&n.meta.path))
    } else {
        rel(&n.meta.path)
    };
    match link {
        Some(l) => b.append_link(&mut h, &path, l),
        None => {
            h.set_cksum();
            b.append_data(&mut h, &path, io::empty())
        }
    }
}

/// Writes the flattened filesystem of an image as one tar to `out`, and returns `out`.
///
/// `fs` is the image's [`MergedFs`] (from [`crate::read_image`]; its metadata decides what is
/// written, so no content needs to have been kept). Directories, symlinks, devices and fifos
/// come first, in path order; then the layers that hold file contents are streamed again, in
/// order, and each final regular file is written from the layer entry that last wrote it, with
/// its mode, owner, mtime and extended attributes. Paths that share content through hard links
/// are written once, the others as hard links to it, even when the original link target was
/// later removed or replaced. Entries are written with GNU long names.
pub async fn export_tar<W: Write + Send + 'static>(
    src: &dyn Source,
    manifest: &ImageManifest,
    config: &ConfigFile,
    fs: &MergedFs,
    out: W,
    opts: &ReadOptions,
) -> Result<(W, ExportStats), FsError> {
    let layers = layer_infos(manifest, config)?;
    let io_err = |e: io::Error| FsError::io("writing the tar", e);
    let mut stats = ExportStats::default();

    // Group files by content origin; the primary is the path whose own entry holds the bytes
    // when it is still there, else the first path in order.
    let mut groups: BTreeMap<Origin, Group> = BTreeMap::new();
    let mut plain: Vec<(Node, Kind, Option<String>)> = Vec::new();
    for n in fs.nodes.values() {
        match (n.meta.kind, n.origin) {
            (Kind::File | Kind::Hardlink, Some(o)) => {
                let g = groups.entry(o).or_insert(Group { paths: Vec::new() });
                if n.meta.kind == Kind::File {
                    g.paths.insert(0, n.meta.path.clone());
                } else {
                    g.paths.push(n.meta.path.clone());
                }
            }
            (Kind::File, None) => {}
            (Kind::Hardlink, None) => {
                // A link to something that is not a regular file (a symlink, a device): write
                // a copy of what it pointed to when that is still there.
                if let Some(t) = n.meta.link.as_deref().and_then(|t| fs.node(t))
                    && !matches!(t.meta.kind, Kind::Dir | Kind::File | Kind::Hardlink)
                {
                    let mut copy = t.clone();
                    copy.meta.path = n.meta.path.clone();
                    let link = t.meta.link.clone();
                    plain.push((copy, t.meta.kind, link));
                }
            }
            (kind, _) => plain.push((n.clone(), kind, n.meta.link.clone())),
        }
    }

    let mut by_layer: BTreeMap<u32, HashMap<u32, Vec<Node>>> = BTreeMap::new();
    for (o, g) in groups {
        let nodes: Vec<Node> = g
            .paths
            .iter()
            .map(|p| fs.node(p).expect("grouped from fs").clone())
            .collect();
        by_layer
            .entry(o.layer)
            .or_default()
            .insert(o.ordinal, nodes);
    }

    let mut builder = tar::Builder::new(out);
    builder.mode(tar::HeaderMode::Complete);
    let n_plain = plain.len() as u64;
    let mut builder = join(tokio::task::spawn_blocking(move || {
        for (n, kind, link) in &plain {
            write_plain(&mut builder, n, *kind, link.as_deref())?;
        }
        Ok::<_, io::Error>(builder)
    }))
    .await
    .map_err(io_err)?;
    stats.entries += n_plain;

    for (layer, wanted) in by_layer {
        let info = layers[layer as usize].clone();
        let (input, tee) = open_layer(src, &info, opts).await?;
        let progress = progress_fn(opts, &info);
        let (b, written, bytes) = join(tokio::task::spawn_blocking(move || {
            let mut b = builder;
            let mut written = 0u64;
            let mut bytes = 0u64;
            walk(input, &info, tee, progress, |i, e| {
                let Some(nodes) = wanted.get(&i) else {
                    return Ok(());
                };
                let first = &nodes[0];
                let size = e.size();
                let werr = |err: io::Error| FsError::io("writing the tar", err);
                write_xattrs(&mut b, first).map_err(werr)?;
                let mut h = header_for(first, Kind::File);
                h.set_size(size);
                h.set_cksum();
                b.append_data(&mut h, rel(&first.meta.path), e)
                    .map_err(werr)?;
                written += 1;
                bytes += size;
                let target = rel(&first.meta.path);
                for other in &nodes[1..] {
                    write_plain(&mut b, other, Kind::Hardlink, Some(&target)).map_err(werr)?;
                    written += 1;
                }
                Ok(())
            })?;
            Ok::<_, FsError>((b, written, bytes))
        }))
        .await?;
        if let Some(p) = &opts.progress {
            p.done(
                &layers[layer as usize].desc,
                plinth_oci::source::BlobAction::Copied,
            );
        }
        builder = b;
        stats.entries += written;
        stats.bytes += bytes;
        stats.layers_read += 1;
    }
    let out = join(tokio::task::spawn_blocking(move || builder.into_inner()))
        .await
        .map_err(io_err)?;
    Ok((out, stats))
}

async fn join<T>(task: tokio::task::JoinHandle<T>) -> T {
    match task.await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}
