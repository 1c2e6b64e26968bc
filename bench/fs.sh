#!/usr/bin/env bash
# bench/fs.sh — reading an image's filesystem: `plinth ls` and `plinth export`, cold (empty
# content store) and warm (same store again), against `skopeo copy` to an OCI layout followed
# by `umoci unpack` (the cheapest way to get at an image's files without plinth).
#
#   BENCH_FS_RUNS    timed runs of each (default 3)
#   BENCH_FS_IMAGE   the image (default $PLINTH_IMG_BUILDPACK: 3 layers, 554 MB uncompressed)
#   everything bench/lib.sh reads (PLINTH_BIN, CARGO_TARGET_DIR, BENCH_WORK, BENCH_STRICT)
#
# Goals (issue 4): cold ≤ 1/5 of skopeo+umoci, warm ≥ 3× faster than cold, peak RSS < 150 MB.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

RUNS=$(bench_runs BENCH_FS_RUNS 3)

bench_tools
command -v umoci >/dev/null 2>&1 || bench_need_packages umoci
bench_env
bench_plinth
bench_workdir

IMAGE=${BENCH_FS_IMAGE:-$PLINTH_IMG_BUILDPACK}
bench_log "image $IMAGE, $RUNS runs each, plinth $PLINTH"

# One untimed run of each so the registry's files are in the page cache for everyone.
"$PLINTH" --cache-dir "$WORK/warmup" -q ls "$IMAGE" / >/dev/null
rm -rf "$WORK/warmup"

for i in $(seq 1 "$RUNS"); do
  rm -rf "$WORK/store" "$WORK/out.tar"
  bench_time "$WORK/ls-cold-$i.t" "$PLINTH" --cache-dir "$WORK/store" -q ls "$IMAGE" /
  bench_time "$WORK/ls-warm-$i.t" "$PLINTH" --cache-dir "$WORK/store" -q ls "$IMAGE" /
  rm -rf "$WORK/store"
  bench_time "$WORK/export-cold-$i.t" "$PLINTH" --cache-dir "$WORK/store" -q export "$IMAGE" \
    -o "$WORK/out.tar"
  bench_time "$WORK/export-warm-$i.t" "$PLINTH" --cache-dir "$WORK/store" -q export "$IMAGE" \
    -o "$WORK/out.tar"
  rm -rf "$WORK/layout" "$WORK/bundle"
  bench_time "$WORK/umoci-$i.t" sh -c "skopeo --insecure-policy copy -q --src-tls-verify=false \
    docker://$IMAGE oci:$WORK/layout:bench && umoci unpack --image $WORK/layout:bench \
    $WORK/bundle >/dev/null"
done

printf '%-28s %10s %10s %10s %12s\n' what median min max "peak RSS"
for k in ls-cold ls-warm export-cold export-warm umoci; do
  read -r _mean med min max < <(bench_stats "$WORK/$k"-*.t)
  rss=$(bench_max_rss "$WORK/$k"-*.t)
  printf '%-28s %9ss %9ss %9ss %9s MB\n' "$k" "$med" "$min" "$max" "$((rss / 1024))"
  bench_result "fs_${k//-/_}_s" "$med"
  bench_result "fs_${k//-/_}_rss_mb" "$((rss / 1024))"
done
med() { bench_stats "$WORK/$1"-*.t | awk '{ print $2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
cold_ratio=$(ratio "$(med umoci)" "$(med ls-cold)")
warm_ratio=$(ratio "$(med ls-cold)" "$(med ls-warm)")
echo "skopeo+umoci / plinth ls cold: ${cold_ratio}×   ls cold / warm: ${warm_ratio}×"
bench_result fs_cold_ratio "$cold_ratio"
bench_result fs_warm_ratio "$warm_ratio"
if [ "${BENCH_STRICT:-0}" = 1 ]; then
  awk -v c="$cold_ratio" -v w="$warm_ratio" 'BEGIN { exit !(c >= 5 && w >= 3) }' ||
    bench_die "goal missed"
fi
