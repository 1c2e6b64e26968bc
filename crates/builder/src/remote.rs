//! Remote sources of `ADD`: files over HTTP(S) and git repositories, as BuildKit reads them.
//!
//! - A source is a **git repository** when it is `user@host:path` (scp-like SSH), a `git://` or
//!   `ssh://` URL, or an `http(s)://` URL whose path ends in `.git`. A fragment picks the ref and
//!   a subdirectory (`#v1.2:docs`); query parameters (`?ref=`, `tag=`, `branch=`, `subdir=`,
//!   `checksum=`/`commit=`, `keep-git-dir=`, `submodules=`) do the same in BuildKit's newer
//!   spelling. Repositories are fetched with the `git` command (shallow where the server
//!   allows it) into a temporary directory.
//! - Any other `http://` or `https://` source is a **file** to download: streamed to a temporary
//!   file while its sha256 is computed, checked against `--checksum=sha256:…`, its mtime taken
//!   from `Last-Modified`.
//!
//! Credentials in URLs never appear in messages (see [`redact`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Once};
use std::time::{Duration, UNIX_EPOCH};

use plinth_oci::digest::{Algorithm, Digest, Hasher};
use tokio::io::AsyncWriteExt;

use crate::error::{BuildError, Result};

/// A git source of `ADD`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GitRef {
    /// What `git fetch` is given: the URL without fragment and query.
    pub remote: String,
    /// A branch, tag, full ref or commit; the remote's `HEAD` when `None`.
    pub reference: Option<String>,
    /// The directory of the repository to add; the whole tree when `None`.
    pub subdir: Option<String>,
    /// A commit (or a prefix of one) the fetched commit must match (`?checksum=`).
    pub checksum: Option<String>,
    /// `?keep-git-dir=`: whether to keep `.git`.
    pub keep_git_dir: Option<bool>,
    /// `?submodules=`: whether to fetch submodules (default yes).
    pub submodules: Option<bool>,
}

/// What kind of source an `ADD`/`COPY` argument is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// A path of the build context (or of `--from`).
    Local,
    /// A file to download.
    Http,
    /// A git repository.
    Git(GitRef),
}

/// Classifies an `ADD`/`COPY` source as BuildKit does: git first, then HTTP(S), else local.
/// A source that is clearly meant as git but malformed (a bad query) is an error.
pub fn classify(src: &str) -> Result<SourceKind, String> {
    if let Some(g) = parse_git(src)? {
        return Ok(SourceKind::Git(g));
    }
    if src.starts_with("http://") || src.starts_with("https://") {
        return Ok(SourceKind::Http);
    }
    Ok(SourceKind::Local)
}

/// Splits `s` at the first `?` and `#` into (base, query, fragment).
fn split_url(s: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, fragment) = match s.split_once('#') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let (base, query) = match rest.split_once('?') {
        Some((a, b)) => (a, Some(b)),
        None => (rest, None),
    };
    (base, query, fragment)
}

/// The scheme of `s` (`^[A-Za-z0-9]+://`), lowercased.
fn scheme(s: &str) -> Option<String> {
    let (head, _) = s.split_once("://")?;
    (!head.is_empty() && head.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| head.to_ascii_lowercase())
}

