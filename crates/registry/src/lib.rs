//! An OCI distribution client for plinth.
//!
//! A thin client on reqwest (the existing crates lack `Link` pagination, 429 handling,
//! multi-scope tokens and the spec's 202 mount fallback): bearer and basic authentication with
//! Docker's credential sources, `HEAD`-first digest lookups, resumable verified blob downloads,
//! mounted, monolithic and chunked uploads, tag listing, retries with backoff that honour
//! `Retry-After`, and pull mirrors. [`remote::Remote`] makes a repository an image source and
//! sink for `plinth-oci`.

pub mod challenge;
pub mod client;
pub mod config;
pub mod creds;
pub mod error;
pub mod ops;
pub mod remote;

pub use client::{Client, ClientOptions, RetryPolicy};
pub use config::RegistriesConfig;
pub use creds::{Credential, CredentialStore};
pub use error::RegistryError;
pub use remote::Remote;
