//! Agreement with the image spec's own validation cases (`corpora/oci-schema`, from
//! opencontainers/image-spec): every case the spec expects to fail must be rejected, every
//! other case and every spec example accepted.
//!
//! The corpus is found at `$PLINTH_CORPORA/oci-schema`, else at `../shared/corpora` beside the
//! workspace. A missing corpus fails the tests: it is part of CI, not an optional extra.

use plinth_oci::validate::{ValidationError, validate};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    let base = std::env::var_os("PLINTH_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/corpora"
            ))
        });
    let dir = base.join("oci-schema");
    assert!(
        dir.join("index.json").is_file(),
        "the oci-schema corpus is missing: no {} (set PLINTH_CORPORA to the corpora folder)",
        dir.join("index.json").display()
    );
    dir
}

/// The media type for a validator named in `index.json`: the image spec's Go constant names
/// (`ValidatorMediaTypeManifest` …) for its test cases, media types for the spec examples.
fn media_type_for(validator: &str) -> Option<&'static str> {
    Some(match validator {
        "ValidatorMediaTypeManifest" | "application/vnd.oci.image.manifest.v1+json" => {
            "application/vnd.oci.image.manifest.v1+json"
        }
        "ValidatorMediaTypeImageIndex" | "application/vnd.oci.image.index.v1+json" => {
            "application/vnd.oci.image.index.v1+json"
        }
        "ValidatorMediaTypeImageConfig" | "application/vnd.oci.image.config.v1+json" => {
            "application/vnd.oci.image.config.v1+json"
        }
        "ValidatorMediaTypeDescriptor" | "application/vnd.oci.descriptor.v1+json" => {
            "application/vnd.oci.descriptor.v1+json"
        }
        "ValidatorMediaTypeLayoutHeader" | "application/vnd.oci.layout.header.v1+json" => {
            "application/vnd.oci.layout.header.v1+json"
        }
        _ => return None,
    })
}

/// Guesses what a spec example is from its content (the file names mislead: `manifest-02` is
/// the empty-config descriptor, `image-layout-02` is an index).
fn guess_media_type(bytes: &[u8]) -> Option<&'static str> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    let has = |key: &str| value.get(key).is_some();
    Some(if has("imageLayoutVersion") {
        "application/vnd.oci.layout.header.v1+json"
    } else if has("manifests") {
        "application/vnd.oci.image.index.v1+json"
    } else if has("layers") || (has("schemaVersion") && has("config")) {
        "application/vnd.oci.image.manifest.v1+json"
    } else if has("rootfs") || has("architecture") {
        "application/vnd.oci.image.config.v1+json"
    } else if has("digest") && has("size") {
        "application/vnd.oci.descriptor.v1+json"
    } else {
        return None;
    })
}

/// The JSON documents in a corpus file.
///
/// The corpus was extracted from Go test tables of backquoted strings, and in two files the
/// extraction ran past the closing backquote into the next table entry, so the file holds
/// `{…}`, Go source, then a second `{…}`:
///
/// - `TestManifest-007-valid.json`: the "bounds of algorithm" manifest, then the next (also
///   valid) case, a manifest with a valid `subject`;
/// - `TestDescriptor-029-invalid.json`: the "cannot use modulo arithmetic" descriptor (valid
///   upstream), then the next case, whose `data` lacks base64 padding (invalid upstream). The
///   index kept the first case's comment and the second case's `expect_fail`.
///
/// Such a file is split at the Go residue (a backquote ends one document, the next backquote
/// opens the next) and judged as a whole: valid only if every document is. Any other file is
/// one document, validated byte for byte.
fn documents(bytes: &[u8]) -> Vec<&[u8]> {
    let mut docs = Vec::new();
    let mut rest = bytes;
    loop {
        let mut stream =
            serde_json::Deserializer::from_slice(rest).into_iter::<serde::de::IgnoredAny>();
        match stream.next() {
            Some(Ok(_)) => {}
            _ => return vec![bytes],
        }
        let end = stream.byte_offset();
        docs.push(&rest[..end]);
        let after = rest[end..].trim_ascii_start();
        if after.is_empty() {
            break;
        }
        let Some(after_close) = after.strip_prefix(b"`") else {
            return vec![bytes];
        };
        let Some(open) = after_close.iter().position(|&b| b == b'`') else {
            return vec![bytes];
        };
        rest = &after_close[open + 1..];
    }
    if docs.len() == 1 { vec![bytes] } else { docs }
}

/// Validates every document of a file; the first rejection, if any.
fn judge(media_type: &str, bytes: &[u8]) -> Result<(), ValidationError> {
    documents(bytes)
        .into_iter()
        .try_for_each(|doc| validate(media_type, doc))
}

