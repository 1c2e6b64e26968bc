//! `COPY` and `ADD`: sources from the build context, a stage or an image (`--from`),
//! here-documents, `--parents`, and for `ADD` local archives, HTTP(S) URLs and git
//! repositories.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use plinth_dockerfile::shell::Lexer;
use plinth_dockerfile::{Args, Instruction, InstructionKind};

use super::{Exec, StageOut, base_name, glob_prefix, join, loc};
use crate::dockerignore::{Matcher, glob_match, has_glob};
use crate::error::{BuildError, Result};
use crate::imagefs;
use crate::layer::{Content, Entry, HostOptions, Kind, Tree, clean_path};
use crate::remote::{self, GitRef, SourceKind};

/// A here-document source: its name and its content.
type Doc = (String, Vec<u8>);

/// One COPY/ADD with its arguments expanded and its flags read.
struct CopySpec {
    is_add: bool,
    /// Sources other than here-documents, expanded, in order.
    srcs: Vec<String>,
    /// Here-documents: name and content (expanded unless the delimiter was quoted).
    docs: Vec<Doc>,
    /// The destination: a clean path, the root being empty.
    dest: String,
    /// Whether sources go inside `dest` (rather than becoming `dest`).
    dest_is_dir: bool,
    from: Option<String>,
    chmod: Option<u32>,
    chown: Option<(u64, u64)>,
    exclude: Matcher,
    parents: bool,
    checksum: Option<String>,
    keep_git_dir: Option<bool>,
    unpack: Option<bool>,
}

impl CopySpec {
    /// Applies `--chown` and `--chmod` (not to symlinks) to an entry.
    fn own(&self, e: &mut Entry) {
        if let Some((u, g)) = self.chown {
            e.uid = u;
            e.gid = g;
        }
        if let Some(m) = self.chmod
            && !matches!(e.kind, Kind::Symlink(_))
        {
            e.mode = m;
        }
    }

    /// How context files become entries: their own modes and mtimes, then the flags.
    fn host(&self) -> HostOptions {
        HostOptions {
            owner: self.chown,
            chmod: self.chmod,
            keep_mode: true,
            keep_mtime: true,
        }
    }

    /// Where a single file named `name` goes.
    fn file_target(&self, name: &str) -> String {
        if self.dest_is_dir {
            join(&self.dest, name)
        } else {
            self.dest.clone()
        }
    }
}

/// The flags COPY and ADD take (ADD also `--from`, read like COPY's).
const COPY_FLAGS: &[&str] = &["from", "chmod", "chown", "link", "exclude", "parents"];
const ADD_ONLY_FLAGS: &[&str] = &["checksum", "keep-git-dir", "unpack"];

/// A boolean flag as BuildKit reads it: `--flag` is true, `--flag=false` false.
fn bool_flag(ins: &Instruction, name: &str) -> Result<Option<bool>, String> {
    let Some(f) = ins.flag(name) else {
        return Ok(None);
    };
    match f.value.as_deref() {
        None | Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(Some(true)),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(Some(false)),
        Some(v) => Err(format!("--{name}={v}: expected true or false")),
    }
}

/// The delimiter a here-document marker word (`<<EOF`, `<<-"EOF"`, `3<<EOF`) names.
fn marker_name(word: &str) -> Option<String> {
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    let rest = word[digits..].strip_prefix("<<")?;
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let mut lx = Lexer::new('\\');
    lx.skip_unset_env = true;
    let empty: Vec<String> = Vec::new();
    let words = lx.process_words(rest, &empty).ok()?;
    match words.as_slice() {
        [name] => Some(name.clone()),
        _ => None,
    }
}

/// `--parents`: the part of `src` whose parents are dropped (before a `/./`, else the root)
/// and the pattern below it, both clean.
fn split_pivot(src: &str) -> (String, String) {
    match src.split_once("/./") {
        Some((pivot, pattern)) => (clean_path(pivot), clean_path(pattern)),
        None => (String::new(), clean_path(src)),
    }
}

/// The directories between a path and its top (`a/b/c` → `a`, `a/b`).
fn ancestors(rel: &str) -> impl Iterator<Item = &str> {
    rel.match_indices('/').map(move |(i, _)| &rel[..i])
}

