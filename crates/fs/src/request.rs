//! Which files' bytes to keep while layers stream past.

use std::collections::HashSet;

use plinth_oci::Digest;

use crate::meta::{FileMeta, normalize};

/// Names the files whose content [`crate::read_image`] keeps (metadata is kept for every path).
///
/// A request is a union of parts; each part has exact paths, glob patterns and an optional size
/// limit. [`ContentRequest::path`], [`ContentRequest::glob`] and [`ContentRequest::max_size`]
/// change the last part; [`ContentRequest::merge`] appends the other request's parts, so each
/// keeps its own size limit. Paths that reach a file through symlinks (`/etc/os-release` →
/// `../usr/lib/os-release`, `/lib/…` with `/lib` → `usr/lib`) are followed: the file they
/// resolve to is kept too.
#[derive(Clone, Debug, Default)]
pub struct ContentRequest {
    parts: Vec<Part>,
    /// Layers (by blob digest) whose regular files get a SHA-256 of their content.
    hash_layers: HashSet<Digest>,
}

#[derive(Clone, Debug, Default)]
struct Part {
    paths: HashSet<String>,
    globs: Vec<Glob>,
    max_size: Option<u64>,
}

impl Part {
    fn matches_path(&self, path: &str) -> bool {
        self.paths.contains(path) || self.globs.iter().any(|g| g.matches(path))
    }
}

impl ContentRequest {
    /// A request for nothing.
    pub fn new() -> Self {
        ContentRequest {
            parts: vec![Part::default()],
            hash_layers: HashSet::new(),
        }
    }

    fn last(&mut self) -> &mut Part {
        if self.parts.is_empty() {
            self.parts.push(Part::default());
        }
        self.parts.last_mut().expect("one part")
    }

    /// Keeps the file at `p` (absolute; normalized).
    pub fn path(mut self, p: &str) -> Self {
        self.last().paths.insert(normalize(p));
        self
    }

    /// Keeps files whose path matches `pattern`: `*` and `?` match within one component,
    /// `[abc]` / `[a-z]` / `[!a]` match one character, and a `**` component matches any number
    /// of components (`/usr/lib/**/libc.so.6`).
    pub fn glob(mut self, pattern: &str) -> Self {
        self.last().globs.push(Glob::new(pattern));
        self
    }

    /// Keeps no file larger than `bytes` (for this part of the request).
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.last().max_size = Some(bytes);
        self
    }

    /// Hashes (SHA-256) the content of every regular file of the layer whose blob digest is
    /// `layer`, while it streams past; [`crate::MergedFs::content_digest`] gives the result.
    /// Costs one extra hash pass over that layer's file bytes; the hashes are kept in the
    /// content store's layer index, so a warm read costs nothing.
    pub fn hash_files_of(mut self, layer: &Digest) -> Self {
        self.hash_layers.insert(layer.clone());
        self
    }

    /// Whether the regular files of the layer `layer` are to be hashed.
    pub(crate) fn hashes(&self, layer: &Digest) -> bool {
        self.hash_layers.contains(layer)
    }

    /// The union of two requests; each keeps its own size limit.
    pub fn merge(mut self, other: ContentRequest) -> Self {
        self.hash_layers.extend(other.hash_layers);
        self.parts
            .retain(|p| !p.paths.is_empty() || !p.globs.is_empty());
        self.parts.extend(
            other
                .parts
                .into_iter()
                .filter(|p| !p.paths.is_empty() || !p.globs.is_empty()),
        );
        self
    }

    /// Whether the content of the file `meta` describes is wanted (by path and size; the kind
    /// is not looked at, so a wanted symlink or hard link makes its target wanted).
    pub fn wants(&self, meta: &FileMeta) -> bool {
        self.parts
            .iter()
            .any(|p| p.max_size.is_none_or(|m| meta.size <= m) && p.matches_path(&meta.path))
    }

    /// Whether `path` matches, ignoring sizes.
    pub(crate) fn matches_path(&self, path: &str) -> bool {
        self.parts.iter().any(|p| p.matches_path(path))
    }

    /// Whether a file of `size` bytes reached through `via` (a matching path) is wanted.
    pub(crate) fn wants_via(&self, via: &str, size: u64) -> bool {
        self.parts
            .iter()
            .any(|p| p.max_size.is_none_or(|m| size <= m) && p.matches_path(via))
    }

    /// The exact paths requested.
    pub(crate) fn exact_paths(&self) -> impl Iterator<Item = &str> {
        self.parts
            .iter()
            .flat_map(|p| p.paths.iter().map(String::as_str))
    }

    /// True when nothing is requested.
    pub fn is_empty(&self) -> bool {
        self.parts
            .iter()
            .all(|p| p.paths.is_empty() && p.globs.is_empty())
    }
}

/// A path glob (see [`ContentRequest::glob`]).
#[derive(Clone, Debug)]
struct Glob {
    comps: Vec<GlobComp>,
}

#[derive(Clone, Debug)]
enum GlobComp {
    AnyDepth,
    Literal(String),
    Pattern(Vec<Tok>),
}

