# shellcheck shell=bash
# shellcheck disable=SC2034  # PLINTH, WORK, VERDICT are set here for the benches to read
# Shared helpers for plinth's benchmarks. Source it; do not run it.
#
#   PLINTH_BIN       the plinth binary to measure (default: build crates/cli in release)
#   CARGO_TARGET_DIR where that release build goes (cargo's default: <repo>/target)
#   BENCH_RESULTS    a file each bench appends `key=value` lines to (bench/run.sh sets it)
#   BENCH_STRICT=1   exit 1 when a goal is missed (default: report it and exit 0)
#   BENCH_WORK       scratch directory (default: a fresh mktemp -d, removed at exit)

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)

bench_log() {
  printf '%s\n' "[bench] $*" >&2
}

bench_die() {
  printf '%s\n' "[bench] error: $*" >&2
  exit 1
}

# bench_need_packages PKG...: install the Debian packages that are missing (root only).
bench_need_packages() {
  local missing=() pkg status
  for pkg in "$@"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || bench_die "need root to install: ${missing[*]}"
  bench_log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -qq -o DPkg::Lock::Timeout=300 update >&2 || bench_die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 \
    -o Dpkg::Use-Pty=0 "${missing[@]}" >&2 || bench_die "apt-get install ${missing[*]} failed"
}

BENCH_ACCEPT='application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json'
BENCH_ACCEPT+=',application/vnd.docker.distribution.manifest.v2+json'
BENCH_ACCEPT+=',application/vnd.docker.distribution.manifest.list.v2+json'