/// Whether `s` is scp-like SSH: `user@host:path` (user `[A-Za-z0-9_-]+`, host
/// `[A-Za-z0-9.-]+`).
fn is_scp_like(s: &str) -> bool {
    let Some((user, rest)) = s.split_once('@') else {
        return false;
    };
    let Some((host, _)) = rest.split_once(':') else {
        return false;
    };
    !user.is_empty()
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// Parses `src` as a git source; `Ok(None)` when it is not one.
pub fn parse_git(src: &str) -> Result<Option<GitRef>, String> {
    let is_git = match scheme(src).as_deref() {
        Some("git" | "ssh") => true,
        Some("http" | "https") => split_url(src).0.ends_with(".git"),
        Some(_) => false,
        None => is_scp_like(src),
    };
    if !is_git {
        return Ok(None);
    }
    let (base, query, fragment) = split_url(src);
    let mut g = GitRef {
        remote: base.to_string(),
        ..GitRef::default()
    };
    if let Some(f) = fragment {
        let (r, sub) = match f.split_once(':') {
            Some((r, s)) => (r, Some(s)),
            None => (f, None),
        };
        g.reference = Some(r.to_string()).filter(|r| !r.is_empty());
        g.subdir = sub.map(str::to_string).filter(|s| !s.is_empty());
    }
    if let Some(q) = query {
        apply_query(&mut g, q)?;
    }
    Ok(Some(g))
}

fn set_once(slot: &mut Option<String>, what: &str, v: &str) -> Result<(), String> {
    match slot {
        Some(old) if old != v => Err(format!("{what} conflicts: {old:?} vs {v:?}")),
        _ => {
            *slot = Some(v.to_string());
            Ok(())
        }
    }
}

fn parse_bool(key: &str, v: &str) -> Result<bool, String> {
    match v {
        "" | "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("invalid {key} value: {v:?}")),
    }
}

/// BuildKit's query form of a git source: `?ref=…&subdir=…&tag=…&branch=…&checksum=…`.
fn apply_query(g: &mut GitRef, q: &str) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    let (mut tag, mut branch) = (None::<String>, None::<String>);
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        if !seen.insert(k.to_string()) {
            return Err(format!("query {k:?} has multiple values"));
        }
        if v.is_empty() && !matches!(k, "submodules" | "keep-git-dir") {
            return Err(format!("query {k:?} has no value"));
        }
        match k {
            "ref" => set_once(&mut g.reference, "ref", &v)?,
            "tag" => tag = Some(v),
            "branch" => branch = Some(v),
            "subdir" => set_once(&mut g.subdir, "subdir", &v)?,
            "checksum" | "commit" => g.checksum = Some(v),
            "keep-git-dir" => g.keep_git_dir = Some(parse_bool(k, &v)?),
            "submodules" => g.submodules = Some(parse_bool(k, &v)?),
            _ => return Err(format!("unexpected query {k:?}")),
        }
    }
    if let Some(t) = tag {
        let full = if t.starts_with("refs/tags/") {
            t
        } else {
            format!("refs/tags/{t}")
        };
        set_once(&mut g.reference, "ref", &full)?;
    }
    if let Some(b) = branch {
        if g.reference
            .as_deref()
            .is_some_and(|r| r.starts_with("refs/tags/"))
        {
            return Err("branch conflicts with tag".into());
        }
        let full = if b.starts_with("refs/heads/") {
            b
        } else {
            format!("refs/heads/{b}")
        };
        set_once(&mut g.reference, "ref", &full)?;
    }
    if g.reference.is_none() {
        g.reference = g.checksum.clone();
    }
    Ok(())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `url` with the password of its userinfo (`user:password@`) masked, for messages.
