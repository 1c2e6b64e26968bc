//! Image building for plinth, without a daemon.
//!
//! - [`layer`]: the reproducible layer writer (sorted entries, clamped mtimes, normalized
//!   owners and permissions, no host metadata; gzip in parallel or zstd).
//! - [`layercache`]: built layers kept in the content store, so unchanged inputs are not
//!   compressed again.
//! - [`mutate`]: new images on a base (or scratch) built lazily: base layers are referenced by
//!   descriptor, never downloaded when the destination registry has or can mount them.
//! - [`flags`]: the `plinth build --from … --add …` recipe.
//! - [`dockerfile`]: a Dockerfile executor for stages that need no container runtime.
//! - [`elf`] and [`preflight`]: catching dynamically linked binaries on scratch, missing CA
//!   certificates, `/etc/passwd` and zoneinfo.
//! - [`rebase`]: moving an image onto a new base without rebuilding it.
//! - [`remote`]: the remote sources of `ADD`: HTTP(S) downloads and git repositories.

#![warn(missing_docs)]

pub mod dockerfile;
pub mod dockerignore;
pub mod elf;
pub mod error;
pub mod flags;
pub mod imagefs;
pub mod layer;
pub mod layercache;
pub mod mutate;
pub mod preflight;
pub mod rebase;
pub mod remote;

pub use error::{BuildError, Result};
