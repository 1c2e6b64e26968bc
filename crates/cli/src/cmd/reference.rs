//! `plinth reference`: Docker's normalization.

use plinth_reference::Reference;

use crate::error::CliResult;

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The reference, e.g. `python:3.12-slim`.
    reference: String,
    /// Print the parts (domain, path, tag, digest, familiar form) as JSON.
    #[arg(long)]
    json: bool,
}

/// Prints the normalized reference, exactly as Docker's normalizer writes it.
pub fn run(a: Args) -> CliResult {
    let r = Reference::parse_normalized(&a.reference)
        .map_err(|e| crate::error::CliError::invalid(format!("{:?}: {e}", a.reference)))?;
    if a.json {
        crate::print_json(&r.parts())
    } else {
        println!("{r}");
        Ok(())
    }
}
