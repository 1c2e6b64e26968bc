//! Compose's variable interpolation, so `image: ${REGISTRY}/app:${TAG:-latest}` is read as
//! Compose reads it.
//!
//! Values come from the environment, then from the `.env` file beside the compose file (the
//! environment wins, as in Compose). The forms are Compose's: `$NAME`, `${NAME}`,
//! `${NAME:-default}` / `${NAME-default}` (unset or empty / unset), `${NAME:?message}` /
//! `${NAME?message}` (an error), `${NAME:+other}` / `${NAME+other}`, nesting in the word after
//! the modifier, and `$$` for a literal `$`. An unset variable without a modifier is empty, as
//! Compose makes it (with a warning).
//!
//! Hand-written: the only crates for this are whole Compose loaders, far more than two small
//! grammars need.

use std::collections::HashMap;
use std::path::Path;

/// Variables for interpolation: the environment over a `.env` file.
#[derive(Clone, Debug, Default)]
pub struct ComposeEnv {
    dotenv: HashMap<String, String>,
    process: HashMap<String, String>,
}

impl ComposeEnv {
    /// The variables a compose file at `compose_file` sees: this process's environment and the
    /// `.env` file in its directory, if any. A malformed `.env` is an error naming its line.
    pub fn for_file(compose_file: &Path) -> Result<ComposeEnv, String> {
        let process = std::env::vars().collect();
        let dir = compose_file.parent().unwrap_or(Path::new("."));
        let path = dir.join(".env");
        let dotenv = match std::fs::read_to_string(&path) {
            Ok(text) => parse_dotenv(&text, &process)
                .map_err(|(line, m)| format!("{}:{line}: {m}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        Ok(ComposeEnv { dotenv, process })
    }

    /// Variables from these maps only (tests).
    pub fn from_maps(dotenv: HashMap<String, String>, process: HashMap<String, String>) -> Self {
        ComposeEnv { dotenv, process }
    }

    /// A variable's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.process
            .get(name)
            .or_else(|| self.dotenv.get(name))
            .map(String::as_str)
    }

    /// `s` with its variables replaced, or why that is impossible.
    pub fn interpolate(&self, s: &str) -> Result<String, String> {
        interpolate(s, &|n| self.get(n).map(str::to_string))
    }
}

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_name_char(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

/// How deep `${…}` may nest in a default or alternative word.
const MAX_NESTING: usize = 32;

/// Interpolates `s` with `lookup`.
pub fn interpolate(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    interpolate_at(s, lookup, 0)
}

fn interpolate_at(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    depth: usize,
) -> Result<String, String> {
    if depth > MAX_NESTING {
        return Err(format!(
            "interpolation nested deeper than {MAX_NESTING} levels"
        ));
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '$' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        match chars.get(i + 1) {
            Some('$') => {
                out.push('$');
                i += 2;
            }
            Some('{') => {
                let end = closing_brace(&chars, i + 2)
                    .ok_or_else(|| format!("{s:?}: unterminated ${{ in interpolation"))?;
                let inner: String = chars[i + 2..end].iter().collect();
                out.push_str(&braced(&inner, lookup, depth)?);
                i = end + 1;
            }
            Some(&c) if is_name_start(c) => {
                let mut j = i + 1;
                while j < chars.len() && is_name_char(chars[j]) {
                    j += 1;
                }
                let name: String = chars[i + 1..j].iter().collect();
                out.push_str(&lookup(&name).unwrap_or_default());
                i = j;
            }
            _ => return Err(format!("{s:?}: invalid interpolation format (a lone $)")),
        }
    }
    Ok(out)
}

/// The index of the `}` closing a `${` whose contents start at `from`, counting nested `${`.
fn closing_brace(chars: &[char], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = from;
    while i < chars.len() {
        match chars[i] {
            '$' if chars.get(i + 1) == Some(&'$') => i += 1,
            '$' if chars.get(i + 1) == Some(&'{') => {
                depth += 1;
                i += 1;
            }
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// The value of `${inner}`.
fn braced(
    inner: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    depth: usize,
) -> Result<String, String> {
    let name_len = inner
        .char_indices()
        .find(|(_, c)| !is_name_char(*c))
        .map_or(inner.len(), |(i, _)| i);
    let (name, rest) = inner.split_at(name_len);
    if name.is_empty() || !name.starts_with(is_name_start) {
        return Err(format!("${{{inner}}}: invalid variable name"));
    }
    let value = lookup(name);
    if rest.is_empty() {
        return Ok(value.unwrap_or_default());
    }
    let (colon, op_rest) = match rest.strip_prefix(':') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let mut it = op_rest.chars();
    let op = it.next().unwrap_or(' ');
    let word = it.as_str();
    // With ':', an empty value counts as unset.
    let set = match &value {
        Some(v) => !(colon && v.is_empty()),
        None => false,
    };
    match op {
        '-' => {
            if set {
                Ok(value.unwrap_or_default())
            } else {
                interpolate_at(word, lookup, depth + 1)
            }
        }
        '?' => {
            if set {
                Ok(value.unwrap_or_default())
            } else {
                let msg = interpolate_at(word, lookup, depth + 1)?;
                Err(if msg.is_empty() {
                    format!("required variable {name} is missing a value")
                } else {
                    format!("required variable {name} is missing a value: {msg}")
                })
            }
        }
        '+' => {
            if set {
                interpolate_at(word, lookup, depth + 1)
            } else {
                Ok(String::new())
            }
        }
        _ => Err(format!("${{{inner}}}: invalid interpolation format")),
    }
}

/// Parses a `.env` file: `KEY=VALUE` lines, `#` comments, an optional `export `, values
/// unquoted (trimmed, ` #` starts a comment, interpolated), single-quoted (literal) or
/// double-quoted (`\n`, `\t`, `\"`, `\\` escapes, interpolated). Earlier keys and the
/// environment are visible to later values. Errors carry the 1-based line.
fn parse_dotenv(
    text: &str,
    process: &HashMap<String, String>,
) -> Result<HashMap<String, String>, (usize, String)> {
    let mut vars: HashMap<String, String> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((key, raw)) = line.split_once('=') else {
            return Err((line_no, format!("expected KEY=VALUE, found {line:?}")));
        };
        let key = key.trim();
        if key.is_empty()
            || !key.starts_with(is_name_start)
            || !key.chars().all(|c| is_name_char(c) || c == '.' || c == '-')
        {
            return Err((line_no, format!("{key:?} is not a variable name")));
        }
        let raw = raw.trim_start();
        let lookup = |name: &str| process.get(name).or_else(|| vars.get(name)).cloned();
        let value = if let Some(rest) = raw.strip_prefix('\'') {
            let end = rest
                .find('\'')
                .ok_or_else(|| (line_no, "unterminated single quote".to_string()))?;
            rest[..end].to_string()
        } else if let Some(rest) = raw.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = rest.chars();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => match chars.next() {
                        Some('n') => v.push('\n'),
                        Some('t') => v.push('\t'),
                        Some(c @ ('"' | '\\' | '$')) => v.push(c),
                        Some(c) => {
                            v.push('\\');
                            v.push(c);
                        }
                        None => v.push('\\'),
                    },
                    c => v.push(c),
                }
            }
            if !closed {
                return Err((line_no, "unterminated double quote".to_string()));
            }
            interpolate(&v, &lookup).map_err(|m| (line_no, m))?
        } else {
            let v = match raw.find(" #") {
                Some(i) => &raw[..i],
                None => raw,
            };
            interpolate(v.trim_end(), &lookup).map_err(|m| (line_no, m))?
        };
        vars.insert(key.to_string(), value);
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(dotenv: &[(&str, &str)], process: &[(&str, &str)]) -> ComposeEnv {
        let m = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        ComposeEnv::from_maps(m(dotenv), m(process))
    }

    #[test]
    fn compose_forms() {
        let e = env(
            &[("TAG", "1.25"), ("EMPTY", ""), ("REG", "dotenv.example")],
            &[("REG", "registry.example:5000")],
        );
        let i = |s: &str| e.interpolate(s);
        assert_eq!(i("nginx:${TAG}").unwrap(), "nginx:1.25");
        assert_eq!(
            i("$REG/app:$TAG").unwrap(),
            "registry.example:5000/app:1.25"
        );
        assert_eq!(i("nginx:${NOPE:-1.27}").unwrap(), "nginx:1.27");
        assert_eq!(i("nginx:${EMPTY:-1.27}").unwrap(), "nginx:1.27");
        assert_eq!(i("nginx:${EMPTY-1.27}").unwrap(), "nginx:");
        assert_eq!(i("nginx${TAG:+:}${TAG:+$TAG}").unwrap(), "nginx:1.25");
        assert_eq!(i("nginx${NOPE+:x}").unwrap(), "nginx");
        assert_eq!(
            i("${NOPE:-${REG}/base}:1").unwrap(),
            "registry.example:5000/base:1"
        );
        assert_eq!(i("a$$b").unwrap(), "a$b");
        assert_eq!(i("nginx:${NOPE}").unwrap(), "nginx:");
        let err = i("nginx:${NOPE:?set NOPE first}").unwrap_err();
        assert!(
            err.contains("NOPE") && err.contains("set NOPE first"),
            "{err}"
        );
        assert!(i("nginx:${EMPTY?x}").is_ok());
        assert!(i("nginx:${TAG").is_err());
        assert!(i("a $ b").is_err());
        assert!(i("${1X}").is_err());
        assert!(i("${TAG/x/y}").is_err());
        let deep = format!("{}x{}", "${N:-".repeat(10_000), "}".repeat(10_000));
        assert!(i(&deep).unwrap_err().contains("nested"));
        let ok = format!("{}x{}", "${N:-".repeat(20), "}".repeat(20));
        assert_eq!(i(&ok).unwrap(), "x");
    }

    #[test]
    fn dotenv_files() {
        let process: HashMap<String, String> = [("HOME_REG".to_string(), "r.example".to_string())]
            .into_iter()
            .collect();
        let text = "# comment\n\nexport A=1\nB = two words  # trailing\nC='lit $A'\nD=\"q \\\"$A\\\" ${HOME_REG}\"\nE=${A}-x\nF=\n";
        let v = parse_dotenv(text, &process).unwrap();
        assert_eq!(v["A"], "1");
        assert_eq!(v["B"], "two words");
        assert_eq!(v["C"], "lit $A");
        assert_eq!(v["D"], "q \"1\" r.example");
        assert_eq!(v["E"], "1-x");
        assert_eq!(v["F"], "");
        assert_eq!(
            parse_dotenv("A=1\nnot a pair\n", &process).unwrap_err().0,
            2
        );
        assert_eq!(parse_dotenv("X=\"open\n", &process).unwrap_err().0, 1);
        assert_eq!(parse_dotenv("1A=x\n", &process).unwrap_err().0, 1);
    }

    #[test]
    fn dotenv_beside_the_compose_file() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(".env"), "PLINTH_TEST_COMPOSE_TAG=7.2\n").unwrap();
        let e = ComposeEnv::for_file(&d.path().join("compose.yaml")).unwrap();
        assert_eq!(
            e.interpolate("redis:${PLINTH_TEST_COMPOSE_TAG}").unwrap(),
            "redis:7.2"
        );
        std::fs::write(d.path().join(".env"), "oops\n").unwrap();
        let err = ComposeEnv::for_file(&d.path().join("compose.yaml")).unwrap_err();
        assert!(err.contains(".env:1"), "{err}");
    }
}
