//! Which package managers an image can run: decided by the binaries present (a database
//! without its tool, as in distroless, means packages are listed but none can be installed).

use plinth_fs::{Kind, MergedFs};
use serde::Serialize;

/// A package manager binary found in the image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackageManager {
    /// `apt-get`, `apk`, `dnf`, `microdnf`, `yum`, `zypper`, `tdnf`.
    pub name: String,
    /// Where it is.
    pub path: String,
    /// The file it resolves to, when that differs (`/usr/bin/yum` → `/usr/bin/dnf-3`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Whether it can run: a regular executable file, and the low-level tool it drives
    /// (`dpkg`, `rpm`) is present.
    pub usable: bool,
    /// Why it is not usable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Managers, where they are looked for, and the low-level tool each needs.
const MANAGERS: &[(&str, &[&str], Option<&str>)] = &[
    (
        "apt-get",
        &["/usr/bin/apt-get", "/bin/apt-get"],
        Some("dpkg"),
    ),
    (
        "apk",
        &["/sbin/apk", "/usr/sbin/apk", "/usr/bin/apk", "/bin/apk"],
        None,
    ),
    (
        "dnf",
        &["/usr/bin/dnf", "/bin/dnf", "/usr/bin/dnf5"],
        Some("rpm"),
    ),
    ("microdnf", &["/usr/bin/microdnf", "/bin/microdnf"], None),
    ("yum", &["/usr/bin/yum", "/bin/yum"], Some("rpm")),
    ("zypper", &["/usr/bin/zypper", "/bin/zypper"], Some("rpm")),
    ("tdnf", &["/usr/bin/tdnf", "/bin/tdnf"], None),
];

const BIN_DIRS: &[&str] = &["/usr/bin", "/bin", "/usr/sbin", "/sbin"];

/// An executable regular file reached from `path`: (resolved path).
pub(crate) fn executable(fs: &MergedFs, path: &str) -> Option<String> {
    let m = fs.resolve(path)?;
    let exec = matches!(m.kind, Kind::File | Kind::Hardlink) && m.mode & 0o111 != 0;
    exec.then(|| m.path.clone())
}

/// The package managers present in the image.
pub fn catalog(fs: &MergedFs) -> Vec<PackageManager> {
    let mut out = Vec::new();
    for (name, paths, needs) in MANAGERS {
        let Some(path) = paths.iter().find(|p| fs.get(p).is_some()) else {
            continue;
        };
        let resolved = executable(fs, path);
        let helper_ok = needs.is_none_or(|tool| {
            BIN_DIRS
                .iter()
                .any(|d| executable(fs, &format!("{d}/{tool}")).is_some())
        });
        let note = match (&resolved, helper_ok) {
            (None, _) => Some("not an executable file (dangling link or no exec bit)".into()),
            (Some(_), false) => Some(format!("{} not found", needs.unwrap_or_default())),
            _ => None,
        };
        out.push(PackageManager {
            name: name.to_string(),
            path: path.to_string(),
            target: resolved.clone().filter(|r| r != path),
            usable: resolved.is_some() && helper_ok,
            note,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::testfs::{exe, fs, symlink};

    #[test]
    fn finds_managers() {
        let fs = fs(vec![
            exe("/usr/bin/apt-get"),
            exe("/usr/bin/dpkg"),
            exe("/usr/bin/dnf-3"),
            symlink("/usr/bin/yum", "dnf-3"),
            symlink("/usr/bin/microdnf", "missing"),
        ]);
        let m = catalog(&fs);
        let names: Vec<(&str, bool)> = m.iter().map(|p| (p.name.as_str(), p.usable)).collect();
        assert_eq!(
            names,
            [("apt-get", true), ("microdnf", false), ("yum", false)]
        );
        assert_eq!(m[2].target.as_deref(), Some("/usr/bin/dnf-3"));
        assert_eq!(m[2].note.as_deref(), Some("rpm not found"));
    }
}
