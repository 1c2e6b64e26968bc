#!/usr/bin/env bash
# bench/compare.sh — `plinth compare` of the Debian family against `plinth inspect` of the same
# images one after another, and `plinth diff` of two images that share their base layers
# against the way users script it today (skopeo copy + umoci unpack of both, then diff -r).
#
# Images: the test environment's debian:bookworm-slim, python:3.11-slim, buildpack-deps:bookworm
# and debian:bookworm (an index; its linux/amd64 image is bookworm-slim): four images, three
# distinct layer chains sharing the minbase layer. Cold = an empty --cache-dir each run.
#
# Goals (issue 9, "Speed"): compare cold ≤ 1.2× the sum of the four inspects cold (less when
# layers are shared); diff of python:3.11-slim vs buildpack-deps cold faster than
# skopeo + umoci + diff -r, and it streams each shared layer once.
#
#   BENCH_COMPARE_RUNS   timed runs of each (default 5)
#   see bench/lib.sh for PLINTH_BIN, CARGO_TARGET_DIR, BENCH_STRICT, BENCH_WORK
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

RUNS=$(bench_runs BENCH_COMPARE_RUNS 5)

bench_tools
command -v umoci >/dev/null 2>&1 || bench_need_packages umoci
bench_env
bench_plinth
bench_workdir

IMAGES=("$PLINTH_IMG_DEBIAN_SLIM" "$PLINTH_IMG_PYTHON" "$PLINTH_IMG_BUILDPACK"
  "$PLINTH_TEST_REGISTRY/library/debian:bookworm")
A=$PLINTH_IMG_PYTHON
B=$PLINTH_IMG_BUILDPACK

compare_cold() { # N
  rm -rf "$WORK/c"
  mkdir -p "$WORK/c"
  bench_time "$WORK/times/compare.$1" \
    "$PLINTH" --quiet --cache-dir "$WORK/c" compare --json "${IMAGES[@]}"
}

inspects_cold() { # N: the four inspects, one after another, each with an empty store
  rm -rf "$WORK/i"
  # shellcheck disable=SC2016 # expanded by the inner bash
  bench_time "$WORK/times/inspects.$1" bash -c '
    p=$1 w=$2; shift 2
    for img in "$@"; do
      rm -rf "$w"; mkdir -p "$w"
      "$p" --quiet --cache-dir "$w" inspect --json "$img" || exit 1
    done' _ "$PLINTH" "$WORK/i" "${IMAGES[@]}"
}

diff_cold() { # N
  rm -rf "$WORK/d"
  mkdir -p "$WORK/d"
  bench_time "$WORK/times/diff.$1" \
    "$PLINTH" --quiet --cache-dir "$WORK/d" diff --json --files "$A" "$B"
}

baseline() { # N: skopeo copy + umoci unpack of both, then diff -r (the files it reports)
  rm -rf "$WORK/base"
  mkdir -p "$WORK/base"
  # shellcheck disable=SC2016 # expanded by the inner bash
  bench_time "$WORK/times/base.$1" bash -c '
    w=$1
    skopeo copy --quiet --src-tls-verify=false "docker://$2" "oci:$w/l:a" &&
    skopeo copy --quiet --src-tls-verify=false "docker://$3" "oci:$w/l:b" &&
    umoci unpack --image "$w/l:a" "$w/a" >/dev/null &&
    umoci unpack --image "$w/l:b" "$w/b" >/dev/null
    diff -rq --no-dereference "$w/a/rootfs" "$w/b/rootfs" >/dev/null
    [ $? -le 1 ]' _ "$WORK/base" "$A" "$B"
}

mkdir -p "$WORK/times"
bench_log "compare/diff ($RUNS runs each, after one warm-up; $(bench_load))"
compare_cold warmup
inspects_cold warmup
diff_cold warmup
baseline warmup
for i in $(seq "$RUNS"); do
  if [ $((i % 2)) = 1 ]; then
    compare_cold "$i"; inspects_cold "$i"; diff_cold "$i"; baseline "$i"
  else
    baseline "$i"; diff_cold "$i"; inspects_cold "$i"; compare_cold "$i"
  fi
  bench_log "run $i: compare $(cut -d' ' -f1 "$WORK/times/compare.$i") s," \
    "4 inspects $(cut -d' ' -f1 "$WORK/times/inspects.$i") s," \
    "diff $(cut -d' ' -f1 "$WORK/times/diff.$i") s," \
    "skopeo+umoci+diff -r $(cut -d' ' -f1 "$WORK/times/base.$i") s"
done

files() { local f=() i; for i in $(seq "$RUNS"); do f+=("$WORK/times/$1.$i"); done; echo "${f[@]}"; }
# shellcheck disable=SC2046
read -r c_mean c_med _ _ < <(bench_stats $(files compare))
# shellcheck disable=SC2046
read -r i_mean i_med _ _ < <(bench_stats $(files inspects))
# shellcheck disable=SC2046
read -r d_mean d_med _ _ < <(bench_stats $(files diff))
# shellcheck disable=SC2046
read -r b_mean b_med _ _ < <(bench_stats $(files base))
# shellcheck disable=SC2046
rss_mb=$(awk -v k="$(bench_max_rss $(files compare) $(files diff))" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }')
cmp_ratio=$(awk -v c="$c_mean" -v i="$i_mean" 'BEGIN { printf "%.2f", c / i }')
diff_ratio=$(awk -v b="$b_mean" -v d="$d_mean" 'BEGIN { printf "%.2f", b / d }')

echo "compare: ${IMAGES[*]}"
echo "diff: $A → $B"
echo "  $RUNS runs each, alternating, after one warm-up; $(bench_load)"
printf '  %-34s %9s %9s\n' way mean median
printf '  %-34s %8ss %8ss\n' "plinth compare (4 images), cold" "$c_mean" "$c_med"
printf '  %-34s %8ss %8ss\n' "plinth inspect ×4 in a row, cold" "$i_mean" "$i_med"
printf '  %-34s %8ss %8ss\n' "plinth diff --files, cold" "$d_mean" "$d_med"
printf '  %-34s %8ss %8ss\n' "skopeo + umoci ×2 + diff -r" "$b_mean" "$b_med"
bench_verdict "$(awk -v r="$cmp_ratio" 'BEGIN { print (r <= 1.2) ? 1 : 0 }')"
echo "  compare / (inspect ×4): ${cmp_ratio}×; goal ≤ 1.2×: $VERDICT"
bench_verdict "$(awk -v r="$diff_ratio" 'BEGIN { print (r > 1) ? 1 : 0 }')"
echo "  (skopeo+umoci+diff -r) / plinth diff: ${diff_ratio}×; goal > 1×: $VERDICT"
echo "  plinth peak RSS: $rss_mb MB"

bench_result compare_cold_mean_s "$c_mean"
bench_result compare_inspects_mean_s "$i_mean"
bench_result compare_ratio "$cmp_ratio"
bench_result diff_cold_mean_s "$d_mean"
bench_result diff_baseline_mean_s "$b_mean"
bench_result diff_ratio "$diff_ratio"
bench_exit
