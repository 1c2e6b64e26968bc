//! Agreement with Docker's own `distribution/reference` on the shared corpus.
//!
//! `corpora/reference/expected.jsonl` holds, for each of the corpus inputs,
//! what the Go library returns from `Parse`, `ParseNormalizedNamed`,
//! `ParseNamed`, `TagNameOnly`, `ParseDockerRef` and `ParseAnyReference`.
//! Every disagreement is collected and reported; the test fails if there is
//! any, and also when the corpus cannot be found.
//!
//! The corpus folder is `$PLINTH_CORPORA` if set, else `shared/corpora`
//! beside the workspace.

use std::collections::BTreeMap;
use std::path::PathBuf;

use plinth_reference::{AnyReference, Reference, ReferenceError, parse_any};
use serde_json::{Value, json};

const EXPECTED_CASES: usize = 471;

fn corpus_dir() -> PathBuf {
    match std::env::var_os("PLINTH_CORPORA") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/corpora"
        )),
    }
    .join("reference")
}

fn read_jsonl(path: &PathBuf) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "reference corpus missing: cannot read {}: {e} (set PLINTH_CORPORA)",
            path.display()
        )
    });
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}:{}: bad JSON: {e}", path.display(), i + 1))
        })
        .collect()
}

/// Tallies per checked function: cases checked, cases agreeing.
#[derive(Default)]
struct Tally {
    checked: BTreeMap<&'static str, (usize, usize)>,
    /// Error-message agreement, informational only: (rejections, same text).
    messages: BTreeMap<&'static str, (usize, usize)>,
    failures: Vec<String>,
}

impl Tally {
    fn record(
        &mut self,
        function: &'static str,
        input: &str,
        ok: bool,
        detail: impl FnOnce() -> String,
    ) {
        let entry = self.checked.entry(function).or_default();
        entry.0 += 1;
        if ok {
            entry.1 += 1;
        } else {
            self.failures
                .push(format!("{function}({input:?}): {}", detail()));
        }
    }

    fn message(&mut self, function: &'static str, expected: &str, got: &ReferenceError) {
        let entry = self.messages.entry(function).or_default();
        entry.0 += 1;
        if got.to_string() == expected {
            entry.1 += 1;
        }
    }
}

/// Compares a `Result<Reference>` against `expected[key]` (the parts object)
/// or `expected[key_err]`.
fn check_parts(
    tally: &mut Tally,
    function: &'static str,
    case: &Value,
    key: &str,
    got: &Result<Reference, ReferenceError>,
) {
    let input = case["input"].as_str().unwrap();
    let err_key = format!("{key}_err");
    match (case.get(key), case.get(&err_key), got) {
        (Some(want), None, Ok(r)) => {
            let have = serde_json::to_value(r.parts()).unwrap();
            tally.record(function, input, &have == want, || {
                format!("want {want}, got {have}")
            });
        }
        (Some(want), None, Err(e)) => tally.record(function, input, false, || {
            format!("want {want}, got error {e}")
        }),
        (None, Some(want), Err(e)) => {
            tally.record(function, input, true, String::new);
            tally.message(function, want.as_str().unwrap_or_default(), e);
        }
        (None, Some(want), Ok(r)) => tally.record(function, input, false, || {
            format!("want error {want}, got {}", r)
        }),
        _ => panic!("case {input:?}: expected exactly one of {key}, {err_key}"),
    }
}

/// Compares a `Result<String>` against `expected[key]` (a string) or
/// `expected[key_err]`.
fn check_string(
    tally: &mut Tally,
    function: &'static str,
    case: &Value,
    key: &str,
    got: Result<String, ReferenceError>,
) {
    let input = case["input"].as_str().unwrap();
    let err_key = format!("{key}_err");
    match (case.get(key), case.get(&err_key), got) {
        (Some(want), None, Ok(have)) => {
            let ok = want.as_str() == Some(have.as_str());
            tally.record(function, input, ok, || format!("want {want}, got {have:?}"))
        }
        (Some(want), None, Err(e)) => tally.record(function, input, false, || {
            format!("want {want}, got error {e}")
        }),
        (None, Some(want), Err(e)) => {
            tally.record(function, input, true, String::new);
            tally.message(function, want.as_str().unwrap_or_default(), &e);
        }
        (None, Some(want), Ok(have)) => tally.record(function, input, false, || {
            format!("want error {want}, got {have:?}")
        }),
        // Absent in both: not applicable (e.g. tag_name_only when
        // normalization failed); must then fail on our side too.
        (None, None, Ok(have)) => tally.record(function, input, false, || {
            format!("not applicable upstream, got {have:?}")
        }),
        (None, None, Err(_)) => tally.record(function, input, true, String::new),
        _ => panic!("case {input:?}: both {key} and {err_key} present"),
    }
}

