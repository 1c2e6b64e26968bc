#!/usr/bin/env bash
# bench/inspect.sh — `plinth inspect` (cold and warm cache) vs `skopeo copy` to an OCI layout
# followed by `umoci unpack`, the cheapest way a user gets at an image's files today.
#
# Image: the test environment's 127.0.0.1:5000/library/buildpack-deps:bookworm (3 layers,
# ≥ 300 MB uncompressed). Cold: plinth with an empty --cache-dir (every layer blob fetched,
# decompressed, hashed and walked once). Warm: the same --cache-dir again (blobs and the
# per-layer entry indexes are in plinth's content store). The baseline pair runs on a fresh
# directory each time. One untimed warm-up of each first (registry files in the page cache,
# binaries loaded); then runs alternate so load on the machine hits all alike.
#
# Goals (issue 4, "Speed"): cold plinth ≤ 1/5 of skopeo copy + umoci unpack (ratio ≥ 5×);
# warm ≥ 3× faster than cold; plinth's peak RSS < 150 MB.
#
#   BENCH_INSPECT_RUNS   timed runs of each (default 5)
#   BENCH_INSPECT_IMAGE  the image (default $PLINTH_IMG_BUILDPACK)
#   see bench/lib.sh for PLINTH_BIN, CARGO_TARGET_DIR, BENCH_STRICT, BENCH_WORK
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

RUNS=$(bench_runs BENCH_INSPECT_RUNS 5)

bench_tools
command -v umoci >/dev/null 2>&1 || bench_need_packages umoci
bench_env
bench_plinth
bench_workdir

IMAGE=${BENCH_INSPECT_IMAGE:-$PLINTH_IMG_BUILDPACK}

inspect_cold() { # N
  rm -rf "$WORK/cold"
  mkdir -p "$WORK/cold"
  bench_time "$WORK/times/cold.$1" \
    "$PLINTH" --quiet --cache-dir "$WORK/cold" inspect --json "$IMAGE"
}

inspect_warm() { # N (the cache filled by the first warm run)
  bench_time "$WORK/times/warm.$1" \
    "$PLINTH" --quiet --cache-dir "$WORK/warm" inspect --json "$IMAGE"
}

baseline() { # N: skopeo copy + umoci unpack, timed as one
  rm -rf "$WORK/layout" "$WORK/bundle"
  # shellcheck disable=SC2016 # expanded by the inner bash
  bench_time "$WORK/times/base.$1" bash -c '
    skopeo copy --quiet --src-tls-verify=false "docker://$1" "oci:$2:bench" &&
    umoci unpack --image "$2:bench" "$3" >/dev/null' _ "$IMAGE" "$WORK/layout" "$WORK/bundle"
}

mkdir -p "$WORK/times" "$WORK/warm"
bench_log "inspect $IMAGE ($RUNS runs each, after one warm-up; $(bench_load))"
inspect_cold warmup
baseline warmup
inspect_warm warmup # fills $WORK/warm
for i in $(seq "$RUNS"); do
  if [ $((i % 2)) = 1 ]; then
    inspect_cold "$i"; baseline "$i"; inspect_warm "$i"
  else
    baseline "$i"; inspect_warm "$i"; inspect_cold "$i"
  fi
  bench_log "run $i: plinth cold $(cut -d' ' -f1 "$WORK/times/cold.$i") s," \
    "warm $(cut -d' ' -f1 "$WORK/times/warm.$i") s," \
    "skopeo+umoci $(cut -d' ' -f1 "$WORK/times/base.$i") s"
done

# The report read the image: as many packages as dpkg has in the unpacked rootfs.
npkgs=$("$PLINTH" --quiet --cache-dir "$WORK/warm" inspect --json "$IMAGE" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["packages"]["count"])')
want=$(dpkg-query --admindir="$WORK/bundle/rootfs/var/lib/dpkg" -W -f '${db:Status-Status}\n' |
  grep -c '^installed$' || true)
