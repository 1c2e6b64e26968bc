//! BuildKit's own parser and shell-lexer tests (shared/corpora/dockerfile).
//!
//! The corpus is found through `PLINTH_CORPORA` or next to the workspace; a
//! missing corpus fails the tests. Every failing case is reported by name.

use std::path::PathBuf;

use plinth_dockerfile::shell::Lexer;
use plinth_dockerfile::{dump_buildkit, parse};

fn corpus_dir() -> PathBuf {
    let base = match std::env::var_os("PLINTH_CORPORA") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/corpora"
        )),
    };
    let dir = base.join("dockerfile");
    assert!(
        dir.is_dir(),
        "corpus missing: {} (set PLINTH_CORPORA)",
        dir.display()
    );
    dir
}

fn case_dirs(sub: &str) -> Vec<(String, PathBuf)> {
    let dir = corpus_dir().join(sub);
    let mut cases: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    cases.sort();
    cases
}

#[test]
fn testfiles_match_buildkit_dump() {
    let cases = case_dirs("testfiles");
    assert_eq!(cases.len(), 33, "expected 33 cases");
    let mut failures = Vec::new();
    for (name, dir) in &cases {
        let src = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
        let expected = std::fs::read_to_string(dir.join("result")).unwrap();
        match parse(&src) {
            Ok(df) => {
                let got = dump_buildkit(&df);
                if got != expected {
                    failures.push(format!(
                        "{name}: dump differs\n--- expected\n{expected}--- got\n{got}"
                    ));
                }
            }
            Err(e) => failures.push(format!(
                "{name}: parse error: {}",
                e.render("Dockerfile", &src)
            )),
        }
    }
    println!(
        "testfiles: {}/{} passed",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} failing case(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn negative_testfiles_fail() {
    let cases = case_dirs("testfiles-negative");
    assert_eq!(cases.len(), 4, "expected 4 negative cases");
    let mut failures = Vec::new();
    for (name, dir) in &cases {
        let src = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
        match parse(&src) {
            Ok(df) => failures.push(format!(
                "{name}: parsed but must fail:\n{}",
                dump_buildkit(&df)
            )),
            Err(e) => {
                let rendered = e.render("Dockerfile", &src);
                assert!(rendered.starts_with("Dockerfile:"), "{rendered}");
            }
        }
    }
    println!(
        "testfiles-negative: {}/{} passed",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn env_var_test() {
    let text = std::fs::read_to_string(corpus_dir().join("envVarTest")).unwrap();
    let env: Vec<String> = ["PWD=/home", "SHELL=bash", "KOREAN=한국어", "NULL="]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut total = 0;
    let mut failures = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('|').collect();
        assert_eq!(fields.len(), 3, "line {}: {line:?}", n + 1);
        let (platform, source, expected) = (fields[0].trim(), fields[1].trim(), fields[2].trim());
        total += 1;
        let mut lx = Lexer::new('\\');
        // W lines describe Windows, where BuildKit compares names case-insensitively.
        lx.case_insensitive_env = match platform {
            "A" | "U" => false,
            "W" => true,
            other => panic!("line {}: bad platform {other}", n + 1),
        };
        let got = lx.process_word(source, &env);
        let ok = match (&got, expected) {
            (Err(_), "error") => true,
            (Ok(v), e) => v == e && e != "error",
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "line {} [{platform}] {source:?}: expected {expected:?}, got {got:?}",
                n + 1
            ));
        }
    }
    println!("envVarTest: {}/{total} passed", total - failures.len());
    assert_eq!(total, 230, "expected 230 cases");
    assert!(
        failures.is_empty(),
        "{} failing case(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn words_test() {
    let text = std::fs::read_to_string(corpus_dir().join("wordsTest")).unwrap();
    let mut env: Vec<String> = Vec::new();
    let mut total = 0;
    let mut failures = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("ENV ") {
            env.push(rest.trim_start_matches(' ').to_string());
            continue;
        }
        let fields: Vec<&str> = line.split('|').collect();
        assert_eq!(fields.len(), 2, "line {}: {line:?}", n + 1);
        let test = fields[0].trim();
        let expected: Vec<&str> = fields[1].trim_start_matches(' ').split(',').collect();
        total += 1;
        let got = match Lexer::new('\\').process_words(test, &env) {
            Ok(w) => w,
            Err(_) => vec!["error".to_string()],
        };
        if got != expected {
            failures.push(format!(
                "line {} {test:?}: expected {expected:?}, got {got:?}",
                n + 1
            ));
        }
    }
    println!("wordsTest: {}/{total} passed", total - failures.len());
    assert_eq!(total, 24, "expected 24 cases");
    assert!(
        failures.is_empty(),
        "{} failing case(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
