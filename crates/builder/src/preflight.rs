//! The scratch pre-flight: what a binary needs that an image without a distribution lacks.
//!
//! Run over the files being added when the base is scratch (or has no libc):
//!
//! - a dynamically linked ELF file (`PT_INTERP` / `DT_NEEDED`) whose loader is not part of the
//!   image is an **error** naming the interpreter and libraries and suggesting a base that has
//!   them, unless dynamic binaries are allowed;
//! - a binary that looks like it speaks TLS without a CA bundle in the image is a warning;
//! - a non-numeric user without `/etc/passwd` is a warning (the runtime cannot resolve it);
//! - a binary that reads the zoneinfo database without `/usr/share/zoneinfo` is a warning.
//!
//! [`Extra`] adds what is missing: CA certificates and zoneinfo from the host (or from an
//! image, see [`crate::imagefs`]), and a minimal generated `/etc/passwd` and `/etc/group`.

use std::io::Read;
use std::path::Path;

use crate::elf::{self, ElfInfo};
use crate::error::{BuildError, Result};
use crate::layer::{Content, Entry, HostOptions, Kind, Tree};

/// Where CA bundles live in common distributions.
pub const CA_PATHS: &[&str] = &[
    "etc/ssl/certs/ca-certificates.crt",
    "etc/pki/tls/certs/ca-bundle.crt",
    "etc/ssl/cert.pem",
    "etc/ssl/ca-bundle.pem",
];
/// The CA bundle path `--with ca-certificates` writes (Debian's, which Go, OpenSSL and rustls
/// with native roots all find).
pub const CA_BUNDLE: &str = "etc/ssl/certs/ca-certificates.crt";
/// The zoneinfo directory.
pub const ZONEINFO: &str = "usr/share/zoneinfo";

/// What `--with` can add.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Extra {
    /// The CA bundle.
    CaCertificates,
    /// `/etc/passwd` and `/etc/group`.
    Passwd,
    /// `/usr/share/zoneinfo`.
    Tzdata,
}

impl Extra {
    /// Parses `ca-certificates`, `passwd` or `tzdata`.
    pub fn parse(s: &str) -> Result<Extra> {
        match s.trim() {
            "ca-certificates" | "ca-certs" | "certs" => Ok(Extra::CaCertificates),
            "passwd" | "users" => Ok(Extra::Passwd),
            "tzdata" | "zoneinfo" => Ok(Extra::Tzdata),
            other => Err(BuildError::Invalid(format!(
                "--with {other:?}: expected ca-certificates, passwd or tzdata"
            ))),
        }
    }

    /// The image paths it provides.
    pub fn paths(self) -> &'static [&'static str] {
        match self {
            Extra::CaCertificates => &[CA_BUNDLE],
            Extra::Passwd => &["etc/passwd", "etc/group"],
            Extra::Tzdata => &[ZONEINFO],
        }
    }
}

/// The user name of a `--user` value, when not numeric (`app`, `app:app`, `1000:staff`).
pub fn user_names(user: &str) -> Vec<&str> {
    user.split(':')
        .filter(|p| !p.is_empty() && !p.bytes().all(|b| b.is_ascii_digit()))
        .collect()
}

/// A minimal `/etc/passwd` and `/etc/group`: root, nobody, and the `--user` name (uid/gid
/// 65532, as distroless names `nonroot`) when it is neither.
pub fn passwd_files(user: Option<&str>) -> (Vec<u8>, Vec<u8>) {
    let mut passwd = String::from(
        "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n",
    );
    let mut group = String::from("root:x:0:\nnobody:x:65534:\n");
    if let Some(u) = user {
        let mut parts = u.splitn(2, ':');
        let name = parts.next().unwrap_or("");
        let grp = parts.next();
        if !name.is_empty()
            && !name.bytes().all(|b| b.is_ascii_digit())
            && name != "root"
            && name != "nobody"
        {
            passwd.push_str(&format!(
                "{name}:x:65532:65532:{name}:/home/{name}:/sbin/nologin\n"
            ));
            if grp.is_none() || grp == Some(name) {
                group.push_str(&format!("{name}:x:65532:\n"));
            }
        }
        if let Some(g) = grp
            && g != name
            && !g.is_empty()
            && !g.bytes().all(|b| b.is_ascii_digit())
            && g != "root"
            && g != "nobody"
        {
            group.push_str(&format!("{g}:x:65533:\n"));
        }
    }
    (passwd.into_bytes(), group.into_bytes())
}

