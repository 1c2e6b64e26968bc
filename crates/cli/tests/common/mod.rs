//! Helpers shared by the CLI's integration tests (each test file uses some of them).
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command as Proc;

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

/// plinth with its own content store, no mirrors and no credentials: only the test
/// registries, as the environment has them.
pub fn plinth(cache: &Path) -> Command {
    let conf = cache.join("registries.toml");
    if !conf.exists() {
        std::fs::write(&conf, "").unwrap();
    }
    let mut c = Command::cargo_bin("plinth").unwrap();
    c.env("PLINTH_CACHE_DIR", cache)
        .env("DOCKER_CONFIG", cache.join("docker"))
        .env("PLINTH_REGISTRIES_CONF", cache.join("registries.toml"))
        .arg("--quiet");
    c
}

/// Runs a host command that must succeed; its stdout.
pub fn host(cmd: &mut Proc) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (is the test environment installed?)"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A rootfs tree the test images were made from (`minbase`, `python`, `buildpack`).
pub fn rootfs(name: &str) -> PathBuf {
    Path::new(&env("PLINTH_ROOTFS_DIR")).join(name)
}
/// `dpkg-query` on a rootfs: the ground truth for the package list.
pub fn dpkg_query(root: &Path) -> BTreeSet<(String, String, String)> {
    let out = host(Proc::new("dpkg-query").args([
        &format!("--admindir={}/var/lib/dpkg", root.display()),
        "-W",
        "-f",
        "${db:Status-Status} ${Package} ${Version} ${Architecture}\n",
    ]));
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[0] == "installed").then(|| (f[1].into(), f[2].into(), f[3].into()))
        })
        .collect()
}
