//! `plinth ls`: the merged filesystem of an image, or what one layer changes.

use plinth_fs::{ContentRequest, FileMeta, LayerChange, MergedFs, ReadOptions, read_image};
use plinth_oci::source::{BlobAction, Progress, SharedProgress};
use plinth_oci::{ConfigFile, Descriptor, Digest, ImageManifest, Platform, RawManifest, Source};

use crate::Global;
use crate::cmd::manifest::{read_blob, select_platform};
use crate::error::{CliError, CliResult, exit};
use crate::image::ImageName;

/// Arguments of `ls`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The image.
    image: String,
    /// The directory (or file) to list; symlinks are followed inside the image.
    #[arg(default_value = "/")]
    path: String,
    /// Long format: mode, owner, size, mtime, layer, link target.
    #[arg(short, long)]
    long: bool,
    /// List everything below PATH, with full paths.
    #[arg(short = 'R', long)]
    recursive: bool,
    /// Show what layer N (0 = base) changes below PATH instead, whiteouts included.
    #[arg(long, value_name = "N")]
    layer: Option<usize>,
    /// JSON output: an array of entries (`path`, `kind`, `mode`, `uid`, `gid`, `size`,
    /// `mtime`, `link`, `layer`); with `--layer`, each also has `change` (`entry`,
    /// `whiteout` or `opaque`).
    #[arg(long)]
    json: bool,
    /// The platform to pick from an index (default: this machine's).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<Platform>,
}

/// An image opened for reading its filesystem.
pub struct Opened {
    /// Where it is.
    pub src: Box<dyn Source>,
    /// The name as parsed (a registry name is normalized).
    pub name: ImageName,
    /// The digest of the index the platform manifest was picked from, when the name names one.
    pub index_digest: Option<Digest>,
    /// The platform manifest's exact bytes.
    pub raw: RawManifest,
    /// The platform manifest.
    pub manifest: ImageManifest,
    /// Its config.
    pub config: ConfigFile,
    /// Read options: the content store, progress on stderr.
    pub opts: ReadOptions,
}

impl Opened {
    /// Reads the merged filesystem, keeping the contents `req` names.
    pub async fn read(&self, req: &ContentRequest) -> CliResult<MergedFs> {
        Ok(read_image(
            self.src.as_ref(),
            &self.manifest,
            &self.config,
            req,
            &self.opts,
        )
        .await?)
    }
}

/// Opens an image name (registry, `oci:`, `docker-archive:`) down to its platform manifest and
/// config.
pub async fn open(g: &Global, image: &str, platform: Option<&Platform>) -> CliResult<Opened> {
    open_shared(g, image, platform, None).await
}

/// [`open`], with layer reads shared through `memo` with other images opened with it (each
/// shared layer is streamed once; see [`plinth_fs::LayerMemo`]).
pub async fn open_shared(
    g: &Global,
    image: &str,
    platform: Option<&Platform>,
    memo: Option<plinth_fs::LayerMemo>,
) -> CliResult<Opened> {
    let opener = g.opener()?;
    let name = ImageName::parse(image)?;
    let src = opener.source(&name)?;
    let root = src.root().await?;
    let index_digest = root.is_index().then(|| root.digest().clone());
    let raw = select_platform(src.as_ref(), root, platform).await?;
    let manifest = raw
        .as_image()
        .ok_or_else(|| {
            CliError::invalid(format!(
                "{}: the manifest ({}) is not an image manifest",
                src.name(),
                raw.media_type()
            ))
        })?
        .clone();
    let bytes = match name.reference() {
        Some(r) => opener.remote(r).blob_bytes(&manifest.config).await?,
        None => read_blob(src.as_ref(), &manifest.config).await?,
    };
    let config = ConfigFile::from_slice(&bytes).map_err(|e| {
        CliError::invalid(format!(
            "{}: config {}: {e}",
            src.name(),
            manifest.config.digest
        ))
    })?;
    let opts = ReadOptions {
        store: Some(opener.store.clone()),
        concurrency: 0,
        progress: Some(std::sync::Arc::new(Reading(crate::progress::for_transfer(
            g.quiet,
        )))),
        memo,
    };
    Ok(Opened {
        src,
        name,
        index_digest,
        raw,
        manifest,
        config,
        opts,
    })
}

