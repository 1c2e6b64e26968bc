//! Helpers shared by the CLI's integration tests (each test file uses some of them).
#![allow(dead_code)]

use assert_cmd::Command;
use serde_json::Value;

/// A variable of the test environment; a missing one fails the test (never skips it).
pub fn env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: these tests run against the real test registries and images; \
             start them and load their variables with `eval \"$(scripts/test-env.sh)\"` \
             (from the workspace root), then run cargo test again"
        ),
    }
}

/// A name no other test (or earlier run) uses: `PREFIX-PID-MILLIS-N`.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 100_000_000;
    format!(
        "{prefix}-{}-{t}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Parses JSON output, showing it when it is not JSON.
pub fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// Runs a command that must succeed; its stdout.
pub fn run_ok(c: &mut Command) -> Vec<u8> {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
