//! `plinth lock`: write plinth.lock, every reference with its index and per-platform digests.

use std::path::PathBuf;

use plinth_pin::lock;

use crate::Global;
use crate::cmd::refs::{Inputs, pin_error, report_errors, resolver};
use crate::error::CliResult;

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    inputs: Inputs,
    /// The lockfile to write; file paths in it are relative to its directory.
    #[arg(long, value_name = "FILE", default_value = lock::FILE_NAME)]
    lockfile: PathBuf,
    /// Print the lockfile instead of writing it.
    #[arg(long)]
    dry_run: bool,
}

/// Writes the lockfile (only when every reference resolved).
pub async fn run(g: &Global, a: Args) -> CliResult {
    let files = a.inputs.load()?;
    let resolver = resolver(g)?;
    let base = a
        .lockfile
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let (lockfile, errors) = lock::build(&files, &resolver, &base).await;
    if !errors.is_empty() {
        if !g.quiet {
            eprintln!("plinth: {} left unchanged", a.lockfile.display());
        }
        return report_errors(errors);
    }
    if a.dry_run {
        print!("{}", lockfile.to_text());
    } else {
        lockfile.write(&a.lockfile).map_err(pin_error)?;
    }
    if !g.quiet {
        let stats = resolver.stats();
        eprintln!(
            "plinth: {} {} references from {} files ({} HEAD, {} GET)",
            if a.dry_run { "would lock" } else { "locked" },
            lockfile.images.len(),
            files.len(),
            stats.heads,
            stats.manifests + stats.configs
        );
    }
    Ok(())
}
