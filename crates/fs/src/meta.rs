//! File metadata and image paths.

use serde::{Deserialize, Serialize};

/// The type of a filesystem entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link; [`FileMeta::link`] holds its target as written.
    Symlink,
    /// A hard link; [`FileMeta::link`] holds the absolute path of the file it links to.
    Hardlink,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A named pipe.
    Fifo,
}

impl Kind {
    /// The `ls -l` type character (`-`, `d`, `l`, `h`, `c`, `b`, `p`).
    pub fn ls_char(self) -> char {
        match self {
            Kind::File => '-',
            Kind::Dir => 'd',
            Kind::Symlink => 'l',
            Kind::Hardlink => 'h',
            Kind::CharDevice => 'c',
            Kind::BlockDevice => 'b',
            Kind::Fifo => 'p',
        }
    }
}

/// The metadata of one path of an image filesystem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMeta {
    /// Absolute, normalized path (`/etc/os-release`; the root is `/`).
    pub path: String,
    /// The entry type.
    pub kind: Kind,
    /// Permission bits including setuid (0o4000), setgid (0o2000) and sticky (0o1000).
    pub mode: u32,
    /// Owner user id.
    pub uid: u64,
    /// Owner group id.
    pub gid: u64,
    /// Size in bytes (regular files; for hard links, the size of the linked file).
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: i64,
    /// Symlink target (as written) or hard link target (absolute path).
    pub link: Option<String>,
    /// Index of the layer that last wrote this path (0 = base layer).
    pub layer: usize,
}

impl FileMeta {
    /// The last path component (`os-release`; `/` for the root).
    pub fn name(&self) -> &str {
        if self.path == "/" {
            return "/";
        }
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// `ls -l` style permissions (`-rwsr-xr-x`).
    pub fn mode_string(&self) -> String {
        let m = self.mode;
        let mut s = String::with_capacity(10);
        s.push(self.kind.ls_char());
        let bit = |b: u32, c: char| if m & b != 0 { c } else { '-' };
        let exec = |x: u32, special: u32, on: char, off: char| match (m & x != 0, m & special != 0)
        {
            (true, true) => on,
            (false, true) => off,
            (true, false) => 'x',
            (false, false) => '-',
        };
        s.push(bit(0o400, 'r'));
        s.push(bit(0o200, 'w'));
        s.push(exec(0o100, 0o4000, 's', 'S'));
        s.push(bit(0o040, 'r'));
        s.push(bit(0o020, 'w'));
        s.push(exec(0o010, 0o2000, 's', 'S'));
        s.push(bit(0o004, 'r'));
        s.push(bit(0o002, 'w'));
        s.push(exec(0o001, 0o1000, 't', 'T'));
        s
    }
}

/// Why a tar entry's path was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PathProblem {
    Absolute,
    DotDot,
}

/// Normalizes a path found in a layer tar (`./etc//passwd` → `/etc/passwd`), refusing absolute
/// paths and `..` components, which could write outside the root when unpacked.
pub(crate) fn entry_path(raw: &str) -> Result<String, PathProblem> {
    if raw.starts_with('/') {
        return Err(PathProblem::Absolute);
    }
    let mut out = String::with_capacity(raw.len() + 1);
    for comp in raw.split('/') {
        match comp {
            "" | "." => {}
            ".." => return Err(PathProblem::DotDot),
            c => {
                out.push('/');
                out.push_str(c);
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

/// Normalizes a path given by a caller: relative paths are taken from the root, `.` and empty
/// components are dropped, and `..` goes up (never above the root). No symlink is followed.
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return "/".to_string();
    }
    let mut out = String::with_capacity(path.len() + 1);
    for p in parts {
        out.push('/');
        out.push_str(p);
    }
    out
}

/// The parent of a normalized path (`/` for top-level entries and for the root).
pub(crate) fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// `dir` joined with a single component.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_paths() {
        assert_eq!(entry_path("./etc//passwd").unwrap(), "/etc/passwd");
        assert_eq!(entry_path("usr/bin/").unwrap(), "/usr/bin");
        assert_eq!(entry_path("./").unwrap(), "/");
        assert_eq!(entry_path("/etc/x"), Err(PathProblem::Absolute));
        assert_eq!(entry_path("a/../../x"), Err(PathProblem::DotDot));
    }

    #[test]
    fn normalizes() {
        assert_eq!(normalize("etc/os-release"), "/etc/os-release");
        assert_eq!(normalize("/a/./b/../c/"), "/a/c");
        assert_eq!(normalize("/../.."), "/");
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a"), "/");
        assert_eq!(join("/", "a"), "/a");
    }

    #[test]
    fn modes() {
        let m = FileMeta {
            path: "/usr/bin/passwd".into(),
            kind: Kind::File,
            mode: 0o4755,
            uid: 0,
            gid: 0,
            size: 1,
            mtime: 0,
            link: None,
            layer: 0,
        };
        assert_eq!(m.mode_string(), "-rwsr-xr-x");
        assert_eq!(m.name(), "passwd");
        let t = FileMeta {
            kind: Kind::Dir,
            mode: 0o1777,
            ..m
        };
        assert_eq!(t.mode_string(), "drwxrwxrwt");
    }
}