fn any_value(a: &AnyReference) -> Value {
    let kind = match a {
        AnyReference::Digest(_) => "digest-only".to_owned(),
        AnyReference::Named(r) => {
            let mut k = String::from("named");
            if r.tag().is_some() {
                k.push_str("+tag");
            }
            if r.digest().is_some() {
                k.push_str("+digest");
            }
            k
        }
    };
    json!({ "string": a.to_string(), "kind": kind })
}

#[test]
fn corpus_agrees_with_docker() {
    let dir = corpus_dir();
    let inputs = read_jsonl(&dir.join("inputs.jsonl"));
    let expected = read_jsonl(&dir.join("expected.jsonl"));
    assert_eq!(
        inputs.len(),
        expected.len(),
        "inputs.jsonl and expected.jsonl differ in length"
    );
    assert_eq!(expected.len(), EXPECTED_CASES, "corpus size changed");

    let mut tally = Tally::default();
    for (input, case) in inputs.iter().zip(&expected) {
        let s = input.as_str().expect("inputs are JSON strings");
        assert_eq!(
            case["input"].as_str(),
            Some(s),
            "inputs and expected out of step"
        );

        check_parts(&mut tally, "parse", case, "parse", &Reference::parse(s));

        let normalized = Reference::parse_normalized(s);
        check_parts(
            &mut tally,
            "parse_normalized",
            case,
            "normalized",
            &normalized,
        );

        let from_str = s.parse::<Reference>();
        tally.record("from_str", s, from_str == normalized, || {
            format!("FromStr {from_str:?} != parse_normalized {normalized:?}")
        });

        let want_named = case["parse_named_ok"].as_bool().expect("parse_named_ok");
        let have_named = Reference::parse_named(s);
        tally.record("parse_named", s, have_named.is_ok() == want_named, || {
            format!("want ok={want_named}, got {have_named:?}")
        });

        check_string(
            &mut tally,
            "tag_name_only",
            case,
            "tag_name_only",
            normalized
                .as_ref()
                .map(|r| r.tag_name_only().to_string())
                .map_err(Clone::clone),
        );

        check_string(
            &mut tally,
            "parse_docker_ref",
            case,
            "docker_ref",
            Reference::parse_docker_ref(s).map(|r| r.to_string()),
        );

        let input = s;
        let any = parse_any(s);
        match (case.get("any"), case.get("any_err"), &any) {
            (Some(want), None, Ok(a)) => {
                let have = any_value(a);
                tally.record("parse_any", input, &have == want, || {
                    format!("want {want}, got {have}")
                });
            }
            (Some(want), None, Err(e)) => tally.record("parse_any", input, false, || {
                format!("want {want}, got error {e}")
            }),
            (None, Some(want), Err(e)) => {
                tally.record("parse_any", input, true, String::new);
                tally.message("parse_any", want.as_str().unwrap_or_default(), e);
            }
            (None, Some(want), Ok(a)) => tally.record("parse_any", input, false, || {
                format!("want error {want}, got {a}")
            }),
            _ => panic!("case {input:?}: expected exactly one of any, any_err"),
        }
    }

    let mut summary = String::new();
    for (function, (checked, agreed)) in &tally.checked {
        summary.push_str(&format!("  {function:<17} {agreed}/{checked} agree\n"));
    }
    for (function, (rejected, same)) in &tally.messages {
        summary.push_str(&format!(
            "  {function:<17} {same}/{rejected} rejections with Docker's exact message (informational)\n"
        ));
    }
    eprintln!("reference corpus ({} cases):\n{summary}", expected.len());
    assert!(
        tally.failures.is_empty(),
        "{} disagreements with Docker's reference library:\n{}\n\nsummary:\n{summary}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
}
