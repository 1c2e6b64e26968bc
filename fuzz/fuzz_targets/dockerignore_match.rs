//! `.dockerignore` parsing and matching (and COPY globs) must never panic and stay fast on any
//! pattern: the input is patterns, a NUL, then paths (one a line).
#![no_main]

use libfuzzer_sys::fuzz_target;
use plinth_builder::dockerignore::{Matcher, glob_match};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (patterns, paths) = text.split_once('\0').unwrap_or((text, "a/b/c"));
    if let Ok(m) = Matcher::parse(patterns) {
        for p in paths.lines() {
            let _ = m.excluded(p);
        }
    }
    for pat in patterns.lines() {
        for p in paths.lines() {
            let _ = glob_match(pat, p);
        }
    }
});
