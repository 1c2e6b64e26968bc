//! Reading selected files out of image layers and tar archives.
//!
//! Used where a build needs files it does not have on the host: `COPY --from=IMAGE`,
//! `--with-from IMAGE`, and `ADD` of a local tar. Layers are streamed once each, decompressed
//! and verified on the way; the bytes of the selected files are appended to one data file and
//! referenced by range, so nothing is held in memory. Whiteouts (`.wh.NAME`, `.wh..wh..opq`)
//! of each layer remove what lower layers provided, as an overlay filesystem would.

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use plinth_oci::digest::Verifier;
use plinth_oci::media::{self, Compression};
use tokio_util::io::SyncIoBridge;

use crate::error::{BuildError, Result};
use crate::layer::{Content, Entry, Kind, Tree, clean_path};
use crate::mutate::LayerRef;

/// A data file holding extracted file contents.
pub struct DataFile {
    path: Arc<std::path::PathBuf>,
    file: std::fs::File,
    len: u64,
    _temp: Arc<tempfile::TempPath>,
}

impl DataFile {
    /// A new data file in `dir`.
    pub fn create(dir: &Path) -> Result<DataFile> {
        let tmp = tempfile::Builder::new()
            .prefix(".plinth-data-")
            .tempfile_in(dir)
            .map_err(|e| BuildError::io(dir, e))?;
        let (file, temp) = tmp.into_parts();
        Ok(DataFile {
            path: Arc::new(temp.to_path_buf()),
            file,
            len: 0,
            _temp: Arc::new(temp),
        })
    }

    fn append(&mut self, r: &mut impl Read) -> io::Result<(u64, u64)> {
        let start = self.len;
        let n = io::copy(r, &mut self.file)?;
        self.len += n;
        Ok((start, n))
    }

    /// Keeps the temp file alive as long as the returned handle lives.
    pub fn keep_alive(&self) -> Arc<tempfile::TempPath> {
        self._temp.clone()
    }
}

/// Decompresses by sniffing the first bytes (gzip, zstd, or a plain tar); bzip2 and xz are
/// refused.
pub fn decompressor<'a, R: Read + 'a>(mut r: R) -> io::Result<Box<dyn Read + 'a>> {
    let mut head = [0u8; 6];
    let mut got = 0;
    while got < head.len() {
        let n = r.read(&mut head[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let chained = io::Cursor::new(head[..got].to_vec()).chain(r);
    if head[..got].starts_with(b"BZh") || head[..got].starts_with(&[0xfd, b'7', b'z', b'X', b'Z']) {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "bzip2 and xz archives are not supported (gzip, zstd and plain tar are)",
        ));
    }
    Ok(match media::sniff_compression(&head[..got]) {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(chained)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(chained)?),
        Compression::None => Box::new(chained),
    })
}

/// Whether the first bytes of a file look like a tar archive (plain or compressed) — what
/// `ADD` auto-extracts.
pub fn looks_like_archive(path: &Path) -> bool {
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(mut r) = decompressor(f) else {
        return false;
    };
    let mut block = vec![0u8; 512];
    let mut got = 0;
    while got < 512 {
        match r.read(&mut block[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(_) => return false,
        }
    }
    got == 512 && &block[257..262] == b"ustar" && {
        let h = tar::Header::from_byte_slice(&block);
        h.cksum().ok() == Some(checksum(&block))
    }
}

fn checksum(block: &[u8]) -> u32 {
    block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                b as u32
            }
        })
        .sum()
}

