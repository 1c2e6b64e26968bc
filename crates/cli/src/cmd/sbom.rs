//! `plinth sbom`: an SPDX 2.3 or CycloneDX 1.5 JSON bill of materials of an image.

use std::io::Write;

use plinth_inspect::sbom::{self, SbomOptions};
use plinth_oci::Platform;

use crate::Global;
use crate::error::{CliError, CliResult, exit};

/// SBOM formats.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Format {
    /// SPDX 2.3 JSON.
    #[value(name = "spdx-json")]
    SpdxJson,
    /// CycloneDX 1.5 JSON.
    #[value(name = "cyclonedx-json")]
    CyclonedxJson,
}

/// Arguments of `sbom`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The image: a registry reference, `oci:DIR[:TAG]` or `docker-archive:FILE[:REF]`.
    image: String,
    /// The document format.
    #[arg(long, value_enum)]
    format: Format,
    /// Write to FILE (replaced whole, never half-written) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    output: Option<std::path::PathBuf>,
    /// The platform to pick from an index (default: this machine's).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<Platform>,
}

/// Runs `sbom`. The creation time is now, or `SOURCE_DATE_EPOCH` when set.
pub async fn run(g: &Global, a: Args) -> CliResult {
    let report = crate::cmd::inspect::build_report(g, &a.image, a.platform.as_ref(), None).await?;
    let created_unix = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) => s.trim().parse::<i64>().map_err(|_| {
            CliError::invalid(format!(
                "SOURCE_DATE_EPOCH={s:?} is not a number of seconds"
            ))
        })?,
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    };
    let opts = SbomOptions { created_unix };
    let doc = match a.format {
        Format::SpdxJson => sbom::spdx::document(&report, &opts),
        Format::CyclonedxJson => sbom::cyclonedx::document(&report, &opts),
    };
    let mut text = serde_json::to_string_pretty(&doc)
        .map_err(|e| CliError::invalid(format!("cannot write JSON: {e}")))?;
    text.push('\n');
    match &a.output {
        None => crate::cmd::inspect::write_stdout(text.as_bytes()),
        Some(path) => write_file(path, text.as_bytes()),
    }
}

/// Writes beside the target, then renames: a reader never sees half a document.
fn write_file(path: &std::path::Path, bytes: &[u8]) -> CliResult {
    let io = |e: std::io::Error| CliError {
        code: exit::IO,
        message: format!("{}: {e}", path.display()),
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}
