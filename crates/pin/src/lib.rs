//! Base image references in Dockerfiles, compose files and Kubernetes manifests: find them,
//! pin them to digests, check them, keep them current, and lock them.
//!
//! The pieces, in the order a command uses them:
//!
//! 1. [`discover::discover`] walks paths (respecting `.gitignore`) for Dockerfiles
//!    (`Dockerfile`, `*.Dockerfile`, `Dockerfile.*`, `Containerfile`), compose files
//!    (`compose*.y*ml`, `docker-compose*.y*ml`) and Kubernetes manifests (`*.y*ml` with
//!    `apiVersion` and `kind`).
//! 2. [`sites::read_files`] finds every reference with its byte span: `FROM` (after ARG
//!    expansion, with `--build-arg`), `COPY --from`, `RUN --mount=from=`, compose
//!    `services.*.image` (interpolated from the environment and `.env`, [`compose_env`]), and
//!    containers' `image:` in Kubernetes objects.
//! 3. [`resolve::Resolver`] answers registry questions once per run, concurrently with a
//!    bound, with `HEAD` requests (a `GET` only where per-platform digests or a config are
//!    needed).
//! 4. [`plan::plan`] decides what `pin` and `update` change and makes the edits (only the
//!    bytes of the reference or of the ARG default that ends it); [`check::check`] reports
//!    findings with stable rule ids (also as SARIF, [`check::sarif`]); [`lock::build`] and
//!    [`lock::compare`] write and verify `plinth.lock`.
//!
//! The library decides; the `plinth` command prints.
#![warn(missing_docs)]

pub mod check;
pub mod compose_env;
pub mod config;
pub mod discover;
pub mod error;
pub mod lock;
pub mod plan;
pub mod resolve;
pub mod sites;
pub mod tags;
pub mod text;
mod yaml;

pub use error::{LookupError, PinError, Result};
