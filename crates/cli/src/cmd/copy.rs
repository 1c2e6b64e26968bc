//! `plinth copy`: registry ⇄ OCI layout ⇄ docker-archive.

use plinth_oci::Platform;
use plinth_oci::copy::{CopyOptions, copy};

use crate::Global;
use crate::error::CliResult;
use crate::image::ImageName;

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// What to copy: a registry reference, `oci:DIR[:TAG]` or `docker-archive:FILE[:REF]`.
    source: String,
    /// Where to: a registry reference, `oci:DIR[:TAG]` or `docker-archive:FILE[:REF]`.
    destination: String,
    /// Copy every platform of an index, and the index itself.
    #[arg(long)]
    all_platforms: bool,
    /// The platform to copy from an index (default: this machine's).
    #[arg(
        long,
        value_name = "OS/ARCH[/VARIANT]",
        conflicts_with = "all_platforms"
    )]
    platform: Option<Platform>,
    /// Print what was done as JSON.
    #[arg(long)]
    json: bool,
}

/// Copies an image.
pub async fn run(g: &Global, a: Args) -> CliResult {
    let opener = g.opener()?;
    let src_name = ImageName::parse(&a.source)?;
    let dst_name = ImageName::parse(&a.destination)?;
    let src = opener.source(&src_name)?;
    let dst = opener.sink(&dst_name)?;
    let opts = CopyOptions {
        all_platforms: a.all_platforms,
        platform: a.platform,
        progress: crate::progress::for_transfer(g.quiet || a.json),
    };
    let report = copy(src.as_ref(), dst.as_ref(), &opts).await?;
    if a.json {
        crate::print_json(&report)
    } else {
        if !g.quiet {
            eprintln!(
                "copied {} blobs ({} bytes), mounted {}, already present {}",
                report.copied, report.bytes, report.mounted, report.existing
            );
        }
        println!("{}", report.digest);
        Ok(())
    }
}
