//! `plinth pin`: rewrite image references to `name:tag@sha256:<digest>` in place.

use plinth_pin::plan::{self, Mode, PlanOptions, Reason};

use crate::Global;
use crate::cmd::refs::{Inputs, report_errors, resolver};
use crate::error::CliResult;

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub(crate) inputs: Inputs,
    /// Print a unified diff of the changes; change no file.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Also replace each floating tag with the most precise tag that points at the same
    /// digest, keeping its variant suffix (`3.12-slim` → `3.12.7-slim`).
    #[arg(long)]
    pub(crate) precise: bool,
    /// Print the changes as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Pins every reference.
pub async fn run(g: &Global, a: Args) -> CliResult {
    run_mode(g, a, Mode::Pin).await
}

/// Plans, prints and (unless a dry run) writes the changes of `pin` or `update`.
pub async fn run_mode(g: &Global, a: Args, mode: Mode) -> CliResult {
    let files = a.inputs.load()?;
    let resolver = resolver(g)?;
    let opts = PlanOptions {
        mode,
        precise: a.precise,
        expand: a.inputs.expand(),
    };
    let plans = plan::plan(&files, &resolver, &opts).await;
    let mut errors = Vec::new();
    let mut changed_files = 0;
    let mut changes = Vec::new();
    for p in &plans {
        if !p.errors.is_empty() {
            errors.extend(p.errors.iter().cloned());
            if !g.quiet {
                eprintln!("plinth: {}: left unchanged", p.path.display());
            }
            continue;
        }
        if p.new.is_none() {
            continue;
        }
        changed_files += 1;
        if a.dry_run {
            if !a.json {
                print!("{}", p.diff());
            }
        } else {
            p.write().map_err(crate::cmd::refs::pin_error)?;
        }
        changes.extend(p.changes.iter().cloned());
    }
    if a.json {
        crate::print_json(&serde_json::json!({
            "dry_run": a.dry_run,
            "changes": changes,
            "skipped": plans.iter().flat_map(|p| p.skipped.iter()).collect::<Vec<_>>(),
        }))?;
    } else if !a.dry_run {
        for c in &changes {
            let via = c
                .via
                .as_ref()
                .map(|v| format!(" (ARG {v})"))
                .unwrap_or_default();
            println!("{}: {} → {}{via}", c.location, c.from, c.to);
        }
    }
    if !g.quiet {
        for p in &plans {
            for s in &p.skipped {
                eprintln!(
                    "plinth: {}: {} left as it is: {}",
                    s.location, s.text, s.reason
                );
            }
        }
        let stats = resolver.stats();
        let n = |r: Reason| changes.iter().filter(|c| c.reason == r).count();
        let verb = if a.dry_run { "would change" } else { "changed" };
        eprintln!(
            "plinth: {verb} {} references in {changed_files} files ({} pinned, {} refreshed, {} retagged); {} HEAD, {} GET, {} tag lists",
            changes.len(),
            n(Reason::Pinned),
            n(Reason::Refreshed),
            n(Reason::Precise),
            stats.heads,
            stats.manifests + stats.configs,
            stats.tag_lists,
        );
    }
    report_errors(errors)
}