/// An entry for a context directory created by `--parents`: its own mode and mtime, then the
/// flags.
fn host_dir_entry(path: &Path, host: &HostOptions) -> Result<Entry> {
    let meta = std::fs::metadata(path).map_err(|e| BuildError::io(path, e))?;
    let (uid, gid) = host.owner.unwrap_or((0, 0));
    Ok(Entry {
        kind: Kind::Dir,
        mode: host.chmod.unwrap_or(meta.permissions().mode() & 0o7777),
        uid,
        gid,
        mtime: meta.mtime().max(0) as u64,
    })
}

/// The include matcher of a `--parents` pattern (an empty pattern takes everything).
fn include_matcher(pattern: &str) -> Result<Option<Matcher>, String> {
    if pattern.is_empty() {
        return Ok(None);
    }
    // Matcher::parse reads `#` and `!` at the start as a comment and an exception.
    let p = if pattern.starts_with(['#', '!']) {
        format!("\\{pattern}")
    } else {
        pattern.to_string()
    };
    Matcher::from_patterns(&[p]).map(Some)
}

fn included(m: &Option<Matcher>, rel: &str) -> bool {
    m.as_ref().is_none_or(|m| m.excluded(rel))
}

impl Exec<'_> {
    /// The error of a remote source, with the Dockerfile location; its kind (and so the exit
    /// code) kept.
    fn at(&self, ins: &Instruction, e: BuildError) -> BuildError {
        let l = loc(self.opts, ins);
        match e {
            BuildError::NotFound(m) => BuildError::NotFound(format!("{l}: {m}")),
            BuildError::Network(m) => BuildError::Network(format!("{l}: {m}")),
            BuildError::Integrity(m) => BuildError::Integrity(format!("{l}: {m}")),
            BuildError::Unsupported(m) => BuildError::Unsupported(format!("{l}: {m}")),
            BuildError::Invalid(m) => BuildError::Invalid(format!("{l}: {m}")),
            other => other,
        }
    }

    /// Splits the words of a COPY/ADD into sources and here-documents (BuildKit's
    /// `parseSourcesAndDest`), expanding bodies whose delimiter was not quoted.
    fn split_heredocs(
        &self,
        ins: &Instruction,
        words: &[String],
        vars: &[String],
    ) -> Result<(Vec<String>, Vec<Doc>)> {
        if ins.heredocs.is_empty() {
            return Ok((words.to_vec(), vec![]));
        }
        let (dest, srcs) = words.split_last().expect("two or more words");
        if marker_name(dest).is_some() {
            return Err(self.err(
                ins,
                format!(
                    "{} cannot take a here-document as its destination",
                    ins.keyword.value
                ),
            ));
        }
        let mut raw = Lexer::new('\\');
        raw.skip_process_quotes = true;
        raw.skip_unset_env = true;
        let (mut paths, mut docs) = (Vec::new(), Vec::new());
        for w in srcs {
            let Some(name) = marker_name(w) else {
                paths.push(w.clone());
                continue;
            };
            let Some(doc) = ins.heredocs.iter().rev().find(|h| h.name == name) else {
                return Err(self.err(ins, format!("here-document {name:?} has no body")));
            };
            let mut body = doc.effective_content();
            if doc.expand {
                body = raw
                    .process_word(&body, vars)
                    .map_err(|e| self.err(ins, e))?;
            }
            docs.push((name, body.into_bytes()));
        }
        paths.push(dest.clone());
        Ok((paths, docs))
    }

    /// Reads the arguments and flags of a COPY/ADD.
    async fn copy_spec(
        &mut self,
        ins: &Instruction,
        out: &StageOut,
        vars: &[String],
    ) -> Result<CopySpec> {
        let is_add = ins.kind == InstructionKind::Add;
        let raw: Vec<String> = match &ins.args {
            Args::List(ws) | Args::Exec(ws) => ws.iter().map(|w| w.value.clone()).collect(),
            _ => vec![],
        };
        if raw.len() < 2 {
            return Err(self.err(
                ins,
                format!("{} requires at least two arguments", ins.keyword.value),
            ));
        }
        for f in &ins.flags {
            let known = COPY_FLAGS.contains(&f.name.as_str())
                || (is_add && ADD_ONLY_FLAGS.contains(&f.name.as_str()));
            if !known {
                return Err(self.err(ins, format!("unknown flag --{}", f.name)));
            }
        }
        let (raw, docs) = self.split_heredocs(ins, &raw, vars)?;
        let mut words = Vec::new();
        for w in &raw {
            words.push(self.expand(ins, w, vars)?);
        }
        let dest_raw = words.pop().expect("the destination");
        let srcs = words;
        let parents = bool_flag(ins, "parents").map_err(|e| self.err(ins, e))? == Some(true);
        // Layers are always independent here; the flag is only checked.
        bool_flag(ins, "link").map_err(|e| self.err(ins, e))?;
        let wd = out
            .image
            .config
            .config
            .as_ref()
            .and_then(|c| c.working_dir.clone())
            .unwrap_or_else(|| "/".into());
        let dest_is_dir = dest_raw.ends_with('/')
            || dest_raw == "."
            || srcs.len() + docs.len() > 1
            || srcs
                .iter()
                .any(|s| has_glob(s) && remote::classify(s) == Ok(SourceKind::Local))
            || parents;
        let dest = if dest_raw.starts_with('/') {
            clean_path(&dest_raw)
        } else {
            clean_path(&format!("{wd}/{dest_raw}"))
        };
        let flag = |name: &str| -> Result<Option<String>> {
            match ins.flag(name).and_then(|f| f.value.clone()) {
                Some(v) => Ok(Some(self.expand(ins, &v, vars)?)),
                None => Ok(None),
            }
        };
        let from = flag("from")?;
        let checksum = flag("checksum")?;
        let chmod = match flag("chmod")? {
            Some(m) => Some(crate::flags::parse_mode(&m).map_err(|e| self.err(ins, e))?),
            None => None,
        };
        let chown = match flag("chown")? {
            Some(c) => Some(self.owner(ins, &c, out).await?),
            None => None,
        };
        let excludes: Vec<String> = ins
            .flags_named("exclude")
            .filter_map(|f| f.value.clone())
            .collect();
        let exclude = Matcher::from_patterns(&excludes).map_err(|e| self.err(ins, e))?;
        let keep_git_dir = bool_flag(ins, "keep-git-dir").map_err(|e| self.err(ins, e))?;
        let unpack = bool_flag(ins, "unpack").map_err(|e| self.err(ins, e))?;
        Ok(CopySpec {
            is_add,
            srcs,
            docs,
            dest,
            dest_is_dir,
            from,
            chmod,
            chown,
            exclude,
            parents,
            checksum,
            keep_git_dir,
            unpack,
        })
    }

    /// The files one COPY/ADD adds.
    pub(super) async fn copy(
        &mut self,
        ins: &Instruction,
        out: &mut StageOut,
        vars: &[String],
    ) -> Result<Tree> {
        let spec = self.copy_spec(ins, out, vars).await?;
        let mut kinds = Vec::new();
        for s in &spec.srcs {
            let kind = remote::classify(s).map_err(|e| self.err(ins, format!("{s}: {e}")))?;
            if !spec.is_add && kind != SourceKind::Local {
                return Err(self.err(
                    ins,
                    format!("{s}: COPY takes no URLs or git repositories; use ADD"),
                ));
            }
            kinds.push(kind);
        }
        if spec.checksum.is_some() {
            if spec.srcs.len() != 1 {
                return Err(self.err(ins, "--checksum takes exactly one source"));
            }
            if kinds[0] == SourceKind::Local {
                return Err(self.err(ins, "--checksum needs an HTTP(S) or git source"));
            }
        }
        // One read of the --from stage or image for every local source.
        let local: Vec<&String> = spec
            .srcs
            .iter()
            .zip(&kinds)
            .filter(|(_, k)| **k == SourceKind::Local)
            .map(|(s, _)| s)
            .collect();
        let from_tree = match &spec.from {
            Some(from) if !local.is_empty() => Some((
                from.clone(),
                self.read_from(ins, from, &spec, &local, out).await?,
            )),
            _ => None,
        };
        let mut tree = Tree::new();
        for (s, kind) in spec.srcs.iter().zip(&kinds) {
            match kind {
                SourceKind::Http => self.add_url(ins, &spec, s, out, &mut tree).await?,
                SourceKind::Git(g) => self.add_git(ins, &spec, g, out, &mut tree).await?,
                SourceKind::Local => match &from_tree {
                    Some((from, src_tree)) if spec.parents => {
                        self.parents_from_tree(ins, &spec, s, from, src_tree, &mut tree)?
                    }
                    Some((from, src_tree)) => {
                        self.copy_from_tree(ins, &spec, s, from, src_tree, &mut tree)?
                    }
                    None if spec.parents => self.parents_from_context(ins, &spec, s, &mut tree)?,
                    None => self.copy_from_context(ins, &spec, s, out, &mut tree)?,
                },
            }
        }
        for (name, data) in &spec.docs {
            // Made by the build: the epoch, as BuildKit dates them under SOURCE_DATE_EPOCH.
            let mut e = Entry::bytes(data.clone(), 0o644);
            e.mtime = self.opts.layer.epoch;
            spec.own(&mut e);
            tree.insert(&spec.file_target(base_name(&clean_path(name))), e);
        }
        // Parents the copy creates belong to the --chown owner, as in BuildKit.
        if let Some((u, g)) = spec.chown {
            let p = spec.dest.as_str();
            let exists = out.added.get(p).is_some() || out.pending.get(p).is_some();
            if tree.get(p).is_none() && !p.is_empty() && spec.dest_is_dir && !exists {
                let mut d = Entry::dir(0o755);
                d.uid = u;
                d.gid = g;
                tree.insert(p, d);
            }
        }
        Ok(tree)
    }

    /// The files of the `--from` stage or image that the local sources need: their paths,
    /// and, when a source path goes through symlinks, the paths those point to (read again
    /// until every source resolves within what was read).
    async fn read_from(
        &mut self,
        ins: &Instruction,
        from: &str,
        spec: &CopySpec,
        local: &[&String],
        out: &mut StageOut,
    ) -> Result<Tree> {
        let mut want: Vec<String> = local.iter().map(|s| want_prefix(s, spec.parents)).collect();
        let literal: Vec<String> = local
            .iter()
            .filter(|s| !spec.parents && !has_glob(s))
            .map(|s| clean_path(s))
            .collect();
        // A chain of symlinks across directories needs one more read per hop.
        for _ in 0..8 {
            let (t, keep) = self.source_tree(ins, from, &want).await?;
            out.keep.extend(keep);
            let missing: Vec<String> = literal
                .iter()
                .map(|s| resolve_in(&t, s))
                .filter(|p| !covered(&want, p))
                .collect();
            if missing.is_empty() {
                return Ok(t);
            }
            want.extend(missing);
        }
        Err(self.err(
            ins,
            format!("--from={from}: too many levels of symbolic links in the sources"),
        ))
    }

    /// One source of `COPY --from` (without `--parents`).
    fn copy_from_tree(
        &self,
        ins: &Instruction,
        spec: &CopySpec,
        src: &str,
        from: &str,
        src_tree: &Tree,
        tree: &mut Tree,
    ) -> Result<()> {
        let s = clean_path(src);
        // (where the file is, the name it is copied as): a source path's symlinks are
        // followed, as BuildKit does; wildcard matches are taken as they are.
        let matched: Vec<(String, String)> = if has_glob(&s) {
            src_tree
                .iter()
                .map(|(p, _)| p.clone())
                .filter(|p| glob_match(&s, p))
                .map(|p| (p.clone(), p))
                .collect()
        } else {
            let real = resolve_in(src_tree, &s);
            if src_tree.get(&real).is_some() || real.is_empty() {
                vec![(real, s.clone())]
            } else {
                vec![]
            }
        };
        if matched.is_empty() {
            return Err(self.err(ins, format!("{s:?} not found in --from={from}")));
        }
        for (m, name) in matched {
            let is_dir =
                m.is_empty() || matches!(src_tree.get(&m).map(|e| &e.kind), Some(Kind::Dir));
            let target = if is_dir {
                spec.dest.clone()
            } else {
                spec.file_target(base_name(&name))
            };
            for (p, e) in src_tree.subtree(&m) {
                let rel = if m.is_empty() {
                    p.as_str()
                } else {
                    &p[m.len()..]
                };
                let rel = rel.trim_start_matches('/');
                if (!rel.is_empty() && spec.exclude.excluded(rel)) || (is_dir && rel.is_empty()) {
                    continue;
                }
                let mut e = e.clone();
                spec.own(&mut e);
                tree.insert(&join(&target, rel), e);
            }
        }
        Ok(())
    }

    /// `--parents` from a stage or image: every path below the pivot matching the pattern, at
    /// its path relative to the pivot, with the directories between.
    fn parents_from_tree(
        &self,
        ins: &Instruction,
        spec: &CopySpec,
        src: &str,
        from: &str,
        src_tree: &Tree,
        tree: &mut Tree,
    ) -> Result<()> {
        let (pivot, pattern) = split_pivot(src);
        let include = include_matcher(&pattern).map_err(|e| self.err(ins, e))?;
        let mut found = 0;
        for (p, e) in src_tree.subtree(&pivot) {
            let rel = p[pivot.len()..].trim_start_matches('/');
            if rel.is_empty() || !included(&include, rel) || spec.exclude.excluded(rel) {
                continue;
            }
            found += 1;
            let mut e = e.clone();
            spec.own(&mut e);
            tree.insert(&join(&spec.dest, rel), e);
            for a in ancestors(rel) {
                let target = join(&spec.dest, a);
                if tree.get(&target).is_some() {
                    continue;
                }
                let mut d = src_tree
                    .get(&join(&pivot, a))
                    .filter(|e| e.kind == Kind::Dir)
                    .cloned()
                    .unwrap_or_else(|| Entry::dir(0o755));
                spec.own(&mut d);
                tree.insert(&target, d);
            }
        }
        if found == 0 {
            return Err(self.err(ins, format!("{src:?} not found in --from={from}")));
        }
        Ok(())
    }

    /// `--parents` from the build context: as [`Self::parents_from_tree`], for host files
    /// (`.dockerignore` applies).
    fn parents_from_context(
        &self,
        ins: &Instruction,
        spec: &CopySpec,
        src: &str,
        tree: &mut Tree,
    ) -> Result<()> {
        let (pivot, pattern) = split_pivot(src);
        let include = include_matcher(&pattern).map_err(|e| self.err(ins, e))?;
        let base = self.opts.context.join(&pivot);
        let not_found = || {
            self.err(
                ins,
                format!("{src:?} not found in the build context (or excluded by .dockerignore)"),
            )
        };
        if !base.is_dir() || !(pivot.is_empty() || self.visible(&pivot)) {
            return Err(not_found());
        }
        let host = spec.host();
        let keep = |r: &str| {
            included(&include, r)
                && !self.ignore.excluded(&join(&pivot, r))
                && !spec.exclude.excluded(r)
        };
        let mut found = Tree::new();
        let mut n = 0;
        found.add_host_dir(&base, "", &host, &mut n, &keep)?;
        if found.is_empty() {
            return Err(not_found());
        }
        for (rel, e) in found.iter() {
            tree.insert(&join(&spec.dest, rel), e.clone());
            for a in ancestors(rel) {
                let target = join(&spec.dest, a);
                if tree.get(&target).is_none() {
                    tree.insert(&target, host_dir_entry(&base.join(a), &host)?);
                }
            }
        }
        Ok(())
    }

    /// One source of the build context (without `--parents`); `ADD` extracts local archives
    /// unless `--unpack=false`.
    fn copy_from_context(
        &self,
        ins: &Instruction,
        spec: &CopySpec,
        src: &str,
        out: &mut StageOut,
        tree: &mut Tree,
    ) -> Result<()> {
        let host = spec.host();
        let unpack = spec.unpack.unwrap_or(spec.is_add);
        let rel = clean_path(src);
        let matched = self.context_matches(&rel);
        if matched.is_empty() {
            return Err(self.err(
                ins,
                format!("{src:?} not found in the build context (or excluded by .dockerignore)"),
            ));
        }
        for m in matched {
            // A source that is (or goes through) a symlink is what it points to, within the
            // context, copied under its own name (BuildKit follows source symlinks).
            let real = resolve_host(&self.opts.context, &m);
            let path = self.opts.context.join(&real);
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(meta) if real == m || self.visible(&real) => meta,
                _ => {
                    return Err(self.err(
                        ins,
                        format!(
                            "{m:?} is a symlink to {real:?}, which is not in the build context \
                             (or excluded by .dockerignore)"
                        ),
                    ));
                }
            };
            if meta.is_dir() {
                let ignore = &self.ignore;
                let exclude = &spec.exclude;
                let prefix = real.clone();
                let keep = move |r: &str| {
                    let full = if prefix.is_empty() {
                        r.to_string()
                    } else {
                        format!("{prefix}/{r}")
                    };
                    !ignore.excluded(&full) && !exclude.excluded(r)
                };
                let mut n = 0;
                tree.add_host_dir(&path, &spec.dest, &host, &mut n, &keep)?;
                self.add_dest_dir(spec, out, tree);
            } else if unpack && meta.is_file() && imagefs::looks_like_archive(&path) {
                self.add_archive(&path, spec, out, tree)?;
            } else {
                if spec.exclude.excluded(base_name(&m)) {
                    continue;
                }
                tree.add_host_path(&path, &spec.file_target(base_name(&m)), &host)?;
            }
        }
        Ok(())
    }

    /// The destination directory of a directory copy, when nothing made it yet.
    fn add_dest_dir(&self, spec: &CopySpec, out: &StageOut, tree: &mut Tree) {
        let exists = out.added.get(&spec.dest).is_some() || out.pending.get(&spec.dest).is_some();
        if !spec.dest.is_empty() && tree.get(&spec.dest).is_none() && !exists {
            let mut d = Entry::dir(0o755);
            if let Some((u, g)) = spec.chown {
                d.uid = u;
                d.gid = g;
            }
            tree.insert(&spec.dest, d);
        }
    }

    /// The entries of a tar archive (compressed or not), extracted below the destination.
    fn add_archive(
        &self,
        path: &Path,
        spec: &CopySpec,
        out: &mut StageOut,
        tree: &mut Tree,
    ) -> Result<()> {
        let mut data = imagefs::DataFile::create(&self.temp_dir())?;
        let archive = imagefs::read_archive(path, &mut data)?;
        out.keep.push(data.keep_alive());
        for (p, e) in archive.iter() {
            let mut e = e.clone();
            if let Some((u, g)) = spec.chown {
                e.uid = u;
                e.gid = g;
            }
            tree.insert(&join(&spec.dest, p), e);
        }
        Ok(())
    }

    /// `ADD <url>`: the download, mode 0600, mtime from `Last-Modified`; extracted only with
    /// `--unpack=true`.
    async fn add_url(
        &self,
        ins: &Instruction,
        spec: &CopySpec,
        url: &str,
        out: &mut StageOut,
        tree: &mut Tree,
    ) -> Result<()> {
        let checksum = match &spec.checksum {
            Some(c) => Some(remote::parse_checksum(c).map_err(|e| self.err(ins, e))?),
            None => None,
        };
        let d = remote::download(url, checksum.as_ref(), &self.temp_dir())
            .await
            .map_err(|e| self.at(ins, e))?;
        if spec.unpack == Some(true) && imagefs::looks_like_archive(&d.path) {
            self.add_archive(&d.path, spec, out, tree)?;
            return Ok(());
        }
        let mut e = Entry {
            kind: Kind::File {
                content: Content::Host(d.path.to_path_buf()),
                size: d.size,
            },
            mode: 0o600,
            uid: 0,
            gid: 0,
            mtime: d.last_modified.unwrap_or(self.opts.layer.epoch),
        };
        spec.own(&mut e);
        tree.insert(&spec.file_target(&remote::url_file_name(url)), e);
        out.keep.push(d.path);
        Ok(())
    }

    /// `ADD <git repository>`: the tree of the ref (or its subdirectory) into the destination,
    /// files 0644 or 0755 as git keeps them, `.git` only with `--keep-git-dir`.
    async fn add_git(
        &mut self,
        ins: &Instruction,
        spec: &CopySpec,
        g: &GitRef,
        out: &StageOut,
        tree: &mut Tree,
    ) -> Result<()> {
        let keep_git_dir = match (spec.keep_git_dir, g.keep_git_dir) {
            (Some(a), Some(b)) if a != b => {
                return Err(self.err(ins, "--keep-git-dir and ?keep-git-dir= disagree"));
            }
            (a, b) => a.or(b).unwrap_or(false),
        };
        let checksum = match (&spec.checksum, &g.checksum) {
            (Some(a), Some(b)) if a != b => {
                return Err(self.err(ins, format!("checksum mismatch {a:?} != {b:?}")));
            }
            (a, b) => a.clone().or_else(|| b.clone()),
        };
        let temp = self.temp_dir();
        let git_ref = g.clone();
        let checkout = tokio::task::spawn_blocking(move || {
            remote::git_checkout(&git_ref, keep_git_dir, checksum.as_deref(), &temp)
        })
        .await
        .map_err(|e| self.err(ins, format!("git failed: {e}")))?
        .map_err(|e| self.at(ins, e))?;
        let host = HostOptions {
            owner: spec.chown,
            chmod: spec.chmod,
            keep_mode: false,
            keep_mtime: false,
        };
        let exclude = &spec.exclude;
        let mut n = 0;
        let mut files = Tree::new();
        files.add_host_dir(&checkout.root, &spec.dest, &host, &mut n, &|r| {
            !exclude.excluded(r)
        })?;
        // Checked out just now: dated at the epoch, so the layer does not depend on when.
        for (p, e) in files.iter() {
            let mut e = e.clone();
            e.mtime = self.opts.layer.epoch;
            tree.insert(p, e);
        }
        self.add_dest_dir(spec, out, tree);
        self.checkouts.push(checkout);
        Ok(())
    }

    /// Context paths (relative) matching a COPY source (wildcards allowed), minus ignored ones.
    fn context_matches(&self, rel: &str) -> Vec<String> {
        let ctx = &self.opts.context;
        if !has_glob(rel) {
            let exists = std::fs::symlink_metadata(ctx.join(rel)).is_ok();
            return if exists && (rel.is_empty() || self.visible(rel)) {
                vec![rel.to_string()]
            } else {
                vec![]
            };
        }
        let mut found = vec![String::new()];
        for comp in rel.split('/') {
            let mut next = Vec::new();
            for base in &found {
                let dir = ctx.join(base);
                if has_glob(comp) {
                    let Ok(rd) = std::fs::read_dir(&dir) else {
                        continue;
                    };
                    let mut names: Vec<String> = rd
                        .filter_map(|e| e.ok())
                        .filter_map(|e| e.file_name().to_str().map(str::to_string))
                        .filter(|n| glob_match(comp, n))
                        .collect();
                    names.sort();
                    next.extend(names.into_iter().map(|n| join(base, &n)));
                } else if dir.join(comp).symlink_metadata().is_ok() {
                    next.push(join(base, comp));
                }
            }
            found = next;
        }
        found.retain(|p| self.visible(p));
        found
    }

    /// Whether a context path is in the context as the builder sees it: not excluded by
    /// `.dockerignore`, or a directory holding a path an exception (`!`) re-includes.
    fn visible(&self, rel: &str) -> bool {
        if !self.ignore.excluded(rel) {
            return true;
        }
        let dir = self.opts.context.join(rel);
        let Ok(rd) = std::fs::read_dir(&dir) else {
            return false;
        };
        rd.filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .any(|n| self.visible(&join(rel, &n)))
    }
}