[ "$npkgs" = "$want" ] || bench_log "note: plinth lists $npkgs packages, dpkg-query $want"

files() { local f=() i; for i in $(seq "$RUNS"); do f+=("$WORK/times/$1.$i"); done; echo "${f[@]}"; }
# shellcheck disable=SC2046
read -r c_mean c_med c_min c_max < <(bench_stats $(files cold))
# shellcheck disable=SC2046
read -r w_mean w_med w_min w_max < <(bench_stats $(files warm))
# shellcheck disable=SC2046
read -r b_mean b_med b_min b_max < <(bench_stats $(files base))
# shellcheck disable=SC2046
rss_kib=$(bench_max_rss $(files cold) $(files warm) "$WORK/times/cold.warmup")
# shellcheck disable=SC2046
base_rss_kib=$(bench_max_rss $(files base))
ratio=$(awk -v b="$b_mean" -v c="$c_mean" 'BEGIN { printf "%.2f", b / c }')
ratio_med=$(awk -v b="$b_med" -v c="$c_med" 'BEGIN { printf "%.2f", b / c }')
warm_ratio=$(awk -v c="$c_mean" -v w="$w_mean" 'BEGIN { printf "%.2f", c / w }')
warm_ratio_med=$(awk -v c="$c_med" -v w="$w_med" 'BEGIN { printf "%.2f", c / w }')
rss_mb=$(awk -v k="$rss_kib" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }')
base_rss_mb=$(awk -v k="$base_rss_kib" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }')
size=""
if [ "$IMAGE" = "${PLINTH_IMG_BUILDPACK:-}" ]; then
  size=" ($(awk -v b="$PLINTH_IMG_BUILDPACK_COMPRESSED_SIZE" 'BEGIN { printf "%.0f", b / 1e6 }') MB compressed, $(awk -v b="$PLINTH_IMG_BUILDPACK_SIZE" 'BEGIN { printf "%.0f", b / 1e6 }') MB uncompressed, $npkgs packages)"
fi

echo "inspect: $IMAGE$size"
echo "  $RUNS runs each, alternating, after one warm-up; $(bench_load)"
printf '  %-22s %9s %9s %9s %9s %12s\n' way mean median min max "peak RSS"
printf '  %-22s %8ss %8ss %8ss %8ss %9s MB\n' "plinth inspect, cold" "$c_mean" "$c_med" "$c_min" "$c_max" "$rss_mb"
printf '  %-22s %8ss %8ss %8ss %8ss %12s\n' "plinth inspect, warm" "$w_mean" "$w_med" "$w_min" "$w_max" ""
printf '  %-22s %8ss %8ss %8ss %8ss %9s MB\n' "skopeo copy + umoci" "$b_mean" "$b_med" "$b_min" "$b_max" "$base_rss_mb"
bench_verdict "$(awk -v r="$ratio" 'BEGIN { print (r >= 5) ? 1 : 0 }')"
echo "  (skopeo+umoci) / plinth cold: ${ratio}× on means (${ratio_med}× on medians); goal ≥ 5×: $VERDICT"
bench_verdict "$(awk -v r="$warm_ratio" 'BEGIN { print (r >= 3) ? 1 : 0 }')"
echo "  cold / warm: ${warm_ratio}× on means (${warm_ratio_med}× on medians); goal ≥ 3×: $VERDICT"
bench_verdict "$(awk -v k="$rss_kib" 'BEGIN { print (k * 1024 < 150e6) ? 1 : 0 }')"
echo "  plinth peak RSS: $rss_mb MB; goal < 150 MB: $VERDICT"

bench_result inspect_cold_mean_s "$c_mean"
bench_result inspect_warm_mean_s "$w_mean"
bench_result inspect_baseline_mean_s "$b_mean"
bench_result inspect_ratio "$ratio"
bench_result inspect_warm_ratio "$warm_ratio"
bench_result inspect_rss_mb "$rss_mb"
bench_exit
