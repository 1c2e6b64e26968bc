//! The `plinth build --from … --add SRC:DEST …` recipe: files on a base, config from flags.
//!
//! One layer per `--add` (or one for all with `squash`), plus one for `--with` extras; the
//! config edits (`--entrypoint`, `--cmd`, `--env`, `--label`, `--expose`, `--user`,
//! `--workdir`) are applied to the base's config, keeping everything else it has.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use plinth_oci::Platform;

use crate::error::{BuildError, Result};
use crate::layer::{HostOptions, LayerOptions, Tree, clean_path, write_layer};
use crate::mutate::{Base, Finished, Image, LayerRef};
use crate::preflight::{self, BaseKind, Extra};

/// One `--add SRC:DEST`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Add {
    /// The host file or directory.
    pub src: PathBuf,
    /// The absolute path in the image.
    pub dest: String,
}

impl Add {
    /// Parses `SRC:DEST` (split at the last `:` followed by `/`). A directory is added with its
    /// contents at DEST; a file becomes DEST (or DEST/NAME when DEST ends with `/`).
    pub fn parse(s: &str) -> Result<Add> {
        let at = s.rfind(":/").ok_or_else(|| {
            BuildError::Invalid(format!(
                "--add {s:?}: expected SRC:DEST with an absolute DEST, e.g. ./app:/app"
            ))
        })?;
        let (src, dest) = (&s[..at], &s[at + 1..]);
        if src.is_empty() {
            return Err(BuildError::Invalid(format!("--add {s:?}: SRC is empty")));
        }
        Ok(Add {
            src: PathBuf::from(src),
            dest: dest.to_string(),
        })
    }

    /// The image path this adds at.
    pub fn target(&self) -> String {
        if self.dest.ends_with('/') && !self.src.is_dir() {
            let name = self
                .src
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("{}{name}", self.dest)
        } else {
            self.dest.clone()
        }
    }
}

/// Parses `--chown UID[:GID]` (numeric; the image may have no `/etc/passwd`).
pub fn parse_chown(s: &str) -> Result<(u64, u64)> {
    let (u, g) = s.split_once(':').unwrap_or((s, s));
    let num = |x: &str| {
        x.parse::<u64>().map_err(|_| {
            BuildError::Invalid(format!(
                "--chown {s:?}: expected numeric UID[:GID] (names need the image's /etc/passwd)"
            ))
        })
    };
    Ok((num(u)?, num(g)?))
}

/// Parses an octal mode (`755`, `0644`).
pub fn parse_mode(s: &str) -> Result<u32> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| BuildError::Invalid(format!("invalid mode {s:?}: expected octal, e.g. 755")))
}

/// Parses a command: a JSON array as it is, otherwise words split as a shell would (quotes
/// respected, no variables expanded, no shell added).
pub fn parse_command(s: &str) -> Result<Vec<String>> {
    let t = s.trim();
    if t.starts_with('[') {
        return serde_json::from_str(t)
            .map_err(|e| BuildError::Invalid(format!("{s:?}: not a JSON array of strings: {e}")));
    }
    let mut lexer = plinth_dockerfile::shell::Lexer::new('\\');
    lexer.skip_unset_env = true;
    let env: Vec<String> = Vec::new();
    lexer
        .process_words(t, &env)
        .map_err(|e| BuildError::Invalid(format!("{s:?}: {e}")))
}

/// Parses `K=V`.
pub fn parse_kv(flag: &str, s: &str) -> Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(BuildError::Invalid(format!(
            "{flag} {s:?}: expected KEY=VALUE"
        ))),
    }
}

/// Normalizes an EXPOSE port: `8080` → `8080/tcp`, `53/UDP` → `53/udp`.
pub fn port_key(p: &str) -> Result<Vec<String>> {
    let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(BuildError::Invalid(format!(
            "invalid port {p:?}: unknown protocol"
        )));
    }
    let bad = || BuildError::Invalid(format!("invalid port {p:?}"));
    let (lo, hi) = match port.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let n = port.parse::<u16>().map_err(|_| bad())?;
            (n, n)
        }
    };
    if lo > hi {
        return Err(bad());
    }
    Ok((lo..=hi).map(|n| format!("{n}/{proto}")).collect())
}

