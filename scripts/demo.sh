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

step "find and pin base references, lock them, gate on the lock"
proj="$work/project"
mkdir -p "$proj"
printf 'print("hello from plinth")\n' >"$proj/app.py"
cat >"$proj/Dockerfile" <<'DOCKERFILE'
ARG BASE=debian:bookworm-slim
FROM python:3.11-slim AS tools
FROM ${BASE}
COPY --from=tools /etc/os-release /opt/tools-os-release
COPY app.py /srv/app.py
WORKDIR /srv
CMD ["/bin/sh", "-c", "cat /srv/app.py"]
DOCKERFILE
printf 'PYTAG=3.11-slim\n' >"$proj/.env"
printf 'services:\n  web:\n    image: python:${PYTAG}\n  cache:\n    image: debian:bookworm\n' >"$proj/compose.yaml"
(
  cd "$proj"
  run plinth refs
  run plinth check || true # unpinned references: findings, exit 1
  run plinth pin --dry-run
  run plinth pin
  run cat Dockerfile
  # An interpolated compose value is the variable's to pin.
  printf 'PYTAG=3.11-slim@%s\n' "$(plinth digest python:3.11-slim)" >.env
  run cat .env
  run plinth lock
  run plinth check --locked
)

step "what a base provides"
run plinth inspect python:3.11-slim
run plinth ls -l debian:bookworm-slim /etc/apt
run plinth sbom --format spdx-json debian:bookworm-slim --output "$work/debian.spdx.json"
run python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(len(d["packages"]), "SPDX packages")' "$work/debian.spdx.json"

step "which base? compare the family side by side, diff two, an HTML report"
run plinth compare debian:bookworm-slim python:3.11-slim buildpack-deps:bookworm \
  --html "$work/compare.html"
run plinth diff python:3.11-slim buildpack-deps:bookworm
run plinth diff --files=/usr/bin python:3.11-slim buildpack-deps:bookworm
run plinth diff --file /etc/os-release debian:bookworm-slim python:3.11-slim
echo "HTML report: $work/compare.html"

step "build without a daemon: scratch, a Dockerfile, the layer cache, rebase"
printf '#include <stdio.h>\nint main(void){puts("hello from scratch");return 0;}\n' >"$work/hello.c"
gcc -static -O2 -o "$work/hello" "$work/hello.c"
run plinth build --from scratch --add "$work/hello:/hello" --entrypoint /hello \
  -t "$PLINTH_TEST_REGISTRY/demo/hello:1"
run plinth inspect "$PLINTH_TEST_REGISTRY/demo/hello:1"
run plinth build -f "$proj/Dockerfile" -t "$PLINTH_TEST_REGISTRY/demo/app:1" "$proj"
# Unchanged inputs: the layers come from the layer cache and nothing is uploaded.
run plinth build --json -f "$proj/Dockerfile" -t "$PLINTH_TEST_REGISTRY/demo/app:1" "$proj"
run plinth rebase "$PLINTH_TEST_REGISTRY/demo/app:1" --onto python:3.11-slim \
  -t "$PLINTH_TEST_REGISTRY/demo/app:1-on-python"
run plinth ls "$PLINTH_TEST_REGISTRY/demo/app:1-on-python" /srv

step "the content store"
run plinth cache du
run plinth cache prune --older-than 1d

printf '\nplinth demo finished.\n'
