//! `plinth cat`: a file's bytes, symlinks followed inside the image.

use std::io::Write;

use plinth_fs::{ContentRequest, Kind};
use plinth_oci::Platform;

use crate::Global;
use crate::error::{CliError, CliResult, exit};

/// Arguments of `cat`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The image.
    image: String,
    /// The file (absolute path inside the image).
    path: String,
    /// The platform to pick from an index (default: this machine's).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<Platform>,
}

/// Prints a file of an image.
pub async fn run(g: &Global, a: Args) -> CliResult {
    let img = crate::cmd::ls::open(g, &a.image, a.platform.as_ref()).await?;
    let fs = img.read(&ContentRequest::new().path(&a.path)).await?;
    let name = img.src.name();
    let Some(meta) = fs.resolve(&a.path) else {
        return Err(CliError {
            code: exit::NOT_FOUND,
            message: format!("{name}: {}: no such file or directory", a.path),
        });
    };
    let bytes = match meta.kind {
        Kind::File | Kind::Hardlink => fs.read(&a.path),
        Kind::Dir => {
            return Err(CliError::invalid(format!(
                "{name}: {}: is a directory",
                a.path
            )));
        }
        _ => {
            return Err(CliError::invalid(format!(
                "{name}: {}: not a regular file ({:?})",
                a.path, meta.kind
            )));
        }
    };
    let Some(bytes) = bytes else {
        return Err(CliError {
            code: exit::NOT_FOUND,
            message: format!("{name}: {}: the file's content is not in the image", a.path),
        });
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError {
            code: exit::IO,
            message: format!("writing to stdout: {e}"),
        }),
    }
}