#[derive(Clone, Debug)]
enum Tok {
    Char(char),
    Any,
    Star,
    Class { neg: bool, items: Vec<(char, char)> },
}

impl Glob {
    fn new(pattern: &str) -> Glob {
        let comps = pattern
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .map(|c| {
                if c == "**" {
                    GlobComp::AnyDepth
                } else if !c.contains(['*', '?', '[']) {
                    GlobComp::Literal(c.to_string())
                } else {
                    GlobComp::Pattern(tokens(c))
                }
            })
            .collect();
        Glob { comps }
    }

    fn matches(&self, path: &str) -> bool {
        let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        match_comps(&self.comps, &comps)
    }
}

fn tokens(c: &str) -> Vec<Tok> {
    let chars: Vec<char> = c.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => out.push(Tok::Star),
            '?' => out.push(Tok::Any),
            '[' => {
                // Find the closing bracket; a ']' right after '[' or '[!' is literal.
                let mut j = i + 1;
                let neg = j < chars.len() && (chars[j] == '!' || chars[j] == '^');
                if neg {
                    j += 1;
                }
                let start = j;
                let mut end = None;
                while j < chars.len() {
                    if chars[j] == ']' && j > start {
                        end = Some(j);
                        break;
                    }
                    j += 1;
                }
                match end {
                    None => out.push(Tok::Char('[')),
                    Some(end) => {
                        let mut items = Vec::new();
                        let mut k = start;
                        while k < end {
                            if k + 2 < end && chars[k + 1] == '-' {
                                items.push((chars[k], chars[k + 2]));
                                k += 3;
                            } else {
                                items.push((chars[k], chars[k]));
                                k += 1;
                            }
                        }
                        out.push(Tok::Class { neg, items });
                        i = end;
                    }
                }
            }
            ch => out.push(Tok::Char(ch)),
        }
        i += 1;
    }
    out
}

fn match_comps(pat: &[GlobComp], comps: &[&str]) -> bool {
    match pat.split_first() {
        None => comps.is_empty(),
        Some((GlobComp::AnyDepth, rest)) => {
            (0..=comps.len()).any(|skip| match_comps(rest, &comps[skip..]))
        }
        Some((p, rest)) => match comps.split_first() {
            None => false,
            Some((c, crest)) => {
                let ok = match p {
                    GlobComp::Literal(l) => l == c,
                    GlobComp::Pattern(toks) => {
                        let chars: Vec<char> = c.chars().collect();
                        match_toks(toks, &chars)
                    }
                    GlobComp::AnyDepth => unreachable!(),
                };
                ok && match_comps(rest, crest)
            }
        },
    }
}

fn match_toks(toks: &[Tok], s: &[char]) -> bool {
    // Iterative wildcard matching with single-star backtracking.
    let (mut ti, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        let step = match toks.get(ti) {
            Some(Tok::Star) => {
                star = Some((ti, si));
                ti += 1;
                continue;
            }
            Some(Tok::Any) => true,
            Some(Tok::Char(c)) => *c == s[si],
            Some(Tok::Class { neg, items }) => {
                items.iter().any(|(a, b)| *a <= s[si] && s[si] <= *b) != *neg
            }
            None => false,
        };
        if step {
            ti += 1;
            si += 1;
        } else if let Some((sti, ssi)) = star {
            ti = sti + 1;
            si = ssi + 1;
            star = Some((sti, ssi + 1));
        } else {
            return false;
        }
    }
    toks[ti..].iter().all(|t| matches!(t, Tok::Star))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::Kind;

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
    fn globs() {
        let g = |p: &str, s: &str| Glob::new(p).matches(s);
        assert!(g("/etc/*-release", "/etc/os-release"));
        assert!(!g("/etc/*-release", "/etc/x/os-release"));
        assert!(g("/usr/lib/**/libc.so.6", "/usr/lib/libc.so.6"));
        assert!(g(
            "/usr/lib/**/libc.so.6",
            "/usr/lib/x86_64-linux-gnu/libc.so.6"
        ));
        assert!(g("**/ld-musl-*.so.1", "/lib/ld-musl-x86_64.so.1"));
        assert!(g("/var/lib/dpkg/status.d/*", "/var/lib/dpkg/status.d/base"));
        assert!(g("/usr/bin/python3.[0-9]*", "/usr/bin/python3.11"));
        assert!(!g("/usr/bin/python3.[!0-9]*", "/usr/bin/python3.11"));
        assert!(g("/a/?b", "/a/xb"));
        assert!(g("/**", "/anything/at/all"));
        assert!(!g("/a/*", "/a"));
    }

    #[test]
    fn parts_keep_their_limits() {
        let small = ContentRequest::new().glob("/usr/bin/*").max_size(10);
        let big = ContentRequest::new().path("/usr/bin/python3");
        let r = small.merge(big);
        assert!(r.wants(&meta("/usr/bin/ls", 5)));
        assert!(!r.wants(&meta("/usr/bin/ls", 50)));
        assert!(r.wants(&meta("/usr/bin/python3", 5_000_000)));
        assert!(!r.wants(&meta("/etc/passwd", 1)));
        assert!(ContentRequest::new().is_empty());
        assert!(!r.is_empty());
    }
}
