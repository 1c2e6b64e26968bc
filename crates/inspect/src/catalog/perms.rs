//! Permissions worth knowing: setuid/setgid files, and world-writable files and directories
//! outside the scratch directories (`/tmp`, `/var/tmp`, `/dev/shm`, `/run/lock`), with sticky
//! directories noted.

use plinth_fs::{FileMeta, Kind, MergedFs};
use serde::Serialize;

/// A setuid or setgid file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SpecialFile {
    /// Path.
    pub path: String,
    /// `ls -l` mode (`-rwsr-xr-x`).
    pub mode: String,
    /// Set-user-id.
    pub setuid: bool,
    /// Set-group-id.
    pub setgid: bool,
    /// Owner uid.
    pub uid: u64,
    /// Owner gid.
    pub gid: u64,
    /// Layer that last wrote it.
    pub layer: usize,
}

/// A world-writable path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WritablePath {
    /// Path.
    pub path: String,
    /// `file` or `dir` (or another kind).
    pub kind: String,
    /// `ls -l` mode.
    pub mode: String,
    /// The sticky bit (only the owner may remove entries of the directory).
    pub sticky: bool,
    /// Layer that last wrote it.
    pub layer: usize,
}

/// Special permissions of the image.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Perms {
    /// setuid/setgid regular files.
    pub setuid: Vec<SpecialFile>,
    /// World-writable files and directories outside the scratch directories.
    pub world_writable: Vec<WritablePath>,
    /// The scratch directories that exist, as found (world-writable and sticky is expected).
    pub scratch_dirs: Vec<WritablePath>,
}

/// Directories where world-writable is the norm.
pub const SCRATCH: &[&str] = &["/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock"];

fn in_scratch(path: &str) -> bool {
    SCRATCH.iter().any(|s| {
        path.strip_prefix(s)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::File | Kind::Hardlink => "file",
        Kind::Dir => "dir",
        Kind::Symlink => "symlink",
        Kind::CharDevice => "char_device",
        Kind::BlockDevice => "block_device",
        Kind::Fifo => "fifo",
    }
}

fn writable(m: &FileMeta) -> WritablePath {
    WritablePath {
        path: m.path.clone(),
        kind: kind_name(m.kind).to_string(),
        mode: m.mode_string(),
        sticky: m.kind == Kind::Dir && m.mode & 0o1000 != 0,
        layer: m.layer,
    }
}

/// Walks every path once.
pub fn catalog(fs: &MergedFs) -> Perms {
    let mut out = Perms::default();
    for m in fs.iter() {
        match m.kind {
            Kind::File | Kind::Hardlink if m.mode & 0o6000 != 0 => {
                out.setuid.push(SpecialFile {
                    path: m.path.clone(),
                    mode: m.mode_string(),
                    setuid: m.mode & 0o4000 != 0,
                    setgid: m.mode & 0o2000 != 0,
                    uid: m.uid,
                    gid: m.gid,
                    layer: m.layer,
                });
            }
            _ => {}
        }
        // Symlinks are always 0777; devices such as /dev/null are meant to be writable.
        if matches!(m.kind, Kind::Symlink | Kind::CharDevice | Kind::BlockDevice) {
            continue;
        }
        if m.mode & 0o002 != 0 {
            if SCRATCH.contains(&m.path.as_str()) {
                out.scratch_dirs.push(writable(m));
            } else if !in_scratch(&m.path) {
                out.world_writable.push(writable(m));
            }
        } else if m.kind == Kind::Dir && SCRATCH.contains(&m.path.as_str()) {
            out.scratch_dirs.push(writable(m));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::testfs::{fs, with_mode};

    #[test]
    fn finds_special_modes() {
        let fs = fs(vec![
            with_mode("/usr/bin/passwd", Kind::File, 0o4755),
            with_mode("/usr/bin/chage", Kind::File, 0o2755),
            with_mode("/usr/bin/ls", Kind::File, 0o755),
            with_mode("/tmp", Kind::Dir, 0o1777),
            with_mode("/tmp/x", Kind::File, 0o666),
            with_mode("/var/tmp", Kind::Dir, 0o1777),
            with_mode("/srv/drop", Kind::Dir, 0o777),
            with_mode("/etc/oops", Kind::File, 0o666),
            with_mode("/usr/lib/link", Kind::Symlink, 0o777),
            with_mode("/tmpfoo", Kind::Dir, 0o1777),
        ]);
        let p = catalog(&fs);
        let setuid: Vec<(&str, bool, bool)> = p
            .setuid
            .iter()
            .map(|s| (s.path.as_str(), s.setuid, s.setgid))
            .collect();
        assert_eq!(
            setuid,
            [
                ("/usr/bin/chage", false, true),
                ("/usr/bin/passwd", true, false)
            ]
        );
        let ww: Vec<(&str, bool)> = p
            .world_writable
            .iter()
            .map(|w| (w.path.as_str(), w.sticky))
            .collect();
        assert_eq!(
            ww,
            [
                ("/etc/oops", false),
                ("/srv/drop", false),
                ("/tmpfoo", true)
            ]
        );
        assert_eq!(p.scratch_dirs.len(), 2);
        assert!(p.scratch_dirs.iter().all(|s| s.sticky));
    }
}
