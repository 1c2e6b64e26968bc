//! The `plinth` command: argument parsing and output only; every decision lives in a library.

mod cmd;
mod error;
mod html;
mod image;
mod progress;
mod table;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::{CliError, CliResult, exit};

/// plinth: container base images, found, pinned, inspected and built, without a daemon.
#[derive(Parser, Debug)]
#[command(name = "plinth", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes.
#[derive(clap::Args, Debug, Clone)]
pub struct Global {
    /// No progress bars or notes on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Allow plain HTTP for this registry (loopback always is); repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]", global = true)]
    pub insecure_registries: Vec<String>,
    /// The registries file (mirrors, insecure registries); default
    /// ~/.config/plinth/registries.toml.
    #[arg(
        long,
        value_name = "FILE",
        env = "PLINTH_REGISTRIES_CONF",
        global = true
    )]
    pub registries_conf: Option<std::path::PathBuf>,
    /// The content store (cache) directory; default ~/.cache/plinth.
    #[arg(long, value_name = "DIR", env = "PLINTH_CACHE_DIR", global = true)]
    pub cache_dir: Option<std::path::PathBuf>,
    /// Concurrent registry requests (digest lookups, blob transfers).
    #[arg(long, default_value_t = 16, global = true)]
    pub jobs: usize,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Normalize an image reference as Docker does.
    Reference(cmd::reference::Args),
    /// Print the digest an image reference resolves to (HEAD requests only).
    Digest(cmd::digest::Args),
    /// Print a manifest's bytes exactly as stored.
    Manifest(cmd::manifest::ManifestArgs),
    /// Print an image config's bytes exactly as stored.
    Config(cmd::manifest::ConfigArgs),
    /// List every tag of a repository.
    Tags(cmd::tags::Args),
    /// Copy an image between registries, OCI layouts and docker-archives.
    Copy(cmd::copy::Args),
    /// Build an image from flags or a Dockerfile (no RUN), without a daemon.
    Build(Box<cmd::build::Args>),
    /// Move an image onto a new base without rebuilding it.
    Rebase(cmd::rebase::Args),
    /// The local content store.
    #[command(subcommand)]
    Cache(cmd::cache::Command),
    /// List an image's merged filesystem, or what one layer changes.
    Ls(cmd::ls::Args),
    /// Print a file of an image (symlinks followed inside the image).
    Cat(cmd::cat::Args),
    /// Write an image's flattened filesystem as one tar.
    Export(cmd::export::Args),
    /// Every image reference in Dockerfiles, compose files and Kubernetes manifests.
    Refs(cmd::refs::Args),
    /// Pin image references to digests in place (`name:tag@sha256:…`).
    Pin(cmd::pin::Args),
    /// Check image references: unpinned, stale, unknown, disallowed (text, JSON, SARIF).
    Check(cmd::check::Args),
    /// Move pinned digests to their tags' current targets.
    Update(cmd::update::Args),
    /// Write plinth.lock: every reference with its index and per-platform digests.
    Lock(cmd::lock::Args),
    /// What an image provides: OS, libc, packages, runtimes, tools, users, layers, config.
    Inspect(cmd::inspect::Args),
    /// A software bill of materials (SPDX 2.3 or CycloneDX 1.5 JSON).
    Sbom(cmd::sbom::Args),
    /// Several images side by side: size, OS, libc, packages, runtimes, tools, users.
    Compare(cmd::compare::Args),
    /// What changed from image A to image B: packages, config, sizes, layers, files.
    Diff(Box<cmd::diff::Args>),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE as u8 } else { 0 });
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PLINTH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("plinth: cannot start: {e}");
            return ExitCode::from(exit::FAILURE as u8);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // An empty message is an answer, not a failure (`diff --exit-code`).
            if !e.message.is_empty() {
                eprintln!("plinth: {}", e.message);
            }
            ExitCode::from(e.code as u8)
        }
    }
}

async fn run(cli: Cli) -> CliResult {
    let g = cli.global;
    match cli.command {
        Command::Reference(a) => cmd::reference::run(a),
        Command::Digest(a) => cmd::digest::run(&g, a).await,
        Command::Manifest(a) => cmd::manifest::run_manifest(&g, a).await,
        Command::Config(a) => cmd::manifest::run_config(&g, a).await,
        Command::Tags(a) => cmd::tags::run(&g, a).await,
        Command::Copy(a) => cmd::copy::run(&g, a).await,
        Command::Build(a) => cmd::build::run(&g, *a).await,
        Command::Rebase(a) => cmd::rebase::run(&g, a).await,
        Command::Cache(c) => cmd::cache::run(&g, c),
        Command::Ls(a) => cmd::ls::run(&g, a).await,
        Command::Cat(a) => cmd::cat::run(&g, a).await,
        Command::Export(a) => cmd::export::run(&g, a).await,
        Command::Refs(a) => cmd::refs::run(a),
        Command::Pin(a) => cmd::pin::run(&g, a).await,
        Command::Check(a) => cmd::check::run(&g, a).await,
        Command::Update(a) => cmd::update::run(&g, a).await,
        Command::Lock(a) => cmd::lock::run(&g, a).await,
        Command::Inspect(a) => cmd::inspect::run(&g, a).await,
        Command::Sbom(a) => cmd::sbom::run(&g, a).await,
        Command::Compare(a) => cmd::compare::run(&g, a).await,
        Command::Diff(a) => cmd::diff::run(&g, *a).await,
    }
}

impl Global {
    /// Opens images with the registry client and store these options describe.
    pub fn opener(&self) -> CliResult<image::Opener> {
        let config = match &self.registries_conf {
            Some(p) => plinth_registry::RegistriesConfig::from_file(p)?,
            None => plinth_registry::RegistriesConfig::load()?,
        };
        let client = plinth_registry::Client::new(plinth_registry::ClientOptions {
            config,
            credentials: plinth_registry::CredentialStore::from_env(),
            insecure_registries: self.insecure_registries.clone(),
            ..Default::default()
        })
        .map_err(CliError::from)?;
        Ok(image::Opener {
            client,
            store: self.store(),
        })
    }

    /// The content store.
    pub fn store(&self) -> plinth_oci::store::Store {
        match &self.cache_dir {
            Some(d) => plinth_oci::store::Store::at(d),
            None => plinth_oci::store::Store::open_default(),
        }
    }
}

/// Prints JSON to stdout.
pub fn print_json(v: &impl serde::Serialize) -> CliResult {
    let s = serde_json::to_string_pretty(v)
        .map_err(|e| CliError::invalid(format!("cannot write JSON: {e}")))?;
    println!("{s}");
    Ok(())
}