/// The recipe.
#[derive(Clone, Debug, Default)]
pub struct Recipe {
    /// `--add`, for every platform.
    pub adds: Vec<Add>,
    /// `--chown` for added files.
    pub chown: Option<(u64, u64)>,
    /// `--chmod` for added files.
    pub chmod: Option<u32>,
    /// Keep the files' own permission bits instead of normalizing them.
    pub keep_mode: bool,
    /// One layer for all additions.
    pub squash: bool,
    /// `--entrypoint`.
    pub entrypoint: Option<Vec<String>>,
    /// `--cmd`.
    pub cmd: Option<Vec<String>>,
    /// `--env`.
    pub env: Vec<(String, String)>,
    /// `--label`.
    pub labels: Vec<(String, String)>,
    /// `--expose`.
    pub expose: Vec<String>,
    /// `--user`.
    pub user: Option<String>,
    /// `--workdir`.
    pub workdir: Option<String>,
    /// `--with` from the host.
    pub with: Vec<Extra>,
    /// Files for `--with` taken from an image instead (`--with-from`), already extracted
    /// (`passwd` is always generated, so that it names the `--user`).
    pub with_tree: Option<Tree>,
    /// Allow dynamically linked binaries on scratch.
    pub allow_dynamic: bool,
    /// Layer writing.
    pub layer: LayerOptions,
}

/// A platform's own file (`--platform OS/ARCH=SRC[:DEST]`).
#[derive(Clone, Debug)]
pub struct PlatformAdd {
    /// The platform.
    pub platform: Platform,
    /// What to add for it.
    pub add: Option<Add>,
}

impl PlatformAdd {
    /// Parses `OS/ARCH[/VARIANT][=SRC[:DEST]]`; DEST defaults to `default_dest`.
    pub fn parse(s: &str, default_dest: &str) -> Result<PlatformAdd> {
        let (p, src) = match s.split_once('=') {
            Some((p, src)) => (p, Some(src)),
            None => (s, None),
        };
        let platform = Platform::parse(p)
            .map_err(|e| BuildError::Invalid(format!("--platform {s:?}: {e}")))?;
        let add = match src {
            None => None,
            Some(src) if src.contains(":/") => Some(Add::parse(src)?),
            Some(src) => Some(Add {
                src: PathBuf::from(src),
                dest: default_dest.to_string(),
            }),
        };
        Ok(PlatformAdd { platform, add })
    }
}

/// The result of a build for one platform.
pub struct Built {
    /// The image.
    pub image: Finished,
    /// Pre-flight warnings.
    pub warnings: Vec<String>,
}