/// Progress bars for layer reads: bars while streaming, no "copied" line when a layer is done
/// (nothing was copied anywhere).
struct Reading(SharedProgress);

impl Progress for Reading {
    fn start(&self, desc: &Descriptor) {
        self.0.start(desc)
    }
    fn advance(&self, desc: &Descriptor, n: u64) {
        self.0.advance(desc, n)
    }
    fn done(&self, desc: &Descriptor, _how: BlobAction) {
        self.0.done(desc, BlobAction::Exists)
    }
}

fn time(mtime: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime.max(0) as u64);
    let s = humantime::format_rfc3339_seconds(t).to_string();
    // 2023-11-14T22:13:20Z → 2023-11-14 22:13
    format!("{} {}", &s[..10], &s[11..16])
}

fn long_line(m: &FileMeta, name: &str) -> String {
    let link = match (&m.link, m.kind) {
        (Some(l), plinth_fs::Kind::Symlink) => format!(" -> {l}"),
        (Some(l), plinth_fs::Kind::Hardlink) => format!(" => {l}"),
        _ => String::new(),
    };
    format!(
        "{} {:>5} {:>5} {:>10} {} L{} {name}{link}",
        m.mode_string(),
        m.uid,
        m.gid,
        m.size,
        time(m.mtime),
        m.layer
    )
}

fn under(path: &str, dir: &str) -> bool {
    dir == "/"
        || path == dir
        || (path.starts_with(dir) && path.as_bytes().get(dir.len()) == Some(&b'/'))
}

/// Lists the merged filesystem (or one layer's changes).
pub async fn run(g: &Global, a: Args) -> CliResult {
    let img = open(g, &a.image, a.platform.as_ref()).await?;
    let mut out = String::new();
    if let Some(n) = a.layer {
        let changes =
            plinth_fs::read_layer(img.src.as_ref(), &img.manifest, &img.config, n, &img.opts)
                .await?;
        let dir = plinth_fs::normalize(&a.path);
        let selected: Vec<&LayerChange> = changes
            .iter()
            .filter(|c| match c {
                LayerChange::Entry(m) => under(&m.path, &dir),
                LayerChange::Whiteout { path } | LayerChange::Opaque { path } => under(path, &dir),
            })
            .collect();
        if a.json {
            return crate::print_json(&selected);
        }
        for c in selected {
            match c {
                LayerChange::Entry(m) if a.long => out.push_str(&long_line(m, &m.path)),
                LayerChange::Entry(m) => out.push_str(&m.path),
                LayerChange::Whiteout { path } => out.push_str(&format!("(whiteout) {path}")),
                LayerChange::Opaque { path } => out.push_str(&format!("(opaque) {path}/")),
            }
            out.push('\n');
        }
        return write(&out);
    }

    let fs = img.read(&ContentRequest::new()).await?;
    let Some(target) = fs.resolve(&a.path) else {
        return Err(CliError {
            code: exit::NOT_FOUND,
            message: format!("{}: {}: no such file or directory", img.src.name(), a.path),
        });
    };
    let entries: Vec<&FileMeta> = if target.kind != plinth_fs::Kind::Dir {
        vec![fs.get(&a.path).unwrap_or(target)]
    } else if a.recursive {
        let dir = target.path.clone();
        fs.iter()
            .filter(|m| m.path != dir && under(&m.path, &dir))
            .collect()
    } else {
        fs.list_dir(&a.path)
    };
    if a.json {
        return crate::print_json(&entries);
    }
    let full = a.recursive || target.kind != plinth_fs::Kind::Dir;
    for m in entries {
        let name = if full { m.path.as_str() } else { m.name() };
        if a.long {
            out.push_str(&long_line(m, name));
        } else {
            out.push_str(name);
        }
        out.push('\n');
    }
    write(&out)
}

fn write(s: &str) -> CliResult {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    match o.write_all(s.as_bytes()).and_then(|_| o.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError {
            code: exit::IO,
            message: format!("writing to stdout: {e}"),
        }),
    }
}
