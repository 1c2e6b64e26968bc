//! `plinth refs`: every image reference of Dockerfiles, compose files and Kubernetes
//! manifests, with where it is, the text as written and what it resolves to. No network.
//!
//! Also the pieces `pin`, `update`, `check` and `lock` share: the path and `--build-arg`
//! arguments, reading the files, the resolver and error mapping.

use std::collections::BTreeMap;
use std::path::PathBuf;

use plinth_dockerfile::ExpandOptions;
use plinth_pin::sites::{FileRefs, Kind, Site};
use plinth_pin::{PinError, discover, sites};
use serde_json::json;

use crate::Global;
use crate::error::{CliError, CliResult, exit};

/// Files to read and how to expand their ARGs.
#[derive(clap::Args, Debug, Clone)]
pub struct Inputs {
    /// Files or directories (walked, respecting .gitignore); default: the current directory.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Set a build-time variable as `docker build --build-arg` does (`NAME=value`, or `NAME`
    /// to take the value from the environment); repeatable.
    #[arg(long = "build-arg", value_name = "NAME[=VALUE]", value_parser = parse_build_arg)]
    pub build_args: Vec<(String, String)>,
}

fn parse_build_arg(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some(("", _)) => Err(format!("{s:?}: the name is empty")),
        Some((k, v)) => Ok((k.to_string(), v.to_string())),
        None => std::env::var(s)
            .map(|v| (s.to_string(), v))
            .map_err(|_| format!("{s}: no value given and no such environment variable")),
    }
}

impl Inputs {
    /// ARG expansion options.
    pub fn expand(&self) -> ExpandOptions {
        ExpandOptions {
            build_args: self.build_args.iter().cloned().collect::<BTreeMap<_, _>>(),
            ..ExpandOptions::default()
        }
    }

    /// Finds and reads the files.
    pub fn load(&self) -> CliResult<Vec<FileRefs>> {
        let candidates = discover::discover(&self.paths).map_err(pin_error)?;
        sites::read_files(&candidates, &self.expand()).map_err(pin_error)
    }
}

/// A CLI error for a library error, with the exit code of its kind.
pub fn pin_error(e: PinError) -> CliError {
    use plinth_oci::ErrorKind;
    let code = match e.kind() {
        ErrorKind::NotFound => exit::NOT_FOUND,
        ErrorKind::Auth => exit::AUTH,
        ErrorKind::Network => exit::NETWORK,
        ErrorKind::Integrity => exit::INTEGRITY,
        ErrorKind::Invalid => exit::INVALID,
        ErrorKind::Unsupported => exit::UNSUPPORTED,
        ErrorKind::Io => exit::IO,
    };
    CliError {
        message: e.to_string(),
        code,
    }
}

/// Prints every error but the first on stderr and returns the first (with a count).
pub fn report_errors(mut errors: Vec<PinError>) -> CliResult {
    if errors.is_empty() {
        return Ok(());
    }
    let n = errors.len();
    for e in &errors[1..] {
        eprintln!("plinth: {e}");
    }
    let mut first = pin_error(errors.remove(0));
    if n > 1 {
        first.message = format!("{} ({n} errors)", first.message);
    }
    Err(first)
}

/// A resolver on the client the global options describe.
pub fn resolver(g: &Global) -> CliResult<plinth_pin::resolve::Resolver> {
    let opener = g.opener()?;
    Ok(plinth_pin::resolve::Resolver::new(opener.client, g.jobs).with_store(opener.store))
}

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    inputs: Inputs,
    /// JSON output (an array of references; schema in docs/pinning.md).
    #[arg(long)]
    json: bool,
}

fn kind_str(k: Kind) -> &'static str {
    match k {
        Kind::Image => "image",
        Kind::Stage => "stage",
        Kind::Scratch => "scratch",
    }
}

/// One reference as JSON.
pub fn site_json(f: &FileRefs, s: &Site) -> serde_json::Value {
    let mut v = json!({
        "file": f.path.display().to_string(),
        "line": s.span.line,
        "col": s.span.col,
        "end_line": s.span.end_line,
        "end_col": s.span.end_col,
        "origin": s.origin,
        "kind": kind_str(s.kind),
        "text": s.text,
        "resolved": s.resolved,
        "pinned": s.pinned(),
        "uses_args": s.uses_args,
    });
    let o = v.as_object_mut().expect("an object");
    if let Some(i) = s.stage {
        o.insert("stage".into(), json!(i));
    }
    if let Some(r) = &s.reference {
        o.insert("reference".into(), json!(r.to_string()));
        if let Some(t) = r.tag() {
            o.insert("tag".into(), json!(t));
        }
        if let Some(d) = r.digest() {
            o.insert("digest".into(), json!(d));
        }
    }
    if let Some(p) = &s.platform {
        o.insert("platform".into(), json!(p));
    }
    if let Some(why) = &s.invalid {
        o.insert("invalid".into(), json!(why));
    }
    if s.onbuild {
        o.insert("onbuild".into(), json!(true));
    }
    v
}

/// Lists references.
pub fn run(a: Args) -> CliResult {
    let files = a.inputs.load()?;
    if a.json {
        let all: Vec<_> = files
            .iter()
            .flat_map(|f| f.sites.iter().map(move |s| site_json(f, s)))
            .collect();
        return crate::print_json(&all);
    }
    let mut rows: Vec<[String; 5]> = Vec::new();
    for f in &files {
        for s in &f.sites {
            let mut what = s.text.clone();
            if s.resolved != s.text {
                what.push_str(&format!(" → {}", s.resolved));
            }
            let status = match s.kind {
                Kind::Image if s.invalid.is_some() => "invalid".to_string(),
                Kind::Image if s.pinned() => "pinned".to_string(),
                Kind::Image => "unpinned".to_string(),
                Kind::Stage => format!("stage {}", s.stage.unwrap_or_default()),
                Kind::Scratch => String::new(),
            };
            rows.push([
                f.location(&s.span),
                kind_str(s.kind).to_string(),
                what,
                s.platform.clone().unwrap_or_default(),
                status,
            ]);
        }
    }
    let mut widths = [0usize; 5];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    for r in &rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                line.push_str(c);
                line.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        println!("{}", line.trim_end());
    }
    Ok(())
}