/// Adds `extras` from the host's files (`passwd` is generated).
pub fn add_from_host(tree: &mut Tree, extras: &[Extra], user: Option<&str>) -> Result<()> {
    for e in extras {
        match e {
            Extra::CaCertificates => {
                let src = Path::new("/").join(CA_BUNDLE);
                if !src.exists() {
                    return Err(BuildError::Invalid(format!(
                        "--with ca-certificates: this machine has no {} (install \
                         ca-certificates, or use --with-from IMAGE)",
                        src.display()
                    )));
                }
                // The bundle is usually a symlink-free file; follow links anyway.
                let data = std::fs::read(&src).map_err(|err| BuildError::io(&src, err))?;
                tree.insert(CA_BUNDLE, Entry::bytes(data, 0o644));
            }
            Extra::Passwd => {
                let (p, g) = passwd_files(user);
                tree.insert("etc/passwd", Entry::bytes(p, 0o644));
                tree.insert("etc/group", Entry::bytes(g, 0o644));
            }
            Extra::Tzdata => {
                let src = Path::new("/").join(ZONEINFO);
                if !src.is_dir() {
                    return Err(BuildError::Invalid(format!(
                        "--with tzdata: this machine has no {} (install tzdata, or use \
                         --with-from IMAGE)",
                        src.display()
                    )));
                }
                tree.add_host_path(&src, ZONEINFO, &HostOptions::default())?;
            }
        }
    }
    Ok(())
}

/// What the base provides, as far as the pre-flight knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseKind {
    /// `FROM scratch`: nothing.
    Scratch,
    /// An image; its files are not read (its layers are never downloaded), so it is assumed to
    /// provide what its binaries need.
    Image,
}

/// An ELF file found among the added files.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Binary {
    /// Its path in the image.
    pub path: String,
    /// What it needs.
    pub info: ElfInfo,
}

/// What the pre-flight found.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Report {
    /// ELF files among the added files.
    pub binaries: Vec<Binary>,
    /// Warnings for people.
    pub warnings: Vec<String>,
}

