//! The OCI image model for plinth.
//!
//! Manifests, indexes and configs are kept as the exact bytes received (a manifest's digest is
//! the sha256 of those bytes) with a typed view parsed from them. Every place an image can live
//! (a registry, an OCI image layout, a docker-archive) implements the same
//! [`source::Source`] / [`source::Sink`] traits, so commands never care where an image is.

pub mod archive;
pub mod blobs;
pub mod copy;
pub mod digest;
pub mod error;
pub mod layout;
pub mod manifest;
pub mod media;
pub mod platform;
pub mod source;
pub mod store;
pub mod validate;

pub use digest::Digest;
pub use error::{Error, ErrorKind, Result};
pub use manifest::{ConfigFile, Descriptor, ImageIndex, ImageManifest, RawManifest};
pub use platform::Platform;
pub use source::{Sink, Source};