fn describe(result: &Result<(), ValidationError>) -> String {
    match result {
        Ok(()) => "accepted".to_string(),
        Err(e) => format!("rejected: {e}"),
    }
}

#[test]
fn index_cases_agree_with_the_image_spec() {
    let dir = corpus_dir();
    let index: Vec<Value> =
        serde_json::from_slice(&fs::read(dir.join("index.json")).expect("read index.json"))
            .expect("index.json is a JSON array");
    assert!(!index.is_empty(), "index.json lists no cases");

    let mut disagreements = Vec::new();
    let (mut passed, mut expected_failures, mut spliced) = (0, 0, Vec::new());
    for case in &index {
        let text = |key: &str| case.get(key).and_then(Value::as_str).unwrap_or("");
        let file = text("file");
        let validator = text("validator");
        let expect_fail = case
            .get("expect_fail")
            .and_then(Value::as_bool)
            .expect("every case has a boolean expect_fail");
        let note = [text("comment"), text("title")]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        expected_failures += usize::from(expect_fail);

        let Some(media_type) = media_type_for(validator) else {
            disagreements.push(format!("{file}: unknown validator {validator:?}"));
            continue;
        };
        let bytes = match fs::read(dir.join(file)) {
            Ok(bytes) => bytes,
            Err(e) => {
                disagreements.push(format!("{file}: cannot read: {e}"));
                continue;
            }
        };
        let docs = documents(&bytes).len();
        if docs > 1 {
            spliced.push(format!("{file} ({docs} documents)"));
            // The whole file is not one JSON document; strict parsing must say so.
            assert!(
                matches!(
                    validate(media_type, &bytes),
                    Err(ValidationError::Syntax { .. })
                ),
                "{file}: a file of several documents must not parse as one"
            );
        }
        let result = judge(media_type, &bytes);
        if result.is_err() == expect_fail {
            passed += 1;
            // Shown with --nocapture: check that rejections happen for the stated reason.
            eprintln!("agree {file}: {} — {note}", describe(&result));
        } else {
            disagreements.push(format!(
                "{file} [{media_type}] expected {}, got {} — {note}",
                if expect_fail {
                    "rejection"
                } else {
                    "acceptance"
                },
                describe(&result)
            ));
        }
    }

    eprintln!(
        "oci-schema index: {passed}/{} cases agree ({expected_failures} expected failures); \
         split spliced files: {}",
        index.len(),
        if spliced.is_empty() {
            "none".to_string()
        } else {
            spliced.join(", ")
        }
    );
    assert!(
        disagreements.is_empty(),
        "{} of {} cases disagree with the image spec:\n  {}",
        disagreements.len(),
        index.len(),
        disagreements.join("\n  ")
    );
}

#[test]
fn every_spec_example_is_valid() {
    let dir = corpus_dir();
    let index: Vec<Value> =
        serde_json::from_slice(&fs::read(dir.join("index.json")).expect("read index.json"))
            .expect("index.json is a JSON array");
    let listed = |name: &str| {
        index.iter().find_map(|case| {
            (case.get("file")?.as_str()? == format!("spec-examples/{name}"))
                .then(|| case.get("validator")?.as_str())
                .flatten()
        })
    };

    let mut files: Vec<PathBuf> = fs::read_dir(dir.join("spec-examples"))
        .expect("read spec-examples/")
        .map(|entry| entry.expect("list spec-examples/").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "spec-examples/ holds no examples");

    let (mut problems, mut valid) = (Vec::new(), 0);
    for path in &files {
        let name = file_name(path);
        let bytes = fs::read(path).expect("read a spec example");
        let guessed = guess_media_type(&bytes);
        let media_type = match (listed(&name).and_then(media_type_for), guessed) {
            (Some(listed), Some(guessed)) if listed != guessed => {
                problems.push(format!(
                    "{name}: index.json says {listed}, its content looks like {guessed}"
                ));
                listed
            }
            (Some(listed), _) => listed,
            (None, Some(guessed)) => guessed,
            (None, None) => {
                problems.push(format!("{name}: not in index.json and of no known kind"));
                continue;
            }
        };
        match validate(media_type, &bytes) {
            Ok(()) => valid += 1,
            Err(e) => problems.push(format!("{name} [{media_type}] rejected: {e}")),
        }
    }

    eprintln!("oci-schema spec-examples: {valid}/{} valid", files.len());
    assert!(
        problems.is_empty(),
        "spec examples:\n  {}",
        problems.join("\n  ")
    );
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