/// Builds the recipe on `base`, with `extra_add` (a platform's own file) added first.
pub async fn build(recipe: &Recipe, base: &Base, extra_add: Option<&Add>) -> Result<Built> {
    let host = HostOptions {
        owner: recipe.chown,
        chmod: recipe.chmod,
        keep_mode: recipe.keep_mode,
        keep_mtime: false,
    };
    let adds: Vec<&Add> = extra_add.into_iter().chain(&recipe.adds).collect();
    let mut trees: Vec<(String, Tree)> = Vec::new();
    for a in &adds {
        if !a.src.exists() {
            return Err(BuildError::Invalid(format!(
                "--add {}:{}: {} does not exist",
                a.src.display(),
                a.dest,
                a.src.display()
            )));
        }
        let mut t = Tree::new();
        t.add_host_path(&a.src, &a.target(), &host)?;
        trees.push((format!("ADD {}:{}", a.src.display(), a.dest), t));
    }
    let mut extras = Tree::new();
    preflight::add_from_host(
        &mut extras,
        &recipe
            .with
            .iter()
            .copied()
            .filter(|_| recipe.with_tree.is_none())
            .collect::<Vec<_>>(),
        recipe.user.as_deref(),
    )?;
    if let Some(t) = &recipe.with_tree {
        for e in &recipe.with {
            if *e == Extra::Passwd {
                // Generated, with the --user name: an image's own passwd would not have it.
                preflight::add_from_host(&mut extras, &[Extra::Passwd], recipe.user.as_deref())?;
                continue;
            }
            for p in e.paths() {
                if t.subtree(p).is_empty() {
                    return Err(BuildError::Invalid(format!(
                        "--with-from: the image has no /{p} for --with {e:?}"
                    )));
                }
                for (k, v) in t.subtree(p) {
                    extras.insert(k, v.clone());
                }
            }
        }
    }
    if !extras.is_empty() {
        trees.push(("ADD --with extras".into(), extras));
    }
    if recipe.squash && trees.len() > 1 {
        let mut all = Tree::new();
        let mut names = Vec::new();
        for (n, t) in &trees {
            all.merge(t);
            names.push(n.clone());
        }
        trees = vec![(names.join("; "), all)];
    }
    let mut everything = Tree::new();
    for (_, t) in &trees {
        everything.merge(t);
    }
    let kind = if base.is_scratch() || base.layers.is_empty() {
        BaseKind::Scratch
    } else {
        BaseKind::Image
    };
    let user = recipe
        .user
        .clone()
        .or_else(|| base.config.config.as_ref().and_then(|c| c.user.clone()));
    // The pre-flight reads every added binary whole; the layers are written meanwhile (both
    // are mostly CPU on different data), and cancelled if the pre-flight refuses the image.
    let cancel = Arc::new(AtomicBool::new(false));
    let mut opts = recipe.layer.clone();
    opts.cancel = Some(cancel.clone());
    let writing = tokio::task::spawn_blocking(move || {
        trees
            .into_iter()
            .map(|(name, tree)| Ok((name, write_layer(&tree, &opts)?)))
            .collect::<Result<Vec<_>>>()
    });
    let check_tree = everything.clone();
    let allow = recipe.allow_dynamic;
    let report = tokio::task::spawn_blocking(move || {
        preflight::check(&check_tree, kind, user.as_deref(), allow)
    })
    .await
    .map_err(|e| BuildError::Invalid(format!("pre-flight failed: {e}")))
    .and_then(|r| r)
    .and_then(|report| {
        let platform = base.platform();
        for b in &report.binaries {
            if let Some(arch) = crate::elf::docker_arch(&b.info.machine)
                && !platform.architecture.is_empty()
                && arch != platform.architecture
            {
                return Err(BuildError::Preflight(format!(
                    "{} is a {} binary, but the image is for {platform}",
                    b.path, b.info.machine
                )));
            }
        }
        Ok(report)
    });
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            cancel.store(true, Ordering::Relaxed);
            let _ = writing.await;
            return Err(e);
        }
    };
    let built = writing
        .await
        .map_err(|e| BuildError::Invalid(format!("layer writer failed: {e}")))??;
    let mut image = Image::on(base, recipe.layer.epoch);
    for (name, layer) in built {
        image.append(LayerRef::built(layer), &format!("plinth build {name}"));
    }
    let rt = image.runtime();
    if let Some(e) = &recipe.entrypoint {
        rt.entrypoint = Some(e.clone());
        if recipe.cmd.is_none() {
            rt.cmd = None;
        }
    }
    if let Some(c) = &recipe.cmd {
        rt.cmd = Some(c.clone());
    }
    for (k, v) in &recipe.env {
        set_env(rt.env.get_or_insert_with(Vec::new), k, v);
    }
    for (k, v) in &recipe.labels {
        rt.labels
            .get_or_insert_with(Default::default)
            .insert(k.clone(), v.clone());
    }
    for p in &recipe.expose {
        for key in port_key(p)? {
            rt.exposed_ports
                .get_or_insert_with(Default::default)
                .insert(key, serde_json::json!({}));
        }
    }
    if let Some(u) = &recipe.user {
        rt.user = Some(u.clone());
    }
    if let Some(w) = &recipe.workdir {
        rt.working_dir = Some(format!("/{}", clean_path(w)));
    }
    Ok(Built {
        image: image.finish()?,
        warnings: report.warnings,
    })
}

/// Sets `K=V` in an env list, replacing an earlier value of K.
pub fn set_env(env: &mut Vec<String>, k: &str, v: &str) {
    let entry = format!("{k}={v}");
    match env
        .iter_mut()
        .find(|e| e.split_once('=').map(|(a, _)| a) == Some(k) || e.as_str() == k)
    {
        Some(e) => *e = entry,
        None => env.push(entry),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags() {
        let a = Add::parse("./app:/app").unwrap();
        assert_eq!(a.src, PathBuf::from("./app"));
        assert_eq!(a.dest, "/app");
        assert!(Add::parse("./app").is_err());
        assert_eq!(parse_chown("1000").unwrap(), (1000, 1000));
        assert_eq!(parse_chown("1:2").unwrap(), (1, 2));
        assert!(parse_chown("app").is_err());
        assert_eq!(parse_mode("0755").unwrap(), 0o755);
        assert_eq!(
            parse_command("python 'main file.py'").unwrap(),
            vec!["python", "main file.py"]
        );
        assert_eq!(
            parse_command(r#"["/app","-v"]"#).unwrap(),
            vec!["/app", "-v"]
        );
        assert_eq!(port_key("8080").unwrap(), vec!["8080/tcp"]);
        assert_eq!(port_key("53/UDP").unwrap(), vec!["53/udp"]);
        assert_eq!(port_key("1-2").unwrap().len(), 2);
        let p = PlatformAdd::parse("linux/arm64=./app-arm64", "/app").unwrap();
        assert_eq!(p.platform.to_string(), "linux/arm64");
        assert_eq!(p.add.unwrap().dest, "/app");
        let mut env = vec!["PATH=/bin".to_string()];
        set_env(&mut env, "PATH", "/usr/bin");
        set_env(&mut env, "A", "b");
        assert_eq!(env, vec!["PATH=/usr/bin", "A=b"]);
    }
}
