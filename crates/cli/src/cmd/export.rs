//! `plinth export`: the flattened filesystem of an image as one tar.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use plinth_fs::{ContentRequest, export_tar};
use plinth_oci::Platform;

use crate::Global;
use crate::error::{CliError, CliResult, exit};

/// Arguments of `export`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The image.
    image: String,
    /// The tar to write (written under a temporary name, renamed when complete); `-` for
    /// stdout.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// The platform to pick from an index (default: this machine's).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<Platform>,
}

fn io_error(what: &Path, e: std::io::Error) -> CliError {
    CliError {
        code: exit::IO,
        message: format!("{}: {e}", what.display()),
    }
}

/// Writes an image's filesystem as a tar.
pub async fn run(g: &Global, a: Args) -> CliResult {
    let img = crate::cmd::ls::open(g, &a.image, a.platform.as_ref()).await?;
    let fs = img.read(&ContentRequest::new()).await?;
    if a.output.as_os_str() == "-" {
        let out = BufWriter::with_capacity(1 << 20, std::io::stdout());
        let (mut out, _) = export_tar(
            img.src.as_ref(),
            &img.manifest,
            &img.config,
            &fs,
            out,
            &img.opts,
        )
        .await?;
        return out.flush().map_err(|e| io_error(Path::new("stdout"), e));
    }
    let dir = match a.output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".plinth-export-")
        .tempfile_in(&dir)
        .map_err(|e| io_error(&dir, e))?;
    let (file, tmp_path) = tmp.into_parts();
    let out = BufWriter::with_capacity(1 << 20, file);
    let (out, stats) = export_tar(
        img.src.as_ref(),
        &img.manifest,
        &img.config,
        &fs,
        out,
        &img.opts,
    )
    .await?;
    let file = out
        .into_inner()
        .map_err(|e| io_error(&a.output, e.into_error()))?;
    file.sync_all().map_err(|e| io_error(&a.output, e))?;
    // Temp files are created 0600; give the tar the usual mode of a new file.
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    drop(file);
    tmp_path
        .persist(&a.output)
        .map_err(|e| io_error(&a.output, e.error))?;
    if !g.quiet {
        eprintln!(
            "wrote {}: {} entries, {} bytes of file content",
            a.output.display(),
            stats.entries,
            stats.bytes
        );
    }
    Ok(())
}
