//! `plinth check`: findings about base image references, for people and for CI.
//!
//! Exit codes: 0 when no finding reaches `--fail-on`; 1 when one does; the usual error codes
//! (5 network, 4 auth, …) when a lookup failed and the check could not decide.

use std::path::PathBuf;

use plinth_pin::check::{self, CheckOptions, FailOn, Severity};
use plinth_pin::config::Config;
use plinth_pin::lock::{self, Lockfile};

use crate::Global;
use crate::cmd::refs::{Inputs, pin_error, report_errors, resolver};
use crate::error::{CliError, CliResult};

/// Output formats.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `file:line:col: severity[RULE]: message` lines and a hint.
    Text,
    /// `{"findings": [...], "summary": {...}}`.
    Json,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
}

/// The lowest severity that fails.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOnArg {
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warning,
    /// Any finding.
    Note,
    /// Never fail on findings.
    Never,
}

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    inputs: Inputs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Fail (exit 1) on findings of this severity or worse; default from plinth.toml, else
    /// `warning`.
    #[arg(long, value_enum)]
    fail_on: Option<FailOnArg>,
    /// Compare the references with plinth.lock instead of the registry (no network).
    #[arg(long)]
    locked: bool,
    /// The lockfile for --locked.
    #[arg(long, value_name = "FILE", default_value = lock::FILE_NAME)]
    lockfile: PathBuf,
    /// Make no registry requests (skips PL004, PL005, PL006, PL011).
    #[arg(long)]
    offline: bool,
    /// Settings file (allowed registries, fail-on, disabled rules); default ./plinth.toml
    /// when it exists.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Checks references.
pub async fn run(g: &Global, a: Args) -> CliResult {
    let config = Config::load(a.config.as_deref()).map_err(pin_error)?;
    let threshold = match a.fail_on {
        Some(FailOnArg::Error) => FailOn::Error,
        Some(FailOnArg::Warning) => FailOn::Warning,
        Some(FailOnArg::Note) => FailOn::Note,
        Some(FailOnArg::Never) => FailOn::Never,
        None => config.check.fail_on.unwrap_or(FailOn::Warning),
    };
    let lock = if a.locked {
        Some((
            Lockfile::read(&a.lockfile).map_err(pin_error)?,
            a.lockfile.clone(),
        ))
    } else {
        None
    };
    let files = a.inputs.load()?;
    let offline = a.offline || a.locked;
    let resolver = if offline { None } else { Some(resolver(g)?) };
    let opts = CheckOptions {
        config: config.check,
        offline,
        lock,
    };
    let report = check::check(&files, resolver.as_ref(), &opts).await;
    match a.format {
        Format::Sarif => {
            let base = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
            crate::print_json(&check::sarif(&report, &base))?;
        }
        Format::Json => {
            let counts = report.counts();
            crate::print_json(&serde_json::json!({
                "findings": report.findings,
                "summary": {
                    "files": report.files,
                    "references": report.references,
                    "errors": counts.get(&Severity::Error).copied().unwrap_or(0),
                    "warnings": counts.get(&Severity::Warning).copied().unwrap_or(0),
                    "notes": counts.get(&Severity::Note).copied().unwrap_or(0),
                    "failed": report.fails(threshold),
                },
            }))?;
        }
        Format::Text => {
            for f in &report.findings {
                println!(
                    "{}:{}:{}: {}[{}]: {}\n  hint: {}",
                    f.path.display(),
                    f.line,
                    f.col,
                    f.severity.as_str(),
                    f.rule.as_str(),
                    f.message,
                    f.hint
                );
            }
            if !g.quiet {
                let counts = report.counts();
                eprintln!(
                    "plinth: {} files, {} references: {} errors, {} warnings, {} notes",
                    report.files,
                    report.references,
                    counts.get(&Severity::Error).copied().unwrap_or(0),
                    counts.get(&Severity::Warning).copied().unwrap_or(0),
                    counts.get(&Severity::Note).copied().unwrap_or(0),
                );
            }
        }
    }
    report_errors(report.errors.clone())?;
    if report.fails(threshold) {
        return Err(CliError {
            message: format!(
                "check failed: findings at or above {}",
                match threshold {
                    FailOn::Error => "error",
                    FailOn::Warning => "warning",
                    FailOn::Note => "note",
                    FailOn::Never => "never",
                }
            ),
            code: crate::error::exit::FAILURE,
        });
    }
    Ok(())
}