/// Reads a tar stream into `tree`, keeping paths `want` accepts; file bytes go to `data`.
/// With `whiteouts`, `.wh.` entries remove paths of `tree` (as a layer over lower layers).
fn read_tar(
    r: impl Read,
    tree: &mut Tree,
    data: &mut DataFile,
    want: &dyn Fn(&str) -> bool,
    whiteouts: bool,
) -> io::Result<()> {
    let mut archive = tar::Archive::new(r);
    let mut layer = Tree::new();
    let mut removed: Vec<(String, bool)> = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let raw = entry.path()?.to_string_lossy().into_owned();
        let path = clean_path(&raw);
        if path.is_empty() {
            continue;
        }
        let (dir, name) = match path.rfind('/') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => ("", path.as_str()),
        };
        if whiteouts && name == ".wh..wh..opq" {
            removed.push((dir.to_string(), true));
            continue;
        }
        if whiteouts && let Some(gone) = name.strip_prefix(".wh.") {
            let p = if dir.is_empty() {
                gone.to_string()
            } else {
                format!("{dir}/{gone}")
            };
            removed.push((p, false));
            continue;
        }
        if !want(&path) {
            continue;
        }
        let h = entry.header();
        let mode = h.mode()? & 0o7777;
        let uid = h.uid()?;
        let gid = h.gid()?;
        let mtime = h.mtime()?;
        let kind = match h.entry_type() {
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let (offset, len) = data.append(&mut entry)?;
                Kind::File {
                    content: Content::Range {
                        file: data.path.clone(),
                        offset,
                        len,
                    },
                    size: len,
                }
            }
            tar::EntryType::Symlink => Kind::Symlink(
                entry
                    .link_name()?
                    .map(|l| l.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            tar::EntryType::Link => {
                let target = entry
                    .link_name()?
                    .map(|l| clean_path(&l.to_string_lossy()))
                    .unwrap_or_default();
                // Resolved to a copy of the target: the tree may be copied elsewhere.
                match layer.get(&target).or_else(|| tree.get(&target)) {
                    Some(Entry {
                        kind: k @ Kind::File { .. },
                        ..
                    }) => k.clone(),
                    _ => continue,
                }
            }
            _ => continue, // devices, FIFOs: not for builds
        };
        layer.insert(
            &path,
            Entry {
                kind,
                mode,
                uid,
                gid,
                mtime,
            },
        );
    }
    for (p, opaque) in removed {
        if opaque {
            let keep = tree.get(&p).cloned();
            tree.remove_all(&p);
            if let Some(k) = keep {
                tree.insert(&p, k);
            }
        } else {
            tree.remove_all(&p);
        }
    }
    tree.merge(&layer);
    Ok(())
}

/// Extracts the files of a local tar archive (plain, gzip or zstd), blocking.
pub fn read_archive(path: &Path, data: &mut DataFile) -> Result<Tree> {
    let f = std::fs::File::open(path).map_err(|e| BuildError::io(path, e))?;
    let r = decompressor(f).map_err(|e| BuildError::io(path, e))?;
    let mut tree = Tree::new();
    read_tar(r, &mut tree, data, &|_| true, false).map_err(|e| BuildError::io(path, e))?;
    Ok(tree)
}

/// Reads the files `want` accepts from `layers` (base first), merged as an overlay.
pub async fn extract(
    layers: &[LayerRef],
    want: Arc<dyn Fn(&str) -> bool + Send + Sync>,
    temp_dir: &Path,
) -> Result<(Tree, Arc<tempfile::TempPath>)> {
    let data = DataFile::create(temp_dir)?;
    let keep = data.keep_alive();
    let mut state = (Tree::new(), data);
    for layer in layers {
        let stream = crate::mutate::open_blob(&layer.descriptor, &layer.from).await?;
        let desc = layer.descriptor.clone();
        let want = want.clone();
        let (tree, mut data) = state;
        state = tokio::task::spawn_blocking(move || -> Result<(Tree, DataFile)> {
            let mut tree = tree;
            let bridge = SyncIoBridge::new(stream);
            let mut hashing = VerifyingReader {
                inner: bridge,
                verifier: Verifier::new(&desc.digest, Some(desc.size)),
            };
            let what =
                |e: io::Error| BuildError::Invalid(format!("reading layer {}: {e}", desc.digest));
            {
                let r = decompressor(&mut hashing).map_err(what)?;
                let mut r = r;
                read_tar(&mut r, &mut tree, &mut data, &*want, true).map_err(what)?;
                io::copy(&mut r, &mut io::sink()).map_err(what)?;
            }
            io::copy(&mut hashing, &mut io::sink()).map_err(what)?;
            hashing.verifier.finish().map_err(|source| {
                BuildError::Oci(plinth_oci::Error::Verify {
                    what: format!("layer {}", desc.digest),
                    source,
                })
            })?;
            data.file.flush().map_err(what)?;
            Ok((tree, data))
        })
        .await
        .map_err(|e| BuildError::Invalid(format!("layer reader failed: {e}")))??;
    }
    Ok((state.0, keep))
}

struct VerifyingReader<R> {
    inner: R,
    verifier: Verifier,
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.verifier
            .update(&buf[..n])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(n)
    }
}

/// A filter accepting `paths` (cleaned), everything below them, and their parents.
pub fn want_paths(paths: &[String]) -> Arc<dyn Fn(&str) -> bool + Send + Sync> {
    let paths: Vec<String> = paths.iter().map(|p| clean_path(p)).collect();
    Arc::new(move |p: &str| {
        paths.iter().any(|w| {
            w.is_empty()
                || p == w
                || p.starts_with(&format!("{w}/"))
                || w.starts_with(&format!("{p}/"))
        })
    })
}
