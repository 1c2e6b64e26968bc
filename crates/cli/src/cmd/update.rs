//! `plinth update`: move pinned digests to their tags' current targets.

use plinth_pin::plan::Mode;

use crate::Global;
use crate::error::CliResult;

/// Arguments: those of `pin`; `--precise` also moves floating tags to the most precise tag.
pub type Args = crate::cmd::pin::Args;

/// Refreshes pinned references (and with `--precise`, tags).
pub async fn run(g: &Global, a: Args) -> CliResult {
    crate::cmd::pin::run_mode(g, a, Mode::Update).await
}
