//! The package model shared by the dpkg, apk and rpm catalogers.

use serde::Serialize;

use crate::version::Ecosystem;

/// Which package database a package came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DbKind {
    /// `/var/lib/dpkg/status`.
    Dpkg,
    /// `/var/lib/dpkg/status.d/*` (distroless: one control file per package).
    DpkgStatusD,
    /// `/lib/apk/db/installed`.
    Apk,
    /// `rpmdb.sqlite` (rpm ≥ 4.16).
    RpmSqlite,
    /// Berkeley DB `Packages` (rpm < 4.16): found, not read.
    RpmBdb,
    /// NDB `Packages.db` (SUSE): found, not read.
    RpmNdb,
}

impl DbKind {
    /// The version ordering of this database's packages.
    pub fn ecosystem(self) -> Ecosystem {
        match self {
            DbKind::Dpkg | DbKind::DpkgStatusD => Ecosystem::Dpkg,
            DbKind::Apk => Ecosystem::Apk,
            DbKind::RpmSqlite | DbKind::RpmBdb | DbKind::RpmNdb => Ecosystem::Rpm,
        }
    }
}

/// A package database found in the image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackageDb {
    /// The format.
    pub kind: DbKind,
    /// Where it is (for `status.d`, the directory).
    pub path: String,
    /// Whether plinth read it.
    pub read: bool,
    /// Packages read from it.
    pub packages: usize,
    /// Why it was not (fully) read, or what else is worth knowing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One installed package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Package {
    /// Package name.
    pub name: String,
    /// The full version as the package manager writes it (dpkg `[epoch:]upstream[-rev]`,
    /// apk `1.2.4-r2`, rpm `[epoch:]version-release`).
    pub version: String,
    /// Architecture (`amd64`, `x86_64`, `noarch`, `all`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Source package (dpkg `Source`, apk origin, rpm source rpm name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Source package version, when it differs from `version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// Installed size in bytes (dpkg's `Installed-Size` is KiB; multiplied by 1024).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed_size: Option<u64>,
    /// License as the database states it (apk, rpm; dpkg keeps none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// rpm epoch (also part of `version` as `E:`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
    /// Maintainer, packager or vendor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplier: Option<String>,
    /// The database it came from.
    pub db: DbKind,
}

impl Package {
    /// The version without an rpm epoch (as rpm purls write it; the epoch is a qualifier).
    pub fn version_without_epoch(&self) -> &str {
        match (self.db.ecosystem(), self.epoch) {
            (Ecosystem::Rpm, Some(_)) => self
                .version
                .split_once(':')
                .map_or(&self.version, |(_, v)| v),
            _ => &self.version,
        }
    }
}

/// Every package database of an image and the packages read from them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Packages {
    /// Databases found, read or not.
    pub databases: Vec<PackageDb>,
    /// Packages, sorted by name then version.
    pub packages: Vec<Package>,
}

impl Packages {
    /// Adds a database and its packages.
    pub(crate) fn add(&mut self, mut db: PackageDb, packages: Vec<Package>) {
        db.packages = packages.len();
        self.databases.push(db);
        self.packages.extend(packages);
    }

    /// Sorts packages by name, version and architecture.
    pub(crate) fn sort(&mut self) {
        self.packages
            .sort_by(|a, b| (&a.name, &a.version, &a.arch).cmp(&(&b.name, &b.version, &b.arch)));
    }

    /// The package called `name` (the first one, when several architectures are installed).
    pub fn get(&self, name: &str) -> Option<&Package> {
        self.packages.iter().find(|p| p.name == name)
    }

    /// Total installed size of all packages that state one, in bytes.
    pub fn installed_size(&self) -> u64 {
        self.packages.iter().filter_map(|p| p.installed_size).sum()
    }
}

/// Splits RFC 822-style stanzas (dpkg status, control files): `Key: value` with continuation
/// lines starting with a space or tab. Calls `f` with each stanza's fields.
pub(crate) fn stanzas(text: &str, mut f: impl FnMut(&[(&str, String)])) {
    let mut fields: Vec<(&str, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !fields.is_empty() {
                f(&fields);
                fields.clear();
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = fields.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            fields.push((k.trim(), v.trim().to_string()));
        }
    }
    if !fields.is_empty() {
        f(&fields);
    }
}

/// The value of `key` in a stanza (field names compare case-insensitively, as dpkg does).
pub(crate) fn field<'a>(fields: &'a [(&str, String)], key: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}
