//! The C library: glibc (from the `libc.so.6` ELF), musl (from `ld-musl-*.so.1`), or none.
//!
//! This is what decides whether glibc-linked binaries and `manylinux` wheels run in an image.
//!
//! * glibc: the banner in `.rodata` (`GNU C Library (Debian GLIBC 2.36-9+deb12u4) stable
//!   release version 2.36.`), else the highest `GLIBC_2.x` version definition
//!   (`.gnu.version_d`, a lower bound: not every release adds one), else the file name of an
//!   old `libc-2.31.so`.
//! * musl: the version string the dynamic loader prints (`Version 1.2.4`), kept as a lone
//!   NUL-terminated string in `.rodata`.

use object::read::elf::{FileHeader, SectionHeader};
use object::{FileKind, elf};
use plinth_fs::{ContentRequest, FileMeta, Kind, MergedFs};
use serde::Serialize;

/// Library directories searched (multiarch tuples included through `*`).
const DIRS: &[&str] = &[
    "/lib",
    "/lib64",
    "/usr/lib",
    "/usr/lib64",
    "/lib/*",
    "/usr/lib/*",
];

/// What the libc cataloger needs to read: the libc ELF files (a few MB).
pub fn request() -> ContentRequest {
    let mut r = ContentRequest::new();
    for d in DIRS {
        r = r
            .glob(&format!("{d}/libc.so.6"))
            .glob(&format!("{d}/libc-*.so"))
            .glob(&format!("{d}/ld-musl-*.so.1"))
            .glob(&format!("{d}/libc.musl-*.so.1"));
    }
    r.max_size(32 << 20)
}

/// Which C library.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LibcKind {
    /// GNU C Library.
    Glibc,
    /// musl libc.
    Musl,
}

/// The C library of an image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Libc {
    /// glibc or musl.
    pub kind: LibcKind,
    /// `2.36`, `1.2.4`; `None` when the file gave no version.
    pub version: Option<String>,
    /// The file read (symlinks followed).
    pub path: String,
    /// Where the version came from (`rodata banner`, `version definitions`, …).
    pub evidence: String,
    /// The distribution's build string, when the banner has one (`Debian GLIBC 2.36-9+deb12u4`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
}

fn is_candidate(m: &FileMeta, names: &[&str]) -> bool {
    let dir = m.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let depth_ok = ["/lib", "/lib64", "/usr/lib", "/usr/lib64"].contains(&dir)
        || ["/lib/", "/usr/lib/"]
            .iter()
            .any(|p| dir.strip_prefix(p).is_some_and(|rest| !rest.contains('/')));
    depth_ok
        && names.iter().any(|n| match n.split_once('*') {
            Some((pre, suf)) => {
                let name = m.name();
                name.len() >= pre.len() + suf.len() && name.starts_with(pre) && name.ends_with(suf)
            }
            None => m.name() == *n,
        })
        && matches!(m.kind, Kind::File | Kind::Symlink | Kind::Hardlink)
}

/// Finds the C library in the image; `None` for images without one (static binaries only).
pub fn catalog(fs: &MergedFs) -> Option<Libc> {
    let candidates: Vec<&FileMeta> = fs
        .iter()
        .filter(|m| m.path.starts_with("/lib") || m.path.starts_with("/usr/lib"))
        .filter(|m| is_candidate(m, &["libc.so.6", "ld-musl-*.so.1", "libc.musl-*.so.1"]))
        .collect();
    // glibc first: an image with both (Debian's musl package) runs glibc programs natively.
    for m in candidates.iter().filter(|m| m.name() == "libc.so.6") {
        let Some(real) = fs.resolve(&m.path) else {
            continue;
        };
        let bytes = fs.read(&m.path);
        if let Some(libc) = bytes.and_then(|b| glibc_from_elf(b, &real.path)) {
            return Some(libc);
        }
        // An old glibc: libc.so.6 → libc-2.31.so.
        if let Some(v) = real
            .name()
            .strip_prefix("libc-")
            .and_then(|s| s.strip_suffix(".so"))
        {
            return Some(Libc {
                kind: LibcKind::Glibc,
                version: Some(v.to_string()),
                path: real.path.clone(),
                evidence: "file name".into(),
                build: None,
            });
        }
        return Some(Libc {
            kind: LibcKind::Glibc,
            version: None,
            path: real.path.clone(),
            evidence: "file present; content not readable".into(),
            build: None,
        });
    }
    for m in candidates.iter().filter(|m| m.name() != "libc.so.6") {
        let Some(real) = fs.resolve(&m.path) else {
            continue;
        };
        let version = fs.read(&m.path).and_then(musl_version);
        return Some(Libc {
            kind: LibcKind::Musl,
            evidence: if version.is_some() {
                "rodata version string".into()
            } else {
                "file present; no version string".into()
            },
            version,
            path: real.path.clone(),
            build: None,
        });
    }
    None
}

