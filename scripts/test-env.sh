#!/usr/bin/env bash
# test-env.sh — the one entry point for plinth's test environment.
#
# Installs what is missing (Debian packages), starts the registries and the token issuer
# (scripts/registry-env.sh start), builds and pushes the test images
# (scripts/test-images.sh), then prints the line to source:
#
#   eval "$(scripts/test-env.sh)"   # = source $STATE/env; source $STATE/images.env
#
# stdout carries only `source …` lines; progress goes to stderr.
#
# Timings measured on this project's 2-core machine kind (the run's last line gives yours):
#   cold, packages present, no image cache, registries empty:  145 s
#        (mmdebstrap ≈ 85 s, umoci layers + archive ≈ 55 s, pushes ≈ 5 s)
#   installing the Debian packages when missing adds ≈ 5-20 s (apt-get update + 8 packages)
#   warm, everything running and pushed:                        1.2 s idle, ≈ 4.5 s while
#        other sessions compile (8 × `skopeo inspect` to compare digests)
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

# Everything the scripts and the interop tests use, installed once.
ensure_packages docker-registry apache2-utils openssl curl python3 ca-certificates iproute2 \
  util-linux rsync mmdebstrap debian-archive-keyring gpg mount libdpkg-perl arch-test \
  eatmydata umoci skopeo runc oci-image-tool musl rpm buildah gcc libc6-dev chromium fonts-dejavu-core patch

"$PLINTH_SCRIPTS_DIR/registry-env.sh" start
# test-images.sh keeps its image cache under $PLINTH_CACHE_DIR, which is also the name of
# plinth's own content-store setting: give it the CI cache root explicitly
# (PLINTH_CI_CACHE_DIR), so a user's plinth cache setting never moves the images.
PLINTH_CACHE_DIR=${PLINTH_CI_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/plinth-ci} \
  "$PLINTH_SCRIPTS_DIR/test-images.sh" >&2
plinth_log "test environment ready in ${SECONDS}s"
printf 'source %s\n' "$PLINTH_TEST_STATE/env" "$PLINTH_TEST_STATE/images.env"
