//! Language runtimes: Python, Node.js, Java, Go, Ruby, PHP, Perl, .NET — found from files.
//!
//! Each runtime is found from files that only it installs (a stdlib directory, a `release`
//! file, a `VERSION` file, a header that states the version) and its version is read from
//! those files, from the binary, or from the owning package. Environment variables
//! (`PYTHON_VERSION`, `NODE_VERSION`, …) are only a hint: they are compared with what the
//! files say, and a disagreement or a variable naming a runtime that is not there is reported.

use plinth_fs::{ContentRequest, FileMeta, Kind, MergedFs};
use serde::Serialize;

use crate::catalog::package::Packages;
use crate::catalog::pkgmgr::executable;

/// A runtime found in the image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Runtime {
    /// `python`, `node`, `java`, `go`, `ruby`, `php`, `perl`, `dotnet`.
    pub name: String,
    /// The version (`3.11.2`, `20.11.0`, `17.0.9`, `1.21.5`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The executable (`/usr/bin/python3.11`); the home directory when there is none.
    pub path: String,
    /// The installation directory (`/usr/lib/python3.11`, `/opt/java/openjdk`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    /// Where the version came from, each as `source: value`.
    pub evidence: Vec<String>,
    /// The package that installed it (`python3.11-minimal 3.11.2-6+deb12u5`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// What the image's environment says, when it names this runtime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<EnvHint>,
}

/// A version an environment variable states.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EnvHint {
    /// The variable (`PYTHON_VERSION`).
    pub var: String,
    /// Its value.
    pub value: String,
    /// Whether it agrees with the version found in the files.
    pub agrees: bool,
}

/// Runtimes, and environment hints that name a runtime the files do not have.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Runtimes {
    /// Runtimes found in the files.
    pub runtimes: Vec<Runtime>,
    /// `*_VERSION` variables whose runtime was not found in the files.
    pub unmatched_env: Vec<EnvHint>,
}

const BIN_MAX: u64 = 32 << 20;

/// What the runtime cataloger reads.
pub fn request() -> ContentRequest {
    let small = ContentRequest::new()
        // Python
        .glob("/usr/include/python[23].*/patchlevel.h")
        .glob("/usr/local/include/python[23].*/patchlevel.h")
        // Node.js
        .path("/usr/include/node/node_version.h")
        .path("/usr/local/include/node/node_version.h")
        // Java
        .path("/opt/java/openjdk/release")
        .glob("/usr/lib/jvm/*/release")
        .glob("/usr/local/openjdk-*/release")
        .glob("/usr/java/*/release")
        .glob("/opt/*/release")
        // Go
        .path("/usr/local/go/VERSION")
        .path("/usr/lib/go/VERSION")
        .path("/usr/lib/golang/VERSION")
        .glob("/usr/lib/go-*/VERSION")
        // Ruby
        .glob("/usr/local/lib/ruby/*/*/rbconfig.rb")
        .glob("/usr/lib/ruby/*/*/rbconfig.rb")
        .glob("/usr/lib/*/ruby/*/rbconfig.rb")
        .glob("/usr/lib64/ruby/rbconfig.rb")
        // PHP
        .path("/usr/local/include/php/main/php_version.h")
        .glob("/usr/include/php/*/main/php_version.h")
        // Perl
        .glob("/usr/lib/*/perl-base/Config.pm")
        .glob("/usr/lib/*/perl/5.*/Config.pm")
        .glob("/usr/local/lib/perl5/5.*/*/Config.pm")
        .glob("/usr/lib/perl5/core_perl/Config.pm")
        .glob("/usr/lib64/perl5/Config.pm")
        .max_size(1 << 20);
    // Interpreter binaries, read for the version string they embed.
    let binaries = ContentRequest::new()
        .glob("/usr/bin/python[23].[0-9]*")
        .glob("/usr/local/bin/python[23].[0-9]*")
        .glob("/usr/local/lib/libpython[23].*.so.1.0")
        .max_size(BIN_MAX);
    small.merge(binaries)
}