/// What a path is, for [`resolve_with`].
enum Node {
    Link(String),
    Other,
    Missing,
}

/// Where `path` really is, the symlinks along it followed within the root (`..` stops at the
/// root, absolute targets start from it), as BuildKit resolves a source path. A path that
/// does not exist is returned as far as it resolved, the rest appended.
fn resolve_with(path: &str, node: impl Fn(&str) -> Node) -> String {
    use std::collections::VecDeque;
    let mut rest: VecDeque<String> = path
        .split('/')
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect();
    let mut cur = String::new();
    let mut hops = 0;
    while let Some(c) = rest.pop_front() {
        let next = join(&cur, &c);
        match node(&next) {
            Node::Link(target) if hops < 40 => {
                hops += 1;
                let base = if target.starts_with('/') {
                    ""
                } else {
                    cur.as_str()
                };
                let resolved = clean_path(&format!("{base}/{target}"));
                let mut comps: VecDeque<String> = resolved
                    .split('/')
                    .filter(|c| !c.is_empty())
                    .map(String::from)
                    .collect();
                comps.extend(rest.drain(..));
                rest = comps;
                cur = String::new();
            }
            Node::Link(_) | Node::Other => cur = next,
            Node::Missing => {
                rest.push_front(c);
                return rest.iter().fold(cur, |acc, c| join(&acc, c));
            }
        }
    }
    cur
}

