//! Shells and tools on `PATH`: sh, bash, dash, ash and busybox (with its applets), curl,
//! wget, git, ssh, openssl, a compiler toolchain; the CA bundle and tzdata.

use std::collections::BTreeSet;

use plinth_fs::{ContentRequest, Kind, MergedFs};
use serde::Serialize;

use crate::catalog::package::Packages;
use crate::catalog::pkgmgr::executable;

/// `PATH` when the image config sets none (Docker's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// CA bundles in the places distributions put them.
pub const CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

const TZ_DIR: &str = "/usr/share/zoneinfo";

/// What the tools cataloger reads: the CA bundle (to count certificates) and tzdata's
/// version line.
pub fn request() -> ContentRequest {
    let mut r = ContentRequest::new();
    for p in CA_BUNDLES {
        r = r.path(p);
    }
    r.path(&format!("{TZ_DIR}/tzdata.zi")).max_size(8 << 20)
}

/// A program found on `PATH`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tool {
    /// The command name (`sh`).
    pub name: String,
    /// Where `PATH` finds it (`/bin/sh`).
    pub path: String,
    /// The file it resolves to, when that differs (`/usr/bin/dash`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `busybox` when it is a busybox applet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provided_by: Option<String>,
    /// The package that ships it, with its version (`curl 7.88.1-10+deb12u5`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

/// busybox and the applets linked to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Busybox {
    /// The busybox binary.
    pub path: String,
    /// Applet names, from the symlinks and hard links to it.
    pub applets: Vec<String>,
}

/// The CA certificate bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CaBundle {
    /// The bundle's path (symlinks followed).
    pub path: String,
    /// `BEGIN CERTIFICATE` blocks in it (`None` when its content was not read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificates: Option<usize>,
}

/// Time zone data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tzdata {
    /// `/usr/share/zoneinfo`.
    pub path: String,
    /// Zone files under it.
    pub zones: usize,
    /// The tz database release (`2024a`), from `tzdata.zi` or the package.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Shells, tools, toolchain, busybox, CA bundle and tzdata.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tools {
    /// `PATH` searched.
    pub path_dirs: Vec<String>,
    /// Shells.
    pub shells: Vec<Tool>,
    /// Network, VCS and crypto tools.
    pub tools: Vec<Tool>,
    /// Compilers and build tools.
    pub toolchain: Vec<Tool>,
    /// busybox, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub busybox: Option<Busybox>,
    /// The CA bundle, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<CaBundle>,
    /// tzdata, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tzdata: Option<Tzdata>,
}

impl Tools {
    /// The tool called `name`, in any group.
    pub fn find(&self, name: &str) -> Option<&Tool> {
        self.shells
            .iter()
            .chain(&self.tools)
            .chain(&self.toolchain)
            .find(|t| t.name == name)
    }
}

/// (command, packages that ship it, most likely first).
const SHELLS: &[(&str, &[&str])] = &[
    ("sh", &["dash", "bash", "busybox-binsh", "busybox"]),
    ("bash", &["bash"]),
    ("dash", &["dash"]),
    ("ash", &["busybox", "busybox-binsh"]),
    ("zsh", &["zsh"]),
    ("busybox", &["busybox", "busybox-static"]),
];
const TOOLS: &[(&str, &[&str])] = &[
    ("curl", &["curl"]),
    ("wget", &["wget", "wget2"]),
    ("git", &["git"]),
    ("ssh", &["openssh-client", "openssh-clients", "openssh"]),
    ("openssl", &["openssl", "openssl-bin"]),
];
const TOOLCHAIN: &[(&str, &[&str])] = &[
    ("cc", &["gcc", "clang"]),
    ("gcc", &["gcc"]),
    ("c++", &["g++", "gcc-c++", "clang"]),
    ("g++", &["g++", "gcc-c++"]),
    ("clang", &["clang"]),
    ("make", &["make"]),
    ("ld", &["binutils"]),
];