pub fn redact(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let authority_end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let authority = &url[start..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let userinfo = &authority[..at];
    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
    if user.len() == userinfo.len() {
        return url.to_string();
    }
    format!("{}{user}:***{}", &url[..start], &url[start + at..])
}

/// The file name BuildKit gives a download: the last segment of the URL's path, or
/// `__unnamed__` when the path has none.
pub fn url_file_name(url: &str) -> String {
    let (base, _, _) = split_url(url);
    let path = base
        .split_once("://")
        .map_or("", |(_, rest)| rest.find('/').map_or("", |i| &rest[i..]));
    match path.trim_end_matches('/').rsplit('/').next() {
        Some(name) if !name.is_empty() && name != "." && name != ".." => percent_decode_path(name),
        _ => "__unnamed__".to_string(),
    }
}

/// Percent-decoding of a path segment (`+` stays a `+`, as Go's `url.Parse` keeps it).
fn percent_decode_path(s: &str) -> String {
    percent_decode(&s.replace('+', "%2B"))
}

/// Parses `--checksum=sha256:<hex>` for an HTTP source.
pub fn parse_checksum(s: &str) -> Result<Digest, String> {
    let d = Digest::parse(s).map_err(|e| format!("--checksum={s}: {e}"))?;
    if d.algorithm() != Algorithm::Sha256 {
        return Err(format!(
            "--checksum={s}: only sha256 is supported for HTTP sources"
        ));
    }
    Ok(d)
}

/// A downloaded file.
#[derive(Debug)]
pub struct Download {
    /// The temporary file holding the body (removed when the last reference goes).
    pub path: Arc<tempfile::TempPath>,
    /// Its size in bytes.
    pub size: u64,
    /// `Last-Modified`, in seconds since the epoch, when the server sent one.
    pub last_modified: Option<u64>,
    /// The sha256 of the body.
    pub digest: Digest,
}

fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Another library (the registry client) may have installed one already; either is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The message of a reqwest error and its causes, without the URL (added by the caller,
/// redacted).
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut msg = e.to_string();
    let mut cur = std::error::Error::source(&e);
    while let Some(c) = cur {
        let m = c.to_string();
        if !msg.contains(&m) {
            msg.push_str(&format!(": {m}"));
        }
        cur = c.source();
    }
    msg
}

fn http_client() -> Result<reqwest::Client> {
    install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(concat!("plinth/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| BuildError::Network(format!("cannot start HTTP client: {}", describe(e))))
}

/// Downloads `url` into a temporary file in `dir`, verifying `checksum` when given.
///
/// HTTP 404 and 410 are [`BuildError::NotFound`], other error statuses and connection failures
/// [`BuildError::Network`], a checksum mismatch [`BuildError::Integrity`]; each names the URL.
pub async fn download(url: &str, checksum: Option<&Digest>, dir: &Path) -> Result<Download> {
    let shown = redact(url);
    let client = http_client()?;
    let mut resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| BuildError::Network(format!("{shown}: {}", describe(e))))?;
    let status = resp.status();
    if !status.is_success() {
        let msg = format!("{shown}: HTTP {status}");
        return Err(match status.as_u16() {
            404 | 410 => BuildError::NotFound(msg),
            _ => BuildError::Network(msg),
        });
    }
    let last_modified = resp
        .headers()
        .get(reqwest::header::LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| httpdate::parse_http_date(s).ok())
        .map(|t| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()));
    let tmp = tempfile::Builder::new()
        .prefix(".plinth-add-")
        .tempfile_in(dir)
        .map_err(|e| BuildError::io(dir, e))?;
    let (file, path) = tmp.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut hasher = Hasher::new(Algorithm::Sha256);
    let mut size = 0u64;
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| BuildError::Network(format!("{shown}: {}", describe(e))))?
    {
        hasher.update(&chunk);
        size += chunk.len() as u64;
        file.write_all(&chunk)
            .await
            .map_err(|e| BuildError::io(&path, e))?;
    }
    file.flush().await.map_err(|e| BuildError::io(&path, e))?;
    let digest = hasher.finish();
    if let Some(want) = checksum
        && *want != digest
    {
        return Err(BuildError::Integrity(format!(
            "{shown}: checksum mismatch: expected {want}, got {digest}"
        )));
    }
    Ok(Download {
        path: Arc::new(path),
        size,
        last_modified,
        digest,
    })
}

/// A checked-out git repository.
#[derive(Debug)]
pub struct Checkout {
    /// The temporary directory of the work tree (removed when dropped).
    pub dir: tempfile::TempDir,
    /// The commit checked out.
    pub commit: String,
    /// The directory to add: the work tree or its `subdir`.
    pub root: PathBuf,
}

/// Whether the `git` command can be run.
pub fn git_available() -> bool {
    Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `git args…` in `dir`; the trimmed stdout, or git's own message on failure.
fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "advice.detachedHead=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let last: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    Err(last.join("; "))
}