/// [`resolve_with`] in a tree of a stage or image.
fn resolve_in(tree: &Tree, path: &str) -> String {
    resolve_with(path, |p| match tree.get(p).map(|e| &e.kind) {
        Some(Kind::Symlink(t)) => Node::Link(t.clone()),
        Some(_) => Node::Other,
        None => Node::Missing,
    })
}

/// [`resolve_with`] in the build context: a symlink never leads out of it.
fn resolve_host(root: &Path, path: &str) -> String {
    resolve_with(path, |p| match std::fs::symlink_metadata(root.join(p)) {
        Ok(m) if m.file_type().is_symlink() => match std::fs::read_link(root.join(p)) {
            Ok(t) => Node::Link(t.to_string_lossy().into_owned()),
            Err(_) => Node::Missing,
        },
        Ok(_) => Node::Other,
        Err(_) => Node::Missing,
    })
}

/// Whether a read of `want` (paths and everything below them) holds `path`.
fn covered(want: &[String], path: &str) -> bool {
    want.iter()
        .any(|w| w.is_empty() || path == w || path.starts_with(&format!("{w}/")))
}

/// The path of a stage or image that holds everything a source can match.
fn want_prefix(src: &str, parents: bool) -> String {
    if parents {
        let (pivot, pattern) = split_pivot(src);
        glob_prefix(&join(&pivot, &pattern))
    } else {
        glob_prefix(&clean_path(src))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers() {
        assert_eq!(marker_name("<<EOF").as_deref(), Some("EOF"));
        assert_eq!(marker_name("<<-\"a.txt\"").as_deref(), Some("a.txt"));
        assert_eq!(marker_name("3<<'X'").as_deref(), Some("X"));
        assert_eq!(marker_name("/app/conf"), None);
        assert_eq!(marker_name("<<"), None);
        assert_eq!(marker_name("a<<b"), None);
    }

    #[test]
    fn pivots() {
        assert_eq!(
            split_pivot("./src/./app/*.go"),
            ("src".into(), "app/*.go".into())
        );
        assert_eq!(split_pivot("./x/a.txt"), ("".into(), "x/a.txt".into()));
        assert_eq!(split_pivot("/app/./bin"), ("app".into(), "bin".into()));
        assert_eq!(want_prefix("/app/./bin/*", true), "app/bin");
        assert_eq!(want_prefix("src/**/*.txt", true), "src");
        assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), ["a", "a/b"]);
    }

    #[test]
    fn symlinks_in_source_paths() {
        let mut t = Tree::new();
        let link = |to: &str| Entry {
            kind: Kind::Symlink(to.into()),
            mode: 0o777,
            uid: 0,
            gid: 0,
            mtime: 0,
        };
        t.insert("etc/os-release", link("../usr/lib/os-release"));
        t.insert("usr/lib/os-release", Entry::bytes(b"x".to_vec(), 0o644));
        t.insert("lib", link("usr/lib"));
        t.insert("loop", link("/loop"));
        t.insert("etc", Entry::dir(0o755));
        t.insert("usr/lib", Entry::dir(0o755));
        assert_eq!(resolve_in(&t, "etc/os-release"), "usr/lib/os-release");
        assert_eq!(resolve_in(&t, "lib/os-release"), "usr/lib/os-release");
        assert_eq!(resolve_in(&t, "lib/x/y"), "usr/lib/x/y");
        assert_eq!(resolve_in(&t, "etc/none"), "etc/none");
        assert_eq!(resolve_in(&t, "loop"), "loop");
        assert!(covered(&["usr".into()], "usr/lib"));
        assert!(!covered(&["usr".into()], "usrx"));
    }
}