/// Finds shells and tools; `env` is the image config's environment.
pub fn catalog(fs: &MergedFs, packages: &Packages, env: &[String]) -> Tools {
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    let dirs: Vec<String> = path
        .split(':')
        .filter(|d| d.starts_with('/'))
        .map(str::to_string)
        .collect();
    let busybox = find_busybox(fs);
    let busybox_id = busybox
        .as_ref()
        .and_then(|b| fs.resolve(&b.path))
        .map(identity);
    let lookup = |name: &str, pkgs: &[&str]| -> Option<Tool> {
        for d in &dirs {
            let p = format!("{}/{name}", d.trim_end_matches('/'));
            let Some(real) = executable(fs, &p) else {
                continue;
            };
            let via_busybox = name != "busybox"
                && busybox_id.is_some()
                && fs.resolve(&p).map(identity) == busybox_id;
            let package = if via_busybox {
                pkgs.iter()
                    .chain(&["busybox", "busybox-binsh"])
                    .find_map(|n| packages.get(n))
            } else {
                // A shell's package is the one named like its target (sh → dash).
                let target_name = real.rsplit('/').next().unwrap_or(name);
                packages
                    .get(target_name)
                    .filter(|_| pkgs.contains(&target_name))
                    .or_else(|| pkgs.iter().find_map(|n| packages.get(n)))
            };
            return Some(Tool {
                name: name.to_string(),
                target: (real != p).then(|| real.clone()),
                path: p,
                provided_by: via_busybox.then(|| "busybox".to_string()),
                package: package.map(|p| format!("{} {}", p.name, p.version)),
            });
        }
        None
    };
    let group = |list: &[(&str, &[&str])]| -> Vec<Tool> {
        list.iter().filter_map(|(n, p)| lookup(n, p)).collect()
    };
    Tools {
        shells: group(SHELLS),
        tools: group(TOOLS),
        toolchain: group(TOOLCHAIN),
        busybox,
        ca_bundle: ca_bundle(fs),
        tzdata: tzdata(fs, packages),
        path_dirs: dirs,
    }
}

/// A file's identity: hard links are the file they link to.
fn identity(m: &plinth_fs::FileMeta) -> String {
    match (m.kind, &m.link) {
        (Kind::Hardlink, Some(l)) => l.clone(),
        _ => m.path.clone(),
    }
}

fn find_busybox(fs: &MergedFs) -> Option<Busybox> {
    let path = [
        "/bin/busybox",
        "/usr/bin/busybox",
        "/sbin/busybox",
        "/usr/sbin/busybox",
    ]
    .into_iter()
    .find(|p| executable(fs, p).is_some())?;
    let real = fs.resolve(path)?;
    // Hard-linked applets all point at one file: the group's canonical path.
    let canonical = identity(real);
    let mut applets = BTreeSet::new();
    for m in fs.iter() {
        let hit = match m.kind {
            Kind::Hardlink | Kind::File => identity(m) == canonical,
            // Only links that name busybox or a sibling are worth resolving.
            Kind::Symlink => {
                m.link
                    .as_deref()
                    .is_some_and(|l| l.ends_with("busybox") || !l.contains('/'))
                    && fs
                        .resolve(&m.path)
                        .is_some_and(|t| identity(t) == canonical)
            }
            _ => false,
        };
        if hit && m.name() != "busybox" {
            applets.insert(m.name().to_string());
        }
    }
    Some(Busybox {
        path: path.to_string(),
        applets: applets.into_iter().collect(),
    })
}

fn ca_bundle(fs: &MergedFs) -> Option<CaBundle> {
    CA_BUNDLES.iter().find_map(|p| {
        let m = fs.resolve(p)?;
        if !matches!(m.kind, Kind::File | Kind::Hardlink) {
            return None;
        }
        let certificates = fs.read(p).map(|b| {
            String::from_utf8_lossy(b)
                .matches("-----BEGIN CERTIFICATE-----")
                .count()
        });
        Some(CaBundle {
            path: m.path.clone(),
            certificates,
        })
    })
}

