//! `plinth manifest` and `plinth config`: stored bytes, exactly, or pretty-printed.

use std::io::Write;

use plinth_oci::{Descriptor, Platform, RawManifest, Source};

use crate::Global;
use crate::error::{CliError, CliResult};
use crate::image::ImageName;

/// Arguments of `manifest`.
#[derive(clap::Args, Debug)]
pub struct ManifestArgs {
    /// The image.
    image: String,
    /// From an index, print this platform's manifest instead.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<Platform>,
    /// Indent the JSON (the bytes then differ from the stored ones).
    #[arg(long)]
    pretty: bool,
}

/// Arguments of `config`.
#[derive(clap::Args, Debug)]
pub struct ConfigArgs {
    /// The image.
    image: String,
    /// The platform to pick from an index (default: this machine's).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<Platform>,
    /// Indent the JSON.
    #[arg(long)]
    pretty: bool,
}

fn write_out(bytes: &[u8], pretty: bool) -> CliResult {
    let mut out = std::io::stdout().lock();
    let result = if pretty {
        let v: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| CliError::invalid(format!("stored JSON is malformed: {e}")))?;
        let s = serde_json::to_string_pretty(&v).expect("a Value serializes");
        writeln!(out, "{s}")
    } else {
        out.write_all(bytes)
    };
    result.and_then(|_| out.flush()).map_err(|e| CliError {
        code: crate::error::exit::IO,
        message: format!("writing to stdout: {e}"),
    })
}

/// The platform manifest of `root` (itself when it is not an index); this machine's platform
/// unless `platform`.
pub async fn select_platform(
    src: &dyn Source,
    root: RawManifest,
    platform: Option<&Platform>,
) -> CliResult<RawManifest> {
    let want = platform.cloned().unwrap_or_else(Platform::host);
    Ok(plinth_oci::source::select_platform(src, root, &want).await?)
}

/// Reads a small blob from any source, verified.
pub async fn read_blob(src: &dyn Source, desc: &Descriptor) -> CliResult<Vec<u8>> {
    Ok(plinth_oci::source::read_small_blob(src, desc).await?)
}

/// Prints the manifest (or index) an image name resolves to.
pub async fn run_manifest(g: &Global, a: ManifestArgs) -> CliResult {
    let opener = g.opener()?;
    let src = opener.source(&ImageName::parse(&a.image)?)?;
    let root = src.root().await?;
    let raw = match &a.platform {
        Some(p) => select_platform(src.as_ref(), root, Some(p)).await?,
        None => root,
    };
    write_out(raw.bytes(), a.pretty)
}

/// Prints the config of the image (the host's platform, or `--platform`, from an index).
pub async fn run_config(g: &Global, a: ConfigArgs) -> CliResult {
    let opener = g.opener()?;
    let name = ImageName::parse(&a.image)?;
    let src = opener.source(&name)?;
    let root = src.root().await?;
    let from_index = root.is_index();
    let raw = select_platform(src.as_ref(), root, a.platform.as_ref()).await?;
    let manifest = raw.as_image().expect("a platform manifest");
    let bytes = match name.reference() {
        // Registry configs go through the content store.
        Some(r) => opener.remote(r).blob_bytes(&manifest.config).await?,
        None => read_blob(src.as_ref(), &manifest.config).await?,
    };
    // A single-platform image must be of the platform asked for (an index was searched above).
    if let Some(want) = &a.platform
        && !from_index
    {
        plinth_oci::source::check_config_platform(&a.image, want, &bytes)?;
    }
    write_out(&bytes, a.pretty)
}