/// The upstream part of a package version: no epoch, no Debian revision, no `+dfsg`, no
/// apk `-rN`, no rpm release.
pub fn upstream_version(v: &str) -> String {
    let v = v.split_once(':').map_or(v, |(_, r)| r);
    let v = v.rsplit_once('-').map_or(v, |(u, _)| u);
    let end = v.find(['+', '~']).unwrap_or(v.len());
    v[..end].to_string()
}

/// Does `hint` (from an env var) agree with `found`: equal, or one a dotted prefix of the
/// other (`3.11` agrees with `3.11.9`).
fn agrees(hint: &str, found: &str) -> bool {
    let h = normalize_hint(hint);
    let f = found.trim_start_matches('v');
    h == f || f.starts_with(&format!("{h}.")) || h.starts_with(&format!("{f}."))
}

/// `v20.11.0` → `20.11.0`, `go1.21.5` → `1.21.5`, `jdk-17.0.9+9` → `17.0.9`.
fn normalize_hint(hint: &str) -> String {
    let h = hint.trim();
    let h = h
        .strip_prefix("jdk-")
        .or_else(|| h.strip_prefix("jdk"))
        .or_else(|| h.strip_prefix("go"))
        .or_else(|| h.strip_prefix('v'))
        .unwrap_or(h);
    let end = h.find(['+', ' ']).unwrap_or(h.len());
    h[..end].to_string()
}

struct Ctx<'a> {
    fs: &'a MergedFs,
    packages: &'a Packages,
    env: &'a [(String, String)],
}

impl Ctx<'_> {
    fn text(&self, path: &str) -> Option<String> {
        self.fs
            .read(path)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    fn package(&self, names: &[&str]) -> Option<(String, String)> {
        names.iter().find_map(|n| {
            self.packages
                .get(n)
                .map(|p| (p.name.clone(), p.version.clone()))
        })
    }

    fn env(&self, var: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == var)
            .map(|(_, v)| v.as_str())
    }

    fn dirs(&self, path: &str) -> Vec<&FileMeta> {
        self.fs
            .list_dir(path)
            .into_iter()
            .filter(|m| {
                m.kind == Kind::Dir
                    || (m.kind == Kind::Symlink
                        && self
                            .fs
                            .resolve(&m.path)
                            .is_some_and(|t| t.kind == Kind::Dir))
            })
            .collect()
    }
}

/// Fills in version, package and evidence from the candidates: the first file-based version
/// wins; the package version is evidence (and the version when nothing else gives one).
fn finish(
    name: &str,
    path: String,
    home: Option<String>,
    mut evidence: Vec<(String, String)>,
    package: Option<(String, String)>,
) -> Runtime {
    let mut version = evidence.first().map(|(_, v)| v.clone());
    let package_str = package.as_ref().map(|(n, v)| format!("{n} {v}"));
    if let Some((n, v)) = &package {
        let up = upstream_version(v);
        if version.is_none() {
            version = Some(up.clone());
        }
        evidence.push((format!("package {n}"), up));
    }
    Runtime {
        name: name.to_string(),
        version,
        path,
        home,
        evidence: evidence
            .into_iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect(),
        package: package_str,
        env: None,
    }
}

/// A C `#define NAME "value"` or `#define NAME value`.
fn define(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("#define")?.trim_start();
        let rest = rest.strip_prefix(name)?;
        if !rest.starts_with([' ', '\t']) {
            return None;
        }
        Some(rest.trim().trim_matches('"').to_string())
    })
}