fn tzdata(fs: &MergedFs, packages: &Packages) -> Option<Tzdata> {
    let dir = fs.resolve(TZ_DIR)?;
    if dir.kind != Kind::Dir {
        return None;
    }
    let prefix = format!("{}/", dir.path);
    let zones = fs
        .iter()
        .filter(|m| m.path.starts_with(&prefix))
        .filter(|m| matches!(m.kind, Kind::File | Kind::Hardlink | Kind::Symlink))
        // Not the tables beside the zones (zone1970.tab, tzdata.zi, leap-seconds.list).
        .filter(|m| !m.name().contains('.'))
        .count();
    if zones == 0 {
        return None;
    }
    let version = fs
        .read(&format!("{TZ_DIR}/tzdata.zi"))
        .and_then(|b| {
            String::from_utf8_lossy(&b[..b.len().min(200)])
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# version "))
                .map(|v| v.trim().to_string())
        })
        .or_else(|| {
            packages.get("tzdata").map(|p| {
                p.version
                    .split(['-', '+'])
                    .next()
                    .unwrap_or(&p.version)
                    .to_string()
            })
        });
    Some(Tzdata {
        path: dir.path.clone(),
        zones,
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::testfs::{exe, file, fs, hardlink, symlink};

    #[test]
    fn debian_shells_and_bundle() {
        let fs = fs(vec![
            symlink("/bin", "usr/bin"),
            exe("/usr/bin/dash"),
            symlink("/usr/bin/sh", "dash"),
            exe("/usr/bin/bash"),
            exe("/usr/bin/curl"),
            exe("/usr/bin/gcc-12"),
            symlink("/usr/bin/gcc", "gcc-12"),
            file(
                "/etc/ssl/certs/ca-certificates.crt",
                "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n",
            ),
            file("/usr/share/zoneinfo/tzdata.zi", "# version 2024a\n"),
            file("/usr/share/zoneinfo/Europe/Paris", "TZif"),
            file("/usr/share/zoneinfo/UTC", "TZif"),
        ]);
        let t = catalog(&fs, &Packages::default(), &[]);
        let sh = t.find("sh").unwrap();
        assert_eq!(sh.path, "/usr/bin/sh");
        assert_eq!(sh.target.as_deref(), Some("/usr/bin/dash"));
        assert!(t.find("bash").is_some() && t.find("curl").is_some());
        assert!(t.find("wget").is_none());
        assert_eq!(t.toolchain[0].name, "gcc");
        assert_eq!(t.ca_bundle.as_ref().unwrap().certificates, Some(2));
        let tz = t.tzdata.unwrap();
        assert_eq!(tz.version.as_deref(), Some("2024a"));
        assert_eq!(tz.zones, 2);
        assert!(t.busybox.is_none());
    }

    #[test]
    fn busybox_applets_symlinks_and_hardlinks() {
        let alpine = fs(vec![
            exe("/bin/busybox"),
            symlink("/bin/sh", "/bin/busybox"),
            symlink("/bin/ls", "/bin/busybox"),
            symlink("/usr/bin/wget", "../../bin/busybox"),
            exe("/usr/bin/ssl_client"),
        ]);
        let t = catalog(&alpine, &Packages::default(), &[]);
        let bb = t.busybox.as_ref().unwrap();
        assert_eq!(bb.applets, ["ls", "sh", "wget"]);
        assert_eq!(
            t.find("sh").unwrap().provided_by.as_deref(),
            Some("busybox")
        );
        assert_eq!(
            t.find("wget").unwrap().provided_by.as_deref(),
            Some("busybox")
        );
        // The busybox image: every applet a hard link of /bin/[.
        let hard = fs(vec![
            exe("/bin/["),
            hardlink("/bin/busybox", "/bin/["),
            hardlink("/bin/sh", "/bin/["),
            hardlink("/bin/ls", "/bin/["),
        ]);
        let t = catalog(&hard, &Packages::default(), &[]);
        assert_eq!(t.busybox.as_ref().unwrap().applets, ["[", "ls", "sh"]);
        assert_eq!(
            t.find("sh").unwrap().provided_by.as_deref(),
            Some("busybox")
        );
    }
}
