//! `.dockerignore` with Docker's rules (moby/patternmatcher), implemented here.
//!
//! Why not `globset` or `ignore`: they implement gitignore semantics, which differ from
//! Docker's in ways that change what a build sees. Docker patterns are anchored at the context
//! root (`foo` does not match `a/foo`; gitignore's does), `*` never crosses `/`, `**` matches
//! any number of directories including none, a pattern that matches a directory excludes
//! everything below it (the *parent-dir rule*: `a/b` is excluded by a pattern matching `a`),
//! `!` re-includes, and the **last** matching pattern wins. Patterns are cleaned like Go's
//! `filepath.Clean` (leading `/` and `./` dropped, `a//b` and `a/./b` simplified).
//!
//! Syntax of one pattern (Go `filepath.Match` plus `**`): `*` any run of non-`/` characters,
//! `?` one non-`/` character, `[a-z]` / `[^a-z]` / `[!a-z]` a class, `\c` a literal `c`, `**`
//! any sequence of path segments.

/// One compiled pattern.
#[derive(Clone, Debug)]
struct Pattern {
    tokens: Vec<Tok>,
    exclusion: bool,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Lit(char),
    /// `?`
    One,
    /// `*`
    Star,
    /// `**` followed by more pattern: `(.*/)?`
    DirStar,
    /// `**` at the end: `.*`
    AnyRest,
    /// `[...]`: ranges, negated.
    Class(Vec<(char, char)>, bool),
}

/// The rules of a `.dockerignore` file.
#[derive(Clone, Debug, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
}

/// Go's `filepath.Clean` for `/`-separated relative paths (without the leading `/`).
fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if matches!(parts.last(), Some(l) if *l != "..") {
                    parts.pop();
                } else {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

fn compile(pattern: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' => {
                if chars.get(i + 1) == Some(&'*') {
                    i += 2;
                    if chars.get(i) == Some(&'/') {
                        i += 1;
                    }
                    if i >= chars.len() {
                        toks.push(Tok::AnyRest);
                    } else {
                        toks.push(Tok::DirStar);
                    }
                    continue;
                }
                toks.push(Tok::Star);
            }
            '?' => toks.push(Tok::One),
            '\\' => {
                i += 1;
                let Some(&n) = chars.get(i) else {
                    return Err(format!("{pattern:?}: trailing backslash"));
                };
                toks.push(Tok::Lit(n));
            }
            '[' => {
                let mut j = i + 1;
                let negated = matches!(chars.get(j), Some('^') | Some('!'));
                if negated {
                    j += 1;
                }
                let mut ranges = Vec::new();
                let mut first = true;
                loop {
                    let Some(&c) = chars.get(j) else {
                        return Err(format!("{pattern:?}: unterminated character class"));
                    };
                    if c == ']' && !first {
                        break;
                    }
                    first = false;
                    let lo = if c == '\\' {
                        j += 1;
                        *chars
                            .get(j)
                            .ok_or_else(|| format!("{pattern:?}: bad escape in class"))?
                    } else {
                        c
                    };
                    j += 1;
                    if chars.get(j) == Some(&'-') && chars.get(j + 1).is_some_and(|c| *c != ']') {
                        let mut hi = chars[j + 1];
                        j += 2;
                        if hi == '\\' {
                            hi = *chars
                                .get(j)
                                .ok_or_else(|| format!("{pattern:?}: bad escape in class"))?;
                            j += 1;
                        }
                        ranges.push((lo, hi));
                    } else {
                        ranges.push((lo, lo));
                    }
                }
                toks.push(Tok::Class(ranges, negated));
                i = j;
            }
            c => toks.push(Tok::Lit(c)),
        }
        i += 1;
    }
    Ok(toks)
}

/// Whether the tokens match all of `s`.
///
/// Dynamic programming over (token, position), one row per token from the last: O(tokens ×
/// chars) time and O(chars) memory whatever the pattern. (Backtracking is exponential on
/// patterns like `*a*a*a*a*b`, and recurses once per character.)
fn matches(toks: &[Tok], s: &[char]) -> bool {
    let n = s.len();
    // next[j]: do toks[i + 1..] match s[j..]?
    let mut next = vec![false; n + 1];
    next[n] = true;
    let mut row = vec![false; n + 1];
    for tok in toks.iter().rev() {
        match tok {
            Tok::AnyRest => row.fill(true),
            Tok::Star => {
                // Nothing, or one non-'/' char and the star again.
                row[n] = next[n];
                for j in (0..n).rev() {
                    row[j] = next[j] || (s[j] != '/' && row[j + 1]);
                }
            }
            Tok::DirStar => {
                // (.*/)? : nothing, or any prefix ending with '/'.
                let mut after_slash = false;
                row[n] = next[n];
                for j in (0..n).rev() {
                    after_slash |= s[j] == '/' && next[j + 1];
                    row[j] = next[j] || after_slash;
                }
            }
            single => {
                row[n] = false;
                for j in 0..n {
                    let c = s[j];
                    let ok = match single {
                        Tok::Lit(l) => c == *l,
                        Tok::One => c != '/',
                        Tok::Class(ranges, neg) => {
                            c != '/' && (ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *neg)
                        }
                        _ => unreachable!("handled above"),
                    };
                    row[j] = ok && next[j + 1];
                }
            }
        }
        std::mem::swap(&mut row, &mut next);
    }
    next[0]
}

