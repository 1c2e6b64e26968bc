//! `plinth rebase IMAGE --onto NEWBASE [--old-base OLD] -t DEST`: move an image onto a new
//! base without rebuilding it.

use std::sync::Arc;

use plinth_builder::mutate;
use plinth_builder::rebase::{self, Request};
use plinth_oci::Source;

use crate::Global;
use crate::cmd::build::{CliResolver, cli_error};
use crate::error::CliResult;
use crate::image::ImageName;

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The image to rebase: a registry reference, `oci:DIR:TAG` or `docker-archive:FILE`.
    image: String,
    /// The new base.
    #[arg(long, value_name = "NEWBASE")]
    onto: String,
    /// The old base (default: from the image's org.opencontainers.image.base.* annotations).
    #[arg(long, value_name = "OLD")]
    old_base: Option<String>,
    /// Where to write the result.
    #[arg(short = 't', long = "tag", value_name = "DEST")]
    tag: String,
    /// Do not compare the libc family of the two bases (it reads their layers).
    #[arg(long)]
    skip_libc_check: bool,
    /// Print what was done as JSON.
    #[arg(long)]
    json: bool,
}

/// Rebases an image.
pub async fn run(g: &Global, a: Args) -> CliResult {
    let opener = g.opener()?;
    let src: Arc<dyn Source> = Arc::from(opener.source(&ImageName::parse(&a.image)?)?);
    let dest = opener.sink(&ImageName::parse(&a.tag)?)?;
    let resolver = CliResolver { opener: &opener };
    let req = Request {
        image: src,
        onto: &a.onto,
        old_base: a.old_base.as_deref(),
        resolver: &resolver,
        skip_libc_check: a.skip_libc_check,
    };
    let rebased = rebase::rebase(&req).await.map_err(cli_error)?;
    let images: Vec<_> = rebased.iter().map(|r| r.image.clone()).collect();
    let progress = crate::progress::for_transfer(g.quiet || a.json);
    let report = mutate::push(&images, dest.as_ref(), progress)
        .await
        .map_err(cli_error)?;
    if a.json {
        return crate::print_json(&serde_json::json!({
            "digest": report.digest,
            "platforms": rebased.iter().map(|r| serde_json::json!({
                "platform": r.platform.to_string(),
                "digest": r.image.manifest.digest().to_string(),
                "old_base_layers": r.old_base_layers,
                "new_base_layers": r.new_base_layers,
            })).collect::<Vec<_>>(),
            "uploaded": report.uploaded,
            "mounted": report.mounted,
            "existing": report.existing,
        }));
    }
    if !g.quiet {
        for r in &rebased {
            eprintln!(
                "{}: {} old base layers replaced by {} new ones",
                r.platform, r.old_base_layers, r.new_base_layers
            );
        }
        eprintln!(
            "uploaded {} blobs ({} bytes), mounted {}, already present {}",
            report.uploaded, report.uploaded_bytes, report.mounted, report.existing
        );
    }
    println!("{}", report.digest);
    Ok(())
}