# bench_env: the running test environment (registries and pushed images), started when
# it is not running, with its variables exported.
bench_env() {
  local state=${PLINTH_TEST_STATE:-/tmp/plinth-test-env}
  local ok=0
  if [ -f "$state/env" ] && [ -f "$state/images.env" ]; then
    # shellcheck disable=SC1091
    . "$state/env"
    # shellcheck disable=SC1091
    . "$state/images.env"
    local repo=${PLINTH_IMG_BUILDPACK#*/}
    if [ -n "${PLINTH_IMG_BUILDPACK:-}" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' \
      --max-time 5 -I -H "Accept: $BENCH_ACCEPT" \
      "http://$PLINTH_TEST_REGISTRY/v2/${repo%:*}/manifests/${repo##*:}" || true)" = 200 ]; then
      ok=1
    fi
  fi
  if [ "$ok" = 0 ]; then
    bench_log "test environment not running: starting it (scripts/test-env.sh)"
    eval "$("$REPO_DIR/scripts/test-env.sh")"
  fi
  [ -n "${PLINTH_TEST_REGISTRY:-}" ] || bench_die "the test environment did not start"
}

# bench_tools: skopeo, GNU time, curl, python3.
bench_tools() {
  local pkgs=()
  command -v skopeo >/dev/null 2>&1 || pkgs+=(skopeo)
  [ -x /usr/bin/time ] || pkgs+=(time)
  command -v curl >/dev/null 2>&1 || pkgs+=(curl)
  command -v python3 >/dev/null 2>&1 || pkgs+=(python3)
  [ "${#pkgs[@]}" -eq 0 ] || bench_need_packages "${pkgs[@]}"
}

# bench_plinth: sets PLINTH to the binary under test, building it in release if needed.
bench_plinth() {
  if [ -n "${PLINTH_BIN:-}" ]; then
    [ -x "$PLINTH_BIN" ] || bench_die "PLINTH_BIN=$PLINTH_BIN is not executable"
    PLINTH=$PLINTH_BIN
    return
  fi
  local target=${CARGO_TARGET_DIR:-$REPO_DIR/target}
  bench_log "building plinth (release, CARGO_TARGET_DIR=$target)"
  (cd "$REPO_DIR" && CARGO_TARGET_DIR=$target cargo build --release --quiet -p plinth-cli) >&2 \
    || bench_die "cargo build --release -p plinth-cli failed"
  PLINTH=$target/release/plinth
}

# bench_workdir: sets WORK to a scratch directory removed at exit.
bench_workdir() {
  if [ -n "${BENCH_WORK:-}" ]; then
    mkdir -p "$BENCH_WORK"
    WORK=$BENCH_WORK
  else
    WORK=$(mktemp -d /tmp/plinth-bench.XXXXXX)
    # shellcheck disable=SC2064
    trap "rm -rf '$WORK'" EXIT
  fi
}

# bench_time OUT CMD...: runs CMD (stdout to /dev/null, stderr kept in OUT.err); writes
# "<wall seconds> <max RSS KiB>" to OUT. Wall time from the monotonic clock around GNU time,
# peak RSS from GNU time. Fails when CMD fails.
bench_time() {
  local out=$1
  shift
  local t0 t1
  t0=$(date +%s%N)
  if ! /usr/bin/time -f '%M' -o "$out.rss" "$@" >/dev/null 2>"$out.err"; then
    cat "$out.err" >&2
    bench_die "failed: $*"
  fi
  t1=$(date +%s%N)
  printf '%s %s\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')" \
    "$(tail -n 1 "$out.rss")" >"$out"
}

# bench_stats FILE...: "mean median min max" of the first column of the files' lines.
bench_stats() {
  cat "$@" | awk '{ print $1 }' | sort -g | awk '
    { v[NR] = $1; s += $1 }
    END {
      if (NR == 0) { print "nan nan nan nan"; exit }
      med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%.3f %.3f %.3f %.3f\n", s / NR, med, v[1], v[NR]
    }'
}

# bench_max_rss FILE...: the largest second column, in KiB.
bench_max_rss() {
  cat "$@" | awk '$2 > m { m = $2 } END { print m + 0 }'
}

# bench_result KEY VALUE: records a figure for bench/run.sh's summary.
bench_result() {
  [ -n "${BENCH_RESULTS:-}" ] && printf '%s=%s\n' "$1" "$2" >>"$BENCH_RESULTS"
  return 0
}

# bench_verdict OK: sets VERDICT to "met" or "MISSED" and remembers a miss for bench_exit.
BENCH_MISSED=0
VERDICT=
bench_verdict() {
  if [ "$1" = 1 ]; then
    VERDICT=met
  else
    VERDICT=MISSED
    BENCH_MISSED=1
  fi
}

bench_exit() {
  if [ "$BENCH_MISSED" = 1 ] && [ "${BENCH_STRICT:-0}" = 1 ]; then
    exit 1
  fi
  exit 0
}

# bench_load: the machine's load, so a reader can judge the figures.
bench_load() {
  printf '%s CPUs, load average %s\n' "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
}

# bench_push_tags REPO SOURCE N: makes sure REPO has the tags t01…tN (two digits), all the
# manifest of SOURCE: one skopeo copy, then a PUT of the same manifest bytes per other tag.
# Tags already there are kept, so later runs skip this.
bench_push_tags() {
  local repo=$1 source=$2 n=$3
  local registry=${repo%%/*} path=${repo#*/} have have_n ctype i
  have=$(curl -sf --max-time 10 "http://$registry/v2/$path/tags/list?n=1000" || true)
  have_n=$(printf '%s' "$have" | python3 -c '
import json, sys
n = int(sys.argv[1])
try:
    tags = json.load(sys.stdin).get("tags") or []
except ValueError:
    tags = []
print(sum(1 for t in tags if len(t) == 3 and t[0] == "t" and t[1:].isdigit() and 1 <= int(t[1:]) <= n))' "$n")
  [ "$have_n" = "$n" ] && return 0
  bench_log "pushing $n tags of $source to $repo"
  skopeo copy --quiet --src-tls-verify=false --dest-tls-verify=false \
    "docker://$source" "docker://$repo:t01" >&2
  curl -sf --max-time 10 -H "Accept: $BENCH_ACCEPT" -D "$WORK/headers" -o "$WORK/manifest" \
    "http://$registry/v2/$path/manifests/t01" || bench_die "cannot read back $repo:t01"
  ctype=$(tr -d '\r' <"$WORK/headers" | awk -F': ' 'tolower($1) == "content-type" { print $2 }')
  for i in $(seq -w 2 "$n"); do
    curl -sf --max-time 10 -X PUT -H "Content-Type: $ctype" --data-binary "@$WORK/manifest" \
      -o /dev/null "http://$registry/v2/$path/manifests/t$i" || bench_die "cannot push $repo:t$i"
  done
}

# bench_runs VAR DEFAULT: prints the number of timed runs from the environment variable VAR
# (DEFAULT when unset), or stops when it is not a positive number.
bench_runs() {
  local v=${!1:-$2}
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || bench_die "$1 must be a positive number (got '$v')"
  printf '%s\n' "$v"
}
