//! What a container base image contains, and how package versions order.
//!
//! This crate will hold plinth's catalogers: the readers that look at an image's merged
//! filesystem and report what the base provides: the OS and its version (`os-release`),
//! installed packages from the dpkg database (including distroless `status.d`), apk's
//! `installed` database and the rpm database, language runtimes, shells and tools, users,
//! setuid files, along with the report model, SBOM writers and vulnerability matching.
//!
//! Today it holds [`version`]: package version ordering for dpkg, apk and rpm, the base that
//! vulnerability matching builds on.

#![warn(missing_docs)]

pub mod version;
