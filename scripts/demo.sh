#!/usr/bin/env bash
# demo.sh — plinth's main job, end to end, on a fresh machine.
#
# Installs and starts a local CNCF distribution registry, builds real Debian base images from
# Debian packages (mmdebstrap), pushes them, then uses plinth on them the way a user would:
# references written as on Docker Hub (`debian:bookworm-slim`) resolve through a registry
# mirror to the local registry.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
export CARGO_TARGET_DIR=${PLINTH_TARGET_DIR:-${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/plinth-ci/target}}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "build plinth (release)"
cargo build --release -p plinth-cli
plinth="$CARGO_TARGET_DIR/release/plinth"
mkdir -p "$HOME/.local/bin"
ln -sf "$plinth" "$HOME/.local/bin/plinth"
export PATH="$HOME/.local/bin:$PATH"

step "start the local registries and push Debian-built base images"
eval "$(scripts/test-env.sh)"

work=$(mktemp -d /tmp/plinth-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Docker Hub names go to the local registry, as a pull-through mirror would serve them.
cat >"$work/registries.toml" <<TOML
[[registry]]
prefix = "docker.io"
[[registry.mirror]]
location = "$PLINTH_TEST_REGISTRY"
TOML
export PLINTH_REGISTRIES_CONF="$work/registries.toml"
export PLINTH_CACHE_DIR="$work/cache"

step "references, normalized exactly as Docker does"
run plinth reference python:3.12-slim
run plinth reference --json debian:bookworm-slim

step "digests by HEAD (index, then one platform of it)"
run plinth digest debian:bookworm
run plinth digest --platform linux/arm64 debian:bookworm
run plinth digest debian:bookworm-slim python:3.11-slim buildpack-deps:bookworm

step "tags, manifests and configs, as stored"
run plinth tags debian
run plinth manifest --pretty debian:bookworm
run plinth config --pretty python:3.11-slim

step "copy: registry -> OCI layout -> docker-archive -> registry"
run plinth copy --all-platforms debian:bookworm "oci:$work/layout:bookworm"
run plinth copy python:3.11-slim "docker-archive:$work/python.tar:python:3.11-slim"
run plinth copy "docker-archive:$work/python.tar" "$PLINTH_TEST_REGISTRY/demo/python:copied"
run plinth digest "oci:$work/layout:bookworm" "$PLINTH_TEST_REGISTRY/demo/python:copied"
run skopeo inspect --format '{{.Name}} {{.Digest}} {{len .Layers}} layers' "oci:$work/layout:bookworm"

step "the content store"
run plinth cache du
run plinth cache prune --older-than 1d

printf '\nplinth demo finished.\n'
