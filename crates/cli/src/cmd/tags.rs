//! `plinth tags`: every tag of a repository.

use plinth_reference::Reference;

use crate::Global;
use crate::error::{CliError, CliResult};

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The repository, e.g. `python` or `127.0.0.1:5000/library/debian`.
    repository: String,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

/// Lists tags, following pagination.
pub async fn run(g: &Global, a: Args) -> CliResult {
    let r = Reference::parse_normalized(&a.repository)
        .map_err(|e| CliError::invalid(format!("{:?}: {e}", a.repository)))?;
    if r.tag().is_some() || r.digest().is_some() {
        return Err(CliError::invalid(format!(
            "{}: name a repository, without a tag or digest",
            a.repository
        )));
    }
    let opener = g.opener()?;
    let tags = opener.remote(&r).tags().await?;
    if a.json {
        crate::print_json(&serde_json::json!({ "repository": r.name(), "tags": tags }))
    } else {
        for t in tags {
            println!("{t}");
        }
        Ok(())
    }
}
