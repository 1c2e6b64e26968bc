//! What a container base image contains, and how package versions order.
//!
//! * [`catalog`]: the catalogers. Each reads an image's merged filesystem
//!   ([`plinth_fs::MergedFs`]) and reports one thing the base provides: the OS and its end of
//!   life (`os-release`), the C library, installed packages from dpkg (including distroless
//!   `status.d`), apk and rpm, usable package managers, language runtimes, shells and tools,
//!   users and groups, setuid and world-writable files. Each declares the
//!   [`plinth_fs::ContentRequest`] it needs, so the filesystem layer keeps only those bytes.
//! * [`report`]: the inspect report (image, config, catalog, findings) and its builder; its
//!   JSON form is the documented `plinth inspect --json` schema.
//! * [`compare`]: several images side by side, one row per fact, from their reports.
//! * [`diff`]: what changed from one image to another (packages, config, sizes, files).
//! * [`sbom`]: SPDX 2.3 and CycloneDX 1.5 JSON documents with purls.
//! * [`version`]: package version ordering for dpkg, apk and rpm, the base that
//!   vulnerability matching builds on.

#![warn(missing_docs)]

pub mod catalog;
pub mod compare;
pub mod diff;
pub mod report;
pub mod sbom;
pub mod version;

pub use catalog::{Catalog, catalog, request};
pub use report::{ImageInput, Report, build};