/// A NUL-delimited string in `data` that is `prefix` followed by `.digits` and an optional
/// release tag (`3.11` → `3.11.2`, `3.13.0rc1`).
fn embedded_version(data: &[u8], prefix: &str) -> Option<String> {
    data.split(|b| *b == 0).find_map(|s| {
        let s = std::str::from_utf8(s).ok()?;
        let rest = s.strip_prefix(prefix)?.strip_prefix('.')?;
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let tail = &rest[digits..];
        let tail_ok = tail.is_empty()
            || (tail.len() <= 4
                && ["a", "b", "rc", "+"].iter().any(|t| tail.starts_with(t))
                && tail.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+'));
        (digits > 0 && digits <= 3 && tail_ok).then(|| s.to_string())
    })
}

fn python(cx: &Ctx, out: &mut Vec<Runtime>) {
    for prefix in ["/usr/local", "/usr"] {
        for d in cx.dirs(&format!("{prefix}/lib")) {
            let name = d.name();
            let Some(xy) = name.strip_prefix("python") else {
                continue;
            };
            if !(xy.starts_with("2.") || xy.starts_with("3."))
                || cx.fs.get(&format!("{}/os.py", d.path)).is_none()
            {
                continue;
            }
            let bin = format!("{prefix}/bin/python{xy}");
            let mut ev = Vec::new();
            if let Some(h) = cx.text(&format!("{prefix}/include/python{xy}/patchlevel.h"))
                && let Some(v) = define(&h, "PY_VERSION")
            {
                ev.push((format!("{prefix}/include/python{xy}/patchlevel.h"), v));
            }
            let scanned = [bin.clone(), format!("{prefix}/lib/libpython{xy}.so.1.0")];
            for p in scanned {
                if let Some(v) = cx.fs.read(&p).and_then(|b| embedded_version(b, xy)) {
                    ev.push((format!("{p} (binary)"), v));
                    break;
                }
            }
            let package = if prefix == "/usr" {
                cx.package(&[
                    &format!("python{xy}-minimal"),
                    &format!("python{xy}"),
                    &format!("libpython{xy}-minimal"),
                    if xy.starts_with('3') {
                        "python3"
                    } else {
                        "python2"
                    },
                    &format!("python{}", xy.replace('.', "")),
                ])
            } else {
                None
            };
            let path = if executable(cx.fs, &bin).is_some() {
                bin
            } else {
                d.path.clone()
            };
            out.push(finish("python", path, Some(d.path.clone()), ev, package));
        }
    }
}

fn node(cx: &Ctx, out: &mut Vec<Runtime>) {
    for prefix in ["/usr/local", "/usr"] {
        let bin = ["node", "nodejs"]
            .iter()
            .map(|n| format!("{prefix}/bin/{n}"))
            .find(|p| executable(cx.fs, p).is_some());
        let Some(bin) = bin else { continue };
        let mut ev = Vec::new();
        let header = format!("{prefix}/include/node/node_version.h");
        if let Some(h) = cx.text(&header) {
            let parts: Vec<Option<String>> = [
                "NODE_MAJOR_VERSION",
                "NODE_MINOR_VERSION",
                "NODE_PATCH_VERSION",
            ]
            .iter()
            .map(|n| define(&h, n))
            .collect();
            if let [Some(a), Some(b), Some(c)] = &parts[..] {
                ev.push((header, format!("{a}.{b}.{c}")));
            }
        }
        let package = (prefix == "/usr")
            .then(|| cx.package(&["nodejs", "nodejs-current"]))
            .flatten();
        out.push(finish("node", bin, Some(prefix.to_string()), ev, package));
    }
}

fn java(cx: &Ctx, out: &mut Vec<Runtime>) {
    let mut homes: Vec<String> = vec!["/opt/java/openjdk".into()];
    for parent in ["/usr/lib/jvm", "/usr/java", "/usr/local", "/opt"] {
        for d in cx.dirs(parent) {
            // Debian's /usr/lib/jvm/default-java → java-17-openjdk-amd64: one home, not two.
            if d.kind == Kind::Dir {
                homes.push(d.path.clone());
            }
        }
    }
    homes.dedup();
    for home in homes {
        let release = format!("{home}/release");
        let Some(text) = cx.text(&release) else {
            continue;
        };
        let fields = crate::catalog::osrelease::parse_pairs(&text);
        let Some(v) = fields.get("JAVA_VERSION").cloned() else {
            continue;
        };
        if out
            .iter()
            .any(|r| r.name == "java" && r.home.as_deref() == Some(&home))
        {
            continue;
        }
        let bin = format!("{home}/bin/java");
        let path = if executable(cx.fs, &bin).is_some() {
            bin
        } else {
            home.clone()
        };
        let major = v.split('.').next().unwrap_or("").to_string();
        let package = cx.package(&[
            &format!("openjdk-{major}-jre-headless"),
            &format!("openjdk-{major}-jdk-headless"),
            &format!("openjdk{major}"),
            &format!("java-{major}-openjdk-headless"),
        ]);
        let mut rt = finish("java", path, Some(home), vec![(release, v)], package);
        if let Some(imp) = fields.get("IMPLEMENTOR") {
            rt.evidence.push(format!("implementor: {imp}"));
        }
        out.push(rt);
    }
}

fn go(cx: &Ctx, out: &mut Vec<Runtime>) {
    let mut homes = vec![
        "/usr/local/go".to_string(),
        "/usr/lib/go".to_string(),
        "/usr/lib/golang".to_string(),
    ];
    homes.extend(
        cx.dirs("/usr/lib")
            .into_iter()
            .filter(|d| d.name().starts_with("go-") && d.kind == Kind::Dir)
            .map(|d| d.path.clone()),
    );
    let mut seen = Vec::new();
    for home in homes {
        let Some(real) = cx.fs.resolve(&home).map(|m| m.path.clone()) else {
            continue;
        };
        if seen.contains(&real) {
            continue;
        }
        let file = format!("{real}/VERSION");
        let Some(text) = cx.text(&file) else { continue };
        let Some(first) = text.lines().next() else {
            continue;
        };
        let v = first.trim().trim_start_matches("go").to_string();
        seen.push(real.clone());
        let bin = format!("{real}/bin/go");
        let path = if executable(cx.fs, &bin).is_some() {
            bin
        } else {
            real.clone()
        };
        let minor = v.split('.').take(2).collect::<Vec<_>>().join(".");
        let package = cx.package(&[&format!("golang-{minor}-go"), "go", "golang"]);
        out.push(finish("go", path, Some(real), vec![(file, v)], package));
    }
}

fn ruby(cx: &Ctx, out: &mut Vec<Runtime>) {
    let configs: Vec<String> = cx
        .fs
        .iter()
        .filter(|m| m.name() == "rbconfig.rb" && m.path.contains("/ruby/") && m.kind == Kind::File)
        .filter(|m| m.path.starts_with("/usr/"))
        .map(|m| m.path.clone())
        .collect();
    for cfg in configs {
        let Some(text) = cx.text(&cfg) else { continue };
        let Some(v) = text.lines().find_map(|l| {
            let rest = l.trim().strip_prefix("CONFIG[\"RUBY_PROGRAM_VERSION\"]")?;
            Some(
                rest.trim_start_matches([' ', '='])
                    .trim()
                    .trim_matches('"')
                    .to_string(),
            )
        }) else {
            continue;
        };
        let prefix = if cfg.starts_with("/usr/local/") {
            "/usr/local"
        } else {
            "/usr"
        };
        let xy: String = v.split('.').take(2).collect::<Vec<_>>().join(".");
        let bin = [
            format!("{prefix}/bin/ruby"),
            format!("{prefix}/bin/ruby{xy}"),
        ]
        .into_iter()
        .find(|p| executable(cx.fs, p).is_some());
        let Some(bin) = bin else { continue };
        let package = (prefix == "/usr")
            .then(|| cx.package(&[&format!("ruby{xy}"), &format!("libruby{xy}"), "ruby"]))
            .flatten();
        out.push(finish("ruby", bin, None, vec![(cfg, v)], package));
    }
}

fn php(cx: &Ctx, out: &mut Vec<Runtime>) {
    let mut headers = vec!["/usr/local/include/php/main/php_version.h".to_string()];
    headers.extend(
        cx.dirs("/usr/include/php")
            .into_iter()
            .map(|d| format!("{}/main/php_version.h", d.path)),
    );
    for h in headers {
        let Some(v) = cx.text(&h).and_then(|t| define(&t, "PHP_VERSION")) else {
            continue;
        };
        let prefix = if h.starts_with("/usr/local/") {
            "/usr/local"
        } else {
            "/usr"
        };
        let xy: String = v.split('.').take(2).collect::<Vec<_>>().join(".");
        let bin = [format!("{prefix}/bin/php"), format!("{prefix}/bin/php{xy}")]
            .into_iter()
            .find(|p| executable(cx.fs, p).is_some())
            .unwrap_or_else(|| h.clone());
        out.push(finish("php", bin, None, vec![(h, v)], None));
    }
    // Distribution PHP without headers: the binary and its package.
    if out.iter().any(|r| r.name == "php") {
        return;
    }
    for bin in ["/usr/bin/php", "/usr/local/bin/php"] {
        let Some(real) = executable(cx.fs, bin) else {
            continue;
        };
        let name = real.rsplit('/').next().unwrap_or("php");
        let xy = name.trim_start_matches("php");
        let package = cx.package(&[
            &format!("php{xy}-cli"),
            &format!("php{}", xy.replace('.', "")),
            "php-cli",
            "php",
        ]);
        out.push(finish("php", bin.to_string(), None, Vec::new(), package));
        return;
    }
}

fn perl(cx: &Ctx, out: &mut Vec<Runtime>) {
    for prefix in ["/usr/local", "/usr"] {
        let bin = format!("{prefix}/bin/perl");
        if executable(cx.fs, &bin).is_none() {
            continue;
        }
        let configs: Vec<String> = cx
            .fs
            .iter()
            .filter(|m| m.name() == "Config.pm" && m.kind == Kind::File)
            .filter(|m| m.path.starts_with(&format!("{prefix}/lib")) && m.path.contains("perl"))
            .filter(|m| prefix == "/usr/local" || !m.path.starts_with("/usr/local/"))
            .map(|m| m.path.clone())
            .collect();
        let mut ev = Vec::new();
        for c in configs {
            let Some(text) = cx.text(&c) else { continue };
            if let Some(v) = text.lines().find_map(|l| {
                let rest = l.trim().strip_prefix("version =>")?;
                Some(
                    rest.trim()
                        .trim_end_matches(',')
                        .trim_matches('\'')
                        .to_string(),
                )
            }) {
                ev.push((c, v));
                break;
            }
        }
        let package = (prefix == "/usr")
            .then(|| cx.package(&["perl-base", "perl", "perl-interpreter"]))
            .flatten();
        if ev.is_empty() && package.is_none() && prefix == "/usr" {
            // A perl binary with nothing to say which: still a runtime.
        }
        out.push(finish("perl", bin, None, ev, package));
    }
}

fn dotnet(cx: &Ctx, out: &mut Vec<Runtime>) {
    for root in [
        "/usr/share/dotnet",
        "/usr/lib/dotnet",
        "/opt/dotnet",
        "/usr/local/share/dotnet",
    ] {
        let runtimes = cx.dirs(&format!("{root}/shared/Microsoft.NETCore.App"));
        if runtimes.is_empty() {
            continue;
        }
        let mut versions: Vec<String> = runtimes.iter().map(|d| d.name().to_string()).collect();
        versions.sort_by(|a, b| crate::catalog::libc::cmp_dotted(a, b));
        let mut ev: Vec<(String, String)> = versions
            .iter()
            .rev()
            .map(|v| (format!("{root}/shared/Microsoft.NETCore.App"), v.clone()))
            .collect();
        for d in cx.dirs(&format!("{root}/shared/Microsoft.AspNetCore.App")) {
            ev.push((
                format!("{root}/shared/Microsoft.AspNetCore.App"),
                d.name().to_string(),
            ));
        }
        for d in cx.dirs(&format!("{root}/sdk")) {
            ev.push((format!("{root}/sdk"), d.name().to_string()));
        }
        let bin = format!("{root}/dotnet");
        let path = if executable(cx.fs, &bin).is_some() {
            bin
        } else {
            root.to_string()
        };
        out.push(finish("dotnet", path, Some(root.to_string()), ev, None));
    }
}

/// Variables that state a runtime's version, by runtime.
const ENV_HINTS: &[(&str, &[&str])] = &[
    ("python", &["PYTHON_VERSION"]),
    ("node", &["NODE_VERSION"]),
    ("java", &["JAVA_VERSION"]),
    ("go", &["GOLANG_VERSION", "GO_VERSION"]),
    ("ruby", &["RUBY_VERSION"]),
    ("php", &["PHP_VERSION"]),
    ("perl", &["PERL_VERSION"]),
    ("dotnet", &["DOTNET_VERSION", "ASPNET_VERSION"]),
];

/// Finds the runtimes; `env` is the image config's environment (`KEY=value`).
pub fn catalog(fs: &MergedFs, packages: &Packages, env: &[String]) -> Runtimes {
    let env: Vec<(String, String)> = env
        .iter()
        .filter_map(|e| {
            e.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let cx = Ctx {
        fs,
        packages,
        env: &env,
    };
    let mut found = Vec::new();
    python(&cx, &mut found);
    node(&cx, &mut found);
    java(&cx, &mut found);
    go(&cx, &mut found);
    ruby(&cx, &mut found);
    php(&cx, &mut found);
    perl(&cx, &mut found);
    dotnet(&cx, &mut found);
    let mut out = Runtimes::default();
    for (name, vars) in ENV_HINTS {
        for var in *vars {
            let Some(value) = cx.env(var) else { continue };
            let mine: Vec<&mut Runtime> = found.iter_mut().filter(|r| r.name == *name).collect();
            if mine.is_empty() {
                out.unmatched_env.push(EnvHint {
                    var: var.to_string(),
                    value: value.to_string(),
                    agrees: false,
                });
                continue;
            }
            // The hint belongs to the runtime it agrees with, else to the first one.
            let all_versions = |r: &Runtime| -> Vec<String> {
                let mut v: Vec<String> = r
                    .evidence
                    .iter()
                    .filter_map(|e| e.rsplit_once(": ").map(|(_, v)| v.to_string()))
                    .collect();
                v.extend(r.version.clone());
                v
            };
            let mut mine = mine;
            let pos = mine
                .iter()
                .position(|r| all_versions(r).iter().any(|v| agrees(value, v)));
            let (idx, ok) = match pos {
                Some(i) => (i, true),
                None => (0, false),
            };
            if mine[idx].env.is_none() {
                mine[idx].env = Some(EnvHint {
                    var: var.to_string(),
                    value: value.to_string(),
                    agrees: ok,
                });
            }
        }
    }
    out.runtimes = found;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::package::{DbKind, Package};
    use crate::catalog::testfs::{dir, exe, exe_with, file, fs, symlink};

    fn pkg(name: &str, version: &str) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            arch: None,
            source: None,
            source_version: None,
            installed_size: None,
            license: None,
            epoch: None,
            supplier: None,
            db: DbKind::Dpkg,
        }
    }

    #[test]
    fn versions() {
        assert_eq!(upstream_version("3.11.2-6+deb12u5"), "3.11.2");
        assert_eq!(upstream_version("1:2.38.1-5+b1"), "2.38.1");
        assert_eq!(upstream_version("18.19.0+dfsg-6~deb12u1"), "18.19.0");
        assert_eq!(upstream_version("1.2.4-r2"), "1.2.4");
        assert!(agrees("3.11", "3.11.9"));
        assert!(agrees("jdk-17.0.9+9", "17.0.9"));
        assert!(agrees("go1.21.5", "1.21.5"));
        assert!(agrees("v20.11.0", "20.11.0"));
        assert!(!agrees("3.12.1", "3.11.9"));
        assert!(!agrees("3.1", "3.11.9"));
        assert_eq!(
            embedded_version(b"x\x003.11.2\0main\0", "3.11"),
            Some("3.11.2".into())
        );
        assert_eq!(embedded_version(b"\x003.11.200000\0", "3.11"), None);
        assert_eq!(
            embedded_version(b"\x003.13.0rc1\0", "3.13"),
            Some("3.13.0rc1".into())
        );
    }

    #[test]
    fn debian_python_from_files_and_package() {
        let fs = fs(vec![
            file("/usr/lib/python3.11/os.py", "# os\n"),
            exe_with("/usr/bin/python3.11", b"\x7fELF\0\x003.11.2\0"),
            symlink("/usr/bin/python3", "python3.11"),
            dir("/usr/lib/python3"),
        ]);
        let mut packages = Packages::default();
        packages
            .packages
            .push(pkg("python3.11-minimal", "3.11.2-6+deb12u5"));
        let r = catalog(&fs, &packages, &["PYTHON_VERSION=3.12.1".into()]);
        assert_eq!(r.runtimes.len(), 1);
        let py = &r.runtimes[0];
        assert_eq!(py.version.as_deref(), Some("3.11.2"));
        assert_eq!(py.path, "/usr/bin/python3.11");
        assert_eq!(
            py.package.as_deref(),
            Some("python3.11-minimal 3.11.2-6+deb12u5")
        );
        let env = py.env.as_ref().unwrap();
        assert!(!env.agrees, "3.12.1 does not agree with 3.11.2");
    }

    #[test]
    fn official_images_layout() {
        let fs = fs(vec![
            file("/usr/local/lib/python3.12/os.py", ""),
            exe("/usr/local/bin/python3.12"),
            file(
                "/usr/local/include/python3.12/patchlevel.h",
                "#define PY_MAJOR_VERSION 3\n#define PY_VERSION      \"3.12.1\"\n",
            ),
            exe("/usr/local/bin/node"),
            file(
                "/usr/local/include/node/node_version.h",
                "#define NODE_MAJOR_VERSION 20\n#define NODE_MINOR_VERSION 11\n#define NODE_PATCH_VERSION 0\n",
            ),
            file(
                "/opt/java/openjdk/release",
                "IMPLEMENTOR=\"Eclipse Adoptium\"\nJAVA_VERSION=\"17.0.9\"\n",
            ),
            exe("/opt/java/openjdk/bin/java"),
            file("/usr/local/go/VERSION", "go1.21.5\ntime 2023-11-29\n"),
            exe("/usr/local/go/bin/go"),
            dir("/usr/share/dotnet/shared/Microsoft.NETCore.App/8.0.0"),
            exe("/usr/share/dotnet/dotnet"),
        ]);
        let env: Vec<String> = [
            "PYTHON_VERSION=3.12.1",
            "NODE_VERSION=20.11.0",
            "JAVA_VERSION=jdk-17.0.9+9",
            "GOLANG_VERSION=1.21.5",
            "RUBY_VERSION=3.3.0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let r = catalog(&fs, &Packages::default(), &env);
        let got: Vec<(&str, Option<&str>, bool)> = r
            .runtimes
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    r.version.as_deref(),
                    r.env.as_ref().is_some_and(|e| e.agrees),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("python", Some("3.12.1"), true),
                ("node", Some("20.11.0"), true),
                ("java", Some("17.0.9"), true),
                ("go", Some("1.21.5"), true),
                ("dotnet", Some("8.0.0"), false),
            ]
        );
        assert_eq!(r.unmatched_env.len(), 1);
        assert_eq!(r.unmatched_env[0].var, "RUBY_VERSION");
    }
}