impl Matcher {
    /// Parses `.dockerignore` text: one pattern a line, `#` comments, blank lines ignored,
    /// surrounding whitespace trimmed, `!` for exceptions.
    pub fn parse(text: &str) -> Result<Matcher, String> {
        let mut patterns = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exclusion, p) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            if p.is_empty() {
                continue;
            }
            let p = clean(p.trim_start_matches('/'));
            patterns.push(Pattern {
                tokens: compile(&p)?,
                exclusion,
            });
        }
        Ok(Matcher { patterns })
    }

    /// A matcher from `--exclude` patterns (no exceptions).
    pub fn from_patterns<S: AsRef<str>>(pats: &[S]) -> Result<Matcher, String> {
        let text: Vec<&str> = pats.iter().map(|p| p.as_ref()).collect();
        Matcher::parse(&text.join("\n"))
    }

    /// Whether there are no patterns.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `path` (relative to the context, `/`-separated) is excluded: the last pattern
    /// that matches it or one of its parent directories decides.
    pub fn excluded(&self, path: &str) -> bool {
        let path = clean(path);
        let chars: Vec<char> = path.chars().collect();
        let parents: Vec<usize> = chars
            .iter()
            .enumerate()
            .filter(|(_, c)| **c == '/')
            .map(|(i, _)| i)
            .collect();
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let mut m = matches(&p.tokens, &chars);
            if !m {
                m = parents.iter().any(|&end| matches(&p.tokens, &chars[..end]));
            }
            if m {
                matched = !p.exclusion;
            }
        }
        matched
    }
}

/// Go's `filepath.Match` on one name or path (no `**`), for COPY source wildcards.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    match compile(pattern) {
        Ok(t) => matches(&t, &name.chars().collect::<Vec<_>>()),
        Err(_) => false,
    }
}

/// Whether a string has glob metacharacters.
pub fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_patterns_stay_fast_and_shallow() {
        let path = "a".repeat(200);
        let t = std::time::Instant::now();
        assert!(!glob_match(&"*a".repeat(40).replace("a*a", "a*b"), &path));
        assert!(glob_match(&"*a".repeat(40), &path));
        let deep = m(&format!("**/{}", "**/".repeat(30)));
        assert!(deep.excluded(&"d/".repeat(60)));
        // As long as paths get (PATH_MAX).
        let long = format!("{}*", "x".repeat(4000));
        assert!(glob_match(&long, &"x".repeat(4095)));
        assert!(!glob_match(&long, &"x".repeat(3999)));
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
    }

    fn m(text: &str) -> Matcher {
        Matcher::parse(text).unwrap()
    }

    #[test]
    fn docker_rules() {
        // Anchored at the root, unlike gitignore.
        let x = m("foo");
        assert!(x.excluded("foo"));
        assert!(x.excluded("foo/bar")); // parent-dir rule
        assert!(!x.excluded("a/foo"));
        // * does not cross '/'.
        let x = m("*/temp*");
        assert!(x.excluded("somedir/temporary.txt"));
        assert!(!x.excluded("somedir/sub/temp"));
        // ** matches any number of directories, including none.
        let x = m("**/*.go");
        assert!(x.excluded("main.go"));
        assert!(x.excluded("a/b/c.go"));
        assert!(!x.excluded("a/b/c.rs"));
        // Exceptions, last match wins.
        let x = m("*.md\n!README.md");
        assert!(x.excluded("CHANGES.md"));
        assert!(!x.excluded("README.md"));
        let x = m("!README.md\n*.md");
        assert!(x.excluded("README.md"));
        // Cleaning and comments.
        let x = m("# comment\n/./dist//\n  temp?  ");
        assert!(x.excluded("dist/app.js"));
        assert!(x.excluded("temp1"));
        assert!(!x.excluded("temp12"));
        // Classes and escapes.
        let x = m("[a-c]x\n\\*lit\n[^0-9]y");
        assert!(x.excluded("bx"));
        assert!(!x.excluded("dx"));
        assert!(x.excluded("*lit"));
        assert!(!x.excluded("alit"));
        assert!(x.excluded("zy"));
        assert!(!x.excluded("5y"));
        // Re-including below an excluded directory.
        let x = m("docs\n!docs/keep.txt");
        assert!(x.excluded("docs/x"));
        assert!(!x.excluded("docs/keep.txt"));
        // ** at the end.
        let x = m("build/**");
        assert!(x.excluded("build/a/b"));
    }

    #[test]
    fn filepath_match() {
        assert!(glob_match("*.txt", "a.txt"));
        assert!(!glob_match("*.txt", "d/a.txt"));
        assert!(glob_match("fil?", "file"));
    }
}
