#!/usr/bin/env bash
# test.sh — every plinth test, on a fresh machine or a warm one.
#
# Sets up the test environment (Debian packages, the three local registries with the token
# issuer, the Debian-built test images; see scripts/test-env.sh), then runs the whole Rust test
# suite, formatting and lint checks. The Cargo target directory is kept under the cache dir
# (PLINTH_TARGET_DIR) so repeated runs from fresh clones stay warm.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

export CARGO_TARGET_DIR=${PLINTH_TARGET_DIR:-${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/plinth-ci/target}}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
export RUST_BACKTRACE=1
# The peer corpora live beside the repository (../shared/corpora); a clone elsewhere can point
# PLINTH_CORPORA at them.
if [ -z "${PLINTH_CORPORA:-}" ] && [ ! -d "$repo/../shared/corpora" ] && [ -d /work/shared/corpora ]; then
  export PLINTH_CORPORA=/work/shared/corpora
fi

start=$SECONDS
eval "$(scripts/test-env.sh)"
echo "== test environment ready ($((SECONDS - start)) s)" >&2

echo "== cargo fmt --check" >&2
cargo fmt --all -- --check

echo "== cargo clippy" >&2
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo test" >&2
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
  cargo test --workspace --doc
else
  cargo test --workspace --no-fail-fast
fi
echo "== all tests passed in $((SECONDS - start)) s" >&2
