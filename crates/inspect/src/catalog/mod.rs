//! The catalogers: each reads a [`MergedFs`] and says one thing about the image.
//!
//! Every cataloger declares the [`ContentRequest`] it needs ([`request`] is their union), so
//! the filesystem layer keeps the bytes of only those files while layers stream past;
//! metadata is there for every path. [`catalog`] runs them all.

pub mod apk;
pub mod dpkg;
pub mod eol;
pub mod libc;
pub mod osrelease;
pub mod package;
pub mod perms;
pub mod pkgmgr;
pub mod rpm;
pub mod runtimes;
pub mod tools;
pub mod users;

use plinth_fs::{ContentRequest, MergedFs};
use serde::Serialize;

pub use eol::{EolStatus, Support};
pub use libc::{Libc, LibcKind};
pub use osrelease::OsRelease;
pub use package::{DbKind, Package, PackageDb, Packages};
pub use perms::Perms;
pub use pkgmgr::PackageManager;
pub use runtimes::{Runtime, Runtimes};
pub use tools::Tools;
pub use users::Users;

/// Everything the catalogers found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Catalog {
    /// The OS (`None`: no `os-release`, a scratch-like image).
    pub os: Option<OsRelease>,
    /// End-of-life verdict for the OS.
    pub eol: Option<EolStatus>,
    /// The C library (`None`: no libc, static binaries only).
    pub libc: Option<Libc>,
    /// Package databases and packages.
    pub packages: Packages,
    /// Package manager binaries.
    pub package_managers: Vec<PackageManager>,
    /// Language runtimes.
    pub runtimes: Runtimes,
    /// Shells and tools.
    pub tools: Tools,
    /// Users and groups.
    pub users: Users,
    /// setuid/setgid and world-writable paths.
    pub perms: Perms,
}

/// The content every cataloger needs, as one request.
pub fn request() -> ContentRequest {
    osrelease::request()
        .merge(libc::request())
        .merge(dpkg::request())
        .merge(apk::request())
        .merge(rpm::request())
        .merge(runtimes::request())
        .merge(tools::request())
        .merge(users::request())
}

/// Runs every cataloger. `env` is the image config's `Env` (`KEY=value`, used for `PATH` and
/// as runtime hints); `as_of` the date (`YYYY-MM-DD`) end-of-life is judged on.
pub fn catalog(fs: &MergedFs, env: &[String], as_of: &str) -> Catalog {
    let os = osrelease::catalog(fs);
    let eol = os.as_ref().map(|os| eol::status(os, as_of));
    let mut packages = Packages::default();
    dpkg::catalog(fs, &mut packages);
    apk::catalog(fs, &mut packages);
    rpm::catalog(fs, &mut packages);
    packages.sort();
    let runtimes = runtimes::catalog(fs, &packages, env);
    let tools = tools::catalog(fs, &packages, env);
    Catalog {
        os,
        eol,
        libc: libc::catalog(fs),
        package_managers: pkgmgr::catalog(fs),
        runtimes,
        tools,
        users: users::catalog(fs),
        perms: perms::catalog(fs),
        packages,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_fs::{FileMeta, Kind};

    fn meta(path: &str, size: u64) -> FileMeta {
        FileMeta {
            path: path.into(),
            kind: Kind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size,
            mtime: 0,
            link: None,
            layer: 0,
        }
    }

    #[test]
    fn the_request_keeps_what_the_catalogers_read_and_nothing_big() {
        let r = request();
        for p in [
            "/etc/os-release",
            "/usr/lib/os-release",
            "/var/lib/dpkg/status",
            "/var/lib/dpkg/status.d/libc6",
            "/lib/apk/db/installed",
            "/var/lib/rpm/rpmdb.sqlite",
            "/usr/lib/sysimage/rpm/rpmdb.sqlite",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "/lib64/libc.so.6",
            "/lib/ld-musl-x86_64.so.1",
            "/usr/bin/python3.11",
            "/usr/local/include/python3.12/patchlevel.h",
            "/usr/local/include/node/node_version.h",
            "/opt/java/openjdk/release",
            "/usr/lib/jvm/java-17-openjdk-amd64/release",
            "/usr/local/go/VERSION",
            "/usr/local/lib/ruby/3.2.0/x86_64-linux/rbconfig.rb",
            "/usr/local/include/php/main/php_version.h",
            "/usr/lib/x86_64-linux-gnu/perl-base/Config.pm",
            "/etc/ssl/certs/ca-certificates.crt",
            "/usr/share/zoneinfo/tzdata.zi",
            "/etc/passwd",
            "/etc/group",
        ] {
            assert!(r.wants(&meta(p, 1000)), "{p} not requested");
        }
        for p in [
            "/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1",
            "/usr/bin/bash",
            "/usr/share/doc/libc6/copyright",
            "/usr/bin/python3.11-config.d/x",
            "/var/lib/dpkg/info/libc6.list",
        ] {
            assert!(!r.wants(&meta(p, 1000)), "{p} requested");
        }
        // Size limits: an os-release of 1 MB is not a real one; a 20 MB python binary is.
        assert!(!r.wants(&meta("/etc/os-release", 1 << 20)));
        assert!(r.wants(&meta("/usr/bin/python3.11", 20 << 20)));
        assert!(!r.wants(&meta("/usr/bin/python3.11", 64 << 20)));
    }
}

/// Builders of small filesystems for the catalogers' tests.
#[cfg(test)]
pub(crate) mod testfs {
    use plinth_fs::{FileMeta, Kind, MergedFs};

    pub(crate) type Entry = (FileMeta, Option<Vec<u8>>);

    pub(crate) fn with_mode(path: &str, kind: Kind, mode: u32) -> Entry {
        (
            FileMeta {
                path: path.into(),
                kind,
                mode,
                uid: 0,
                gid: 0,
                size: 0,
                mtime: 0,
                link: None,
                layer: 0,
            },
            None,
        )
    }

    pub(crate) fn file(path: &str, content: &str) -> Entry {
        let (mut m, _) = with_mode(path, Kind::File, 0o644);
        m.size = content.len() as u64;
        (m, Some(content.as_bytes().to_vec()))
    }

    pub(crate) fn exe_with(path: &str, content: &[u8]) -> Entry {
        let (mut m, _) = with_mode(path, Kind::File, 0o755);
        m.size = content.len() as u64;
        (m, Some(content.to_vec()))
    }

    pub(crate) fn exe(path: &str) -> Entry {
        exe_with(path, b"\x7fELF")
    }

    pub(crate) fn dir(path: &str) -> Entry {
        with_mode(path, Kind::Dir, 0o755)
    }

    pub(crate) fn symlink(path: &str, target: &str) -> Entry {
        let (mut m, _) = with_mode(path, Kind::Symlink, 0o777);
        m.link = Some(target.into());
        (m, None)
    }

    pub(crate) fn hardlink(path: &str, target: &str) -> Entry {
        let (mut m, _) = with_mode(path, Kind::Hardlink, 0o755);
        m.link = Some(target.into());
        (m, None)
    }

    pub(crate) fn fs(entries: Vec<Entry>) -> MergedFs {
        MergedFs::from_entries(entries)
    }
}
