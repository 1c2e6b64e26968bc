//! ELF inspection: static or dynamic, what it needs, whether it looks like it speaks TLS.
//!
//! A binary is **dynamic** when it has a `PT_INTERP` program header (the dynamic loader it
//! must find, e.g. `/lib64/ld-linux-x86-64.so.2`) or `DT_NEEDED` entries (shared libraries).
//! A static-pie binary has a dynamic section but neither, and is static.

use object::elf;
use object::read::elf::{Dyn, FileHeader, ProgramHeader};

/// What an ELF file needs at run time.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ElfInfo {
    /// The program interpreter (`PT_INTERP`), for dynamically linked executables.
    pub interpreter: Option<String>,
    /// Shared libraries (`DT_NEEDED`), in order.
    pub needed: Vec<String>,
    /// The ELF machine (`x86_64`, `aarch64`, …).
    pub machine: String,
    /// Whether it links a TLS library or contains strings TLS stacks use.
    pub tls: bool,
    /// Whether it mentions the zoneinfo database.
    pub zoneinfo: bool,
}

impl ElfInfo {
    /// Whether the file needs a loader or shared libraries.
    pub fn is_dynamic(&self) -> bool {
        self.interpreter.is_some() || !self.needed.is_empty()
    }

    /// The libc family its interpreter implies: `glibc`, `musl`, or `None`.
    pub fn libc(&self) -> Option<&'static str> {
        let i = self.interpreter.as_deref()?;
        if i.contains("ld-musl") {
            Some("musl")
        } else if i.contains("ld-linux") || i.contains("ld64.so") || i.contains("ld.so") {
            Some("glibc")
        } else {
            None
        }
    }
}

/// Whether `data` starts like an ELF file.
pub fn is_elf(data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
}

/// Libraries whose presence means TLS.
const TLS_LIBS: &[&str] = &[
    "libssl",
    "libcrypto",
    "libgnutls",
    "libnss3",
    "libmbedtls",
    "libwolfssl",
];
/// Strings TLS stacks leave in static binaries: Go's crypto/tls, rustls, OpenSSL, and the
/// places CA bundles are looked for.
const TLS_STRINGS: &[&[u8]] = &[
    b"crypto/tls",
    b"rustls",
    b"SSL_CTX_new",
    b"/etc/ssl/certs",
    b"ca-certificates.crt",
    b"webpki",
];

/// Whether any of [`TLS_STRINGS`], and whether `zoneinfo`, occur in `data`. Static binaries
/// are tens of megabytes and every one a build adds is scanned: memchr's SIMD substring search
/// runs at several GB/s (a multi-pattern automaton measured slower here, a byte loop much
/// slower), and the TLS search stops at the first hit.
fn scan_strings(data: &[u8]) -> (bool, bool) {
    use memchr::memmem;
    let tls = TLS_STRINGS.iter().any(|p| memmem::find(data, p).is_some());
    (tls, memmem::find(data, b"zoneinfo").is_some())
}

/// Inspects ELF bytes; `None` when they are not a readable ELF file.
pub fn inspect(data: &[u8]) -> Option<ElfInfo> {
    if !is_elf(data) || data.len() < 5 {
        return None;
    }
    let mut info = match data[4] {
        x if x == elf::ELFCLASS64.0 => read::<elf::FileHeader64<object::Endianness>>(data)?,
        x if x == elf::ELFCLASS32.0 => read::<elf::FileHeader32<object::Endianness>>(data)?,
        _ => return None,
    };
    let (tls_strings, zoneinfo) = scan_strings(data);
    info.tls = tls_strings
        || info
            .needed
            .iter()
            .any(|n| TLS_LIBS.iter().any(|l| n.starts_with(l)));
    info.zoneinfo = zoneinfo;
    Some(info)
}

fn read<Elf: FileHeader<Endian = object::Endianness>>(data: &[u8]) -> Option<ElfInfo> {
    let header = Elf::parse(data).ok()?;
    let endian = header.endian().ok()?;
    let mut info = ElfInfo {
        machine: machine_name(header.e_machine(endian)).to_string(),
        ..ElfInfo::default()
    };
    for ph in header.program_headers(endian, data).ok()? {
        if let Ok(Some(i)) = ph.interpreter(endian, data) {
            let s = String::from_utf8_lossy(i);
            info.interpreter = Some(s.trim_end_matches('\0').to_string());
        }
    }
    if let Ok(sections) = header.sections(endian, data)
        && let Ok(table) = sections.dynamic_table(endian, data)
    {
        for d in table.dynamics() {
            let tag = d.d_tag(endian);
            if tag == elf::DT_NULL {
                break;
            }
            if tag == elf::DT_NEEDED
                && let Ok(name) = table.strings().get(d.d_val(endian).into() as u32)
            {
                info.needed.push(String::from_utf8_lossy(name).into_owned());
            }
        }
    }
    Some(info)
}

fn machine_name(m: elf::Machine) -> &'static str {
    match m {
        elf::EM_X86_64 => "x86_64",
        elf::EM_386 => "i386",
        elf::EM_AARCH64 => "aarch64",
        elf::EM_ARM => "arm",
        elf::EM_RISCV => "riscv",
        elf::EM_PPC64 => "ppc64",
        elf::EM_S390 => "s390x",
        _ => "unknown",
    }
}

/// The Docker architecture an ELF machine runs on.
pub fn docker_arch(machine: &str) -> Option<&'static str> {
    Some(match machine {
        "x86_64" => "amd64",
        "i386" => "386",
        "aarch64" => "arm64",
        "arm" => "arm",
        "riscv" => "riscv64",
        "ppc64" => "ppc64le",
        "s390x" => "s390x",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_binaries() {
        // The test binary itself is dynamically linked against glibc on this platform.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let info = inspect(&me).unwrap();
        assert!(info.is_dynamic(), "{info:?}");
        assert!(
            info.needed.iter().any(|n| n.starts_with("libc.so")),
            "{info:?}"
        );
        assert_eq!(info.libc(), Some("glibc"));
        assert!(inspect(b"#!/bin/sh\n").is_none());
        assert_eq!(scan_strings(b"abc crypto/tls x"), (true, false));
        assert_eq!(scan_strings(b"crypto/tl zoneinf"), (false, false));
        assert_eq!(
            scan_strings(b"/usr/share/zoneinfo and /etc/ssl/certs"),
            (true, true)
        );
    }
}