/// After a full fetch, the commit `reference` names (a commit, a tag, a branch, a full ref),
/// or the remote's `HEAD` when `None`.
fn resolve_locally(dir: &Path, reference: Option<&str>) -> Option<String> {
    let candidates: Vec<String> = match reference {
        None => {
            git(dir, &["remote", "set-head", "origin", "--auto"]).ok()?;
            vec!["refs/remotes/origin/HEAD".into()]
        }
        Some(r) => match r.strip_prefix("refs/heads/") {
            Some(b) => vec![format!("refs/remotes/origin/{b}")],
            None => vec![
                r.to_string(),
                format!("refs/tags/{r}"),
                format!("refs/remotes/origin/{r}"),
            ],
        },
    };
    candidates.iter().find_map(|c| {
        git(
            dir,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{c}^{{commit}}"),
            ],
        )
        .ok()
    })
}

/// Whether a ref may be (a prefix of) a commit hash, which servers do not advertise by name.
fn hex_like(reference: Option<&str>) -> bool {
    reference.is_some_and(|r| r.len() >= 4 && r.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Fetches `reference` (or `HEAD`) of `origin` into `dir` and checks it out, shallow when the
/// server allows it. Returns the commit.
fn fetch_and_checkout(dir: &Path, reference: Option<&str>) -> Result<String, String> {
    let want = reference.unwrap_or("HEAD");
    let target = match git(
        dir,
        &["fetch", "--quiet", "--depth=1", "--no-tags", "origin", want],
    ) {
        Ok(_) => "FETCH_HEAD".to_string(),
        Err(first) if first.contains("couldn't find remote ref") && !hex_like(reference) => {
            return Err(first);
        }
        Err(first) => {
            // Servers without shallow support (dumb HTTP) and commits not advertised by name
            // need a full fetch; the ref is then resolved locally.
            git(
                dir,
                &[
                    "fetch",
                    "--quiet",
                    "--tags",
                    "origin",
                    "+refs/heads/*:refs/remotes/origin/*",
                ],
            )
            .map_err(|second| format!("{first}; {second}"))?;
            resolve_locally(dir, reference).ok_or_else(|| {
                format!("{first}; {want:?} is not a branch, tag or commit of the repository")
            })?
        }
    };
    git(dir, &["checkout", "--quiet", "--detach", &target])?;
    git(dir, &["rev-parse", "HEAD"])
}

/// Fetches `r` with the `git` command into a temporary directory under `temp`, verifies the
/// commit against `checksum` (a commit or a prefix of one), fetches submodules, and removes
/// `.git` unless `keep_git_dir`. Blocking: call from a blocking thread.
pub fn git_checkout(
    r: &GitRef,
    keep_git_dir: bool,
    checksum: Option<&str>,
    temp: &Path,
) -> Result<Checkout> {
    let shown = redact(&r.remote);
    let what = match &r.reference {
        Some(x) => format!("{shown}#{x}"),
        None => shown.clone(),
    };
    if !git_available() {
        return Err(BuildError::Unsupported(format!(
            "{what}: adding a git repository needs the git command, which is not installed"
        )));
    }
    let dir = tempfile::Builder::new()
        .prefix(".plinth-git-")
        .tempdir_in(temp)
        .map_err(|e| BuildError::io(temp, e))?;
    let path = dir.path().to_path_buf();
    let fail = |m: String| BuildError::Network(format!("{what}: git fetch failed: {}", redact(&m)));
    git(&path, &["init", "--quiet"]).map_err(fail)?;
    git(&path, &["remote", "add", "origin", &r.remote]).map_err(fail)?;
    let commit = fetch_and_checkout(&path, r.reference.as_deref()).map_err(fail)?;
    if let Some(want) = checksum
        && !commit.starts_with(&want.to_ascii_lowercase())
    {
        return Err(BuildError::Integrity(format!(
            "{what}: checksum mismatch: expected commit {want}, got {commit}"
        )));
    }
    if r.submodules != Some(false) && path.join(".gitmodules").exists() {
        git(
            &path,
            &[
                "submodule",
                "update",
                "--quiet",
                "--init",
                "--recursive",
                "--depth=1",
            ],
        )
        .map_err(|m| {
            BuildError::Network(format!(
                "{what}: git submodule update failed: {}",
                redact(&m)
            ))
        })?;
    }
    if !keep_git_dir {
        let g = path.join(".git");
        std::fs::remove_dir_all(&g).map_err(|e| BuildError::io(&g, e))?;
    }
    let root = match &r.subdir {
        Some(s) => {
            let sub = crate::layer::clean_path(s);
            let root = path.join(&sub);
            if !root.is_dir() {
                return Err(BuildError::NotFound(format!(
                    "{what}: no directory {s:?} in commit {commit}"
                )));
            }
            root
        }
        None => path.clone(),
    };
    Ok(Checkout { dir, commit, root })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git_of(s: &str) -> GitRef {
        match classify(s).unwrap() {
            SourceKind::Git(g) => g,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn classifies_like_buildkit() {
        assert_eq!(classify("https://example.com/x.tgz"), Ok(SourceKind::Http));
        assert_eq!(classify("http://example.com/"), Ok(SourceKind::Http));
        assert_eq!(classify("src/app"), Ok(SourceKind::Local));
        assert_eq!(classify("a:b"), Ok(SourceKind::Local));
        assert_eq!(classify("file:///etc/x"), Ok(SourceKind::Local));
        let g = git_of("https://github.com/moby/buildkit.git#v0.10.1:docs");
        assert_eq!(g.remote, "https://github.com/moby/buildkit.git");
        assert_eq!(g.reference.as_deref(), Some("v0.10.1"));
        assert_eq!(g.subdir.as_deref(), Some("docs"));
        let g = git_of("git@github.com:moby/buildkit.git");
        assert_eq!(g.remote, "git@github.com:moby/buildkit.git");
        assert_eq!(g.reference, None);
        let g = git_of("git://127.0.0.1:9418/r.git#:sub");
        assert_eq!((g.reference, g.subdir.as_deref()), (None, Some("sub")));
        let g = git_of("https://h/r.git?tag=v1&subdir=d&keep-git-dir=true");
        assert_eq!(g.reference.as_deref(), Some("refs/tags/v1"));
        assert_eq!(g.subdir.as_deref(), Some("d"));
        assert_eq!(g.keep_git_dir, Some(true));
        let g = git_of("ssh://git@h/r?checksum=abc1234");
        assert_eq!(g.reference.as_deref(), Some("abc1234"));
        assert!(classify("https://h/r.git?bogus=1").is_err());
        assert!(classify("https://h/r.git?tag=a&branch=b").is_err());
    }

    #[test]
    fn names_and_redaction() {
        assert_eq!(
            url_file_name("https://example.com/a/b.tar.gz?x=1"),
            "b.tar.gz"
        );
        assert_eq!(url_file_name("https://example.com/a/dir/"), "dir");
        assert_eq!(url_file_name("https://example.com"), "__unnamed__");
        assert_eq!(url_file_name("https://example.com/my%20file"), "my file");
        assert_eq!(redact("https://u:secret@h/x?y#z"), "https://u:***@h/x?y#z");
        assert_eq!(redact("https://u@h/x"), "https://u@h/x");
        assert_eq!(redact("git@h:r.git"), "git@h:r.git");
    }

    #[test]
    fn checksums() {
        let hex = "a".repeat(64);
        assert!(parse_checksum(&format!("sha256:{hex}")).is_ok());
        assert!(parse_checksum("sha256:abc").is_err());
        let e = parse_checksum(&format!("sha512:{}", "a".repeat(128))).unwrap_err();
        assert!(e.contains("only sha256"), "{e}");
    }
}
