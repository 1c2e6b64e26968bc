//! `plinth cache du|prune`: the local content store.

use std::time::Duration;

use crate::Global;
use crate::error::{CliError, CliResult};

/// Cache commands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// How many blobs and bytes the store holds.
    Du {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Remove blobs from the store.
    Prune {
        /// Remove only blobs unused for this long (e.g. `7d`, `12h`); without it, everything.
        #[arg(long, value_name = "DURATION")]
        older_than: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a cache command.
pub fn run(g: &Global, c: Command) -> CliResult {
    let store = g.store();
    match c {
        Command::Du { json } => {
            let u = store.du()?;
            if json {
                crate::print_json(&u)
            } else {
                println!("{}\t{} blobs\t{} bytes", u.path.display(), u.blobs, u.bytes);
                Ok(())
            }
        }
        Command::Prune { older_than, json } => {
            let limit: Option<Duration> = older_than
                .map(|s| {
                    humantime::parse_duration(&s)
                        .map_err(|e| CliError::invalid(format!("--older-than {s:?}: {e}")))
                })
                .transpose()?;
            let p = store.prune(limit)?;
            if json {
                crate::print_json(&p)
            } else {
                println!("removed {} blobs, {} bytes", p.blobs, p.bytes);
                Ok(())
            }
        }
    }
}