/// Reads glibc's version from a `libc.so.6` ELF image.
pub fn glibc_from_elf(data: &[u8], path: &str) -> Option<Libc> {
    let (rodata, verdefs) = match FileKind::parse(data).ok()? {
        FileKind::Elf64 => elf_parts::<elf::FileHeader64<object::Endianness>>(data)?,
        FileKind::Elf32 => elf_parts::<elf::FileHeader32<object::Endianness>>(data)?,
        _ => return None,
    };
    let banner = rodata
        .and_then(banner_version)
        .or_else(|| banner_version(data));
    if let Some((version, build)) = banner {
        return Some(Libc {
            kind: LibcKind::Glibc,
            version: Some(version),
            path: path.to_string(),
            evidence: "rodata banner".into(),
            build,
        });
    }
    let best = verdefs
        .iter()
        .filter_map(|v| v.strip_prefix("GLIBC_"))
        .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
        .max_by(|a, b| cmp_dotted(a, b))?;
    Some(Libc {
        kind: LibcKind::Glibc,
        version: Some(best.to_string()),
        path: path.to_string(),
        evidence: "version definitions (GLIBC_x.y, a lower bound)".into(),
        build: None,
    })
}

/// `.rodata` and the names of the version definitions.
fn elf_parts<Elf: FileHeader<Endian = object::Endianness>>(
    data: &[u8],
) -> Option<(Option<&[u8]>, Vec<String>)> {
    let header = Elf::parse(data).ok()?;
    let endian = header.endian().ok()?;
    let sections = header.sections(endian, data).ok()?;
    let rodata = sections
        .section_by_name(endian, b".rodata")
        .and_then(|(_, s)| s.data(endian, data).ok());
    let mut names = Vec::new();
    if let Ok(Some((mut defs, link))) = sections.gnu_verdef(endian, data)
        && let Ok(strings) = sections.strings(endian, data, link)
    {
        while let Ok(Some((_, mut aux))) = defs.next() {
            if let Ok(Some(a)) = aux.next()
                && let Ok(name) = a.name(endian, strings)
            {
                names.push(String::from_utf8_lossy(name).into_owned());
            }
        }
    }
    Some((rodata, names))
}

/// `… release version 2.36.` → (`2.36`, build in parentheses).
fn banner_version(hay: &[u8]) -> Option<(String, Option<String>)> {
    const NEEDLE: &[u8] = b"release version ";
    let at = find(hay, NEEDLE)?;
    let rest = &hay[at + NEEDLE.len()..];
    let end = rest
        .iter()
        .position(|b| !(b.is_ascii_digit() || *b == b'.'))
        .unwrap_or(rest.len());
    let version = std::str::from_utf8(&rest[..end])
        .ok()?
        .trim_end_matches('.')
        .to_string();
    if !version.contains('.') {
        return None;
    }
    // The banner line starts after the previous NUL: "GNU C Library (BUILD) stable release …".
    let start = hay[..at].iter().rposition(|b| *b == 0).map_or(0, |p| p + 1);
    let line = String::from_utf8_lossy(&hay[start..at]);
    let build = line
        .find('(')
        .and_then(|o| {
            line[o + 1..]
                .find(')')
                .map(|c| line[o + 1..o + 1 + c].to_string())
        })
        .filter(|b| !b.is_empty());
    Some((version, build))
}

/// The musl version in a loader image: a NUL-delimited `[01].N.N` string in `.rodata`.
pub fn musl_version(data: &[u8]) -> Option<String> {
    let region = match FileKind::parse(data).ok()? {
        FileKind::Elf64 => elf_parts::<elf::FileHeader64<object::Endianness>>(data)?.0,
        FileKind::Elf32 => elf_parts::<elf::FileHeader32<object::Endianness>>(data)?.0,
        _ => None,
    }
    .unwrap_or(data);
    musl_string(region)
}

/// The first NUL-delimited musl version string in `region`.
fn musl_string(region: &[u8]) -> Option<String> {
    region
        .split(|b| *b == 0)
        .filter_map(|s| std::str::from_utf8(s).ok())
        .find(|s| is_musl_version(s))
        .map(str::to_string)
}

fn is_musl_version(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && (parts[0] == "0" || parts[0] == "1")
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Compares dotted numeric versions (`2.9` < `2.10`).
pub(crate) fn cmp_dotted(a: &str, b: &str) -> std::cmp::Ordering {
    let parse = |s: &str| -> Vec<u64> { s.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    parse(a).cmp(&parse(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner() {
        let hay = b"xx\0GNU C Library (Debian GLIBC 2.36-9+deb12u4) stable release version 2.36.\nCopyright";
        let (v, b) = banner_version(hay).unwrap();
        assert_eq!(v, "2.36");
        assert_eq!(b.as_deref(), Some("Debian GLIBC 2.36-9+deb12u4"));
        assert!(banner_version(b"no banner").is_none());
    }

    #[test]
    fn musl_strings() {
        assert!(is_musl_version("1.2.4"));
        assert!(!is_musl_version("2.36.1"));
        assert!(!is_musl_version("1.2"));
        assert_eq!(
            musl_string(b"\0musl libc (x86_64)\nVersion %s\n\x001.2.4\0other\0"),
            Some("1.2.4".into())
        );
        assert_eq!(musl_version(b"not an ELF\x001.2.4\0"), None);
        assert_eq!(cmp_dotted("2.9", "2.10"), std::cmp::Ordering::Less);
    }

    /// The test machine's own glibc (Debian), read like an image's.
    #[test]
    fn host_glibc() {
        let path = ["/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib64/libc.so.6"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let Some(path) = path else { return };
        let data = std::fs::read(path).unwrap();
        let libc = glibc_from_elf(&data, path).unwrap();
        let v = libc.version.unwrap();
        assert!(v.starts_with("2."), "{v}");
        assert_eq!(libc.evidence, "rodata banner");
    }
}