fn read_head(content: &Content, n: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    let got = match content {
        Content::Host(p) => {
            let mut f = std::fs::File::open(p).map_err(|e| BuildError::io(p, e))?;
            read_full(&mut f, &mut buf).map_err(|e| BuildError::io(p, e))?
        }
        Content::Bytes(b) => {
            let k = b.len().min(n);
            buf[..k].copy_from_slice(&b[..k]);
            k
        }
        Content::Range { file, offset, len } => {
            use std::io::{Seek, SeekFrom};
            let mut f = std::fs::File::open(&**file).map_err(|e| BuildError::io(&**file, e))?;
            f.seek(SeekFrom::Start(*offset))
                .map_err(|e| BuildError::io(&**file, e))?;
            let mut t = f.take((*len).min(n as u64));
            read_full(&mut t, &mut buf).map_err(|e| BuildError::io(&**file, e))?
        }
    };
    buf.truncate(got);
    Ok(buf)
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let n = r.read(&mut buf[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got)
}

/// The ELF files of `tree`, inspected.
pub fn binaries(tree: &Tree) -> Result<Vec<Binary>> {
    let mut out = Vec::new();
    for (path, e) in tree.iter() {
        let Kind::File { content, size } = &e.kind else {
            continue;
        };
        if *size < 64 || read_head(content, 4)? != b"\x7fELF" {
            continue;
        }
        let data = read_head(content, (*size).min(1 << 30) as usize)?;
        if let Some(info) = elf::inspect(&data) {
            out.push(Binary {
                path: format!("/{path}"),
                info,
            });
        }
    }
    Ok(out)
}

/// Checks the files an image will hold (`tree`: everything added, extras included) on a base
/// of `base` kind, run as `user`. Dynamic binaries on scratch are an error unless
/// `allow_dynamic`.
pub fn check(
    tree: &Tree,
    base: BaseKind,
    user: Option<&str>,
    allow_dynamic: bool,
) -> Result<Report> {
    let mut report = Report {
        binaries: binaries(tree)?,
        warnings: vec![],
    };
    if base != BaseKind::Scratch {
        return Ok(report);
    }
    let has = |p: &str| tree.get(p).is_some();
    let mut errors = Vec::new();
    for b in &report.binaries {
        if !b.info.is_dynamic() {
            continue;
        }
        if let Some(i) = &b.info.interpreter
            && has(i)
        {
            continue; // the image brings its own loader
        }
        let libs = if b.info.needed.is_empty() {
            "no libraries".to_string()
        } else {
            b.info.needed.join(", ")
        };
        let suggestion = match b.info.libc() {
            Some("musl") => "an Alpine base (alpine:3)",
            _ => "a base with glibc, e.g. gcr.io/distroless/cc-debian12 or debian:bookworm-slim",
        };
        errors.push(format!(
            "{} is dynamically linked: it needs the interpreter {} and {libs}, which scratch \
             does not have. Link it statically, build on {suggestion}, or pass --allow-dynamic",
            b.path,
            b.info.interpreter.as_deref().unwrap_or("(none)"),
        ));
    }
    if !errors.is_empty() && !allow_dynamic {
        return Err(BuildError::Preflight(errors.join("\n")));
    }
    report.warnings.extend(errors);
    if CA_PATHS.iter().all(|p| !has(p))
        && let Some(b) = report.binaries.iter().find(|b| b.info.tls)
    {
        report.warnings.push(format!(
            "{} looks like it speaks TLS, but the image has no CA bundle ({}); add one with \
             --with ca-certificates",
            b.path, CA_BUNDLE
        ));
    }
    if let Some(u) = user
        && !user_names(u).is_empty()
        && !has("etc/passwd")
    {
        report.warnings.push(format!(
            "user {u:?} is not numeric and the image has no /etc/passwd to resolve it; use a \
             numeric UID[:GID] or add one with --with passwd"
        ));
    }
    if !has(ZONEINFO)
        && let Some(b) = report.binaries.iter().find(|b| b.info.zoneinfo)
    {
        report.warnings.push(format!(
            "{} reads time zones from /usr/share/zoneinfo, which the image lacks (only UTC \
             will work); add it with --with tzdata",
            b.path
        ));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_binary_on_scratch_is_an_error() {
        let me = std::env::current_exe().unwrap();
        let mut t = Tree::new();
        t.add_host_path(&me, "/app", &HostOptions::default())
            .unwrap();
        let err = check(&t, BaseKind::Scratch, None, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("/app is dynamically linked"), "{err}");
        assert!(err.contains("ld-linux"), "{err}");
        assert!(err.contains("libc.so.6"), "{err}");
        assert!(err.contains("distroless/cc"), "{err}");
        let r = check(&t, BaseKind::Scratch, Some("app"), true).unwrap();
        assert!(
            r.warnings.iter().any(|w| w.contains("/etc/passwd")),
            "{r:?}"
        );
        assert!(check(&t, BaseKind::Image, None, false).is_ok());
    }

    #[test]
    fn passwd_names_the_user() {
        let (p, g) = passwd_files(Some("app:web"));
        let p = String::from_utf8(p).unwrap();
        let g = String::from_utf8(g).unwrap();
        assert!(p.contains("app:x:65532:65532"));
        assert!(g.contains("web:x:65533:"));
        assert_eq!(user_names("1000:1000"), Vec::<&str>::new());
        assert_eq!(user_names("app:1000"), vec!["app"]);
    }
}
