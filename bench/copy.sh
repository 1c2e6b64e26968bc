#!/usr/bin/env bash
# bench/copy.sh — `plinth copy` vs `skopeo copy`, registry → OCI layout, cold.
#
# Copies a multi-layer image (default: the test environment's
# 127.0.0.1:5000/library/buildpack-deps:bookworm, 3 layers, 554 MB uncompressed) from the local
# registry into a fresh OCI layout, with plinth (empty --cache-dir each run) and with skopeo,
# alternating the two so load on the machine hits both alike. One untimed warm-up run of each
# first (the registry's files in the page cache, the binaries loaded). Prints mean / median /
# min / max wall times, the ratio skopeo/plinth and plinth's peak RSS.
#
# Goals (issue 2, "Speed"): plinth ≤ ½ of skopeo's time; plinth's peak RSS < 100 MB.
#
#   BENCH_COPY_RUNS   timed runs of each tool (default 5)
#   BENCH_COPY_IMAGE  the image to copy (default $PLINTH_IMG_BUILDPACK)
#   see bench/lib.sh for PLINTH_BIN, CARGO_TARGET_DIR, BENCH_STRICT, BENCH_WORK
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

RUNS=$(bench_runs BENCH_COPY_RUNS 5)

bench_tools
bench_env
bench_plinth
bench_workdir

IMAGE=${BENCH_COPY_IMAGE:-$PLINTH_IMG_BUILDPACK}

copy_plinth() { # N
  rm -rf "$WORK/plinth" "$WORK/cache"
  mkdir -p "$WORK/cache"
  bench_time "$WORK/times/plinth.$1" \
    "$PLINTH" --quiet copy --cache-dir "$WORK/cache" "$IMAGE" "oci:$WORK/plinth:bench"
}

copy_skopeo() { # N
  rm -rf "$WORK/skopeo"
  bench_time "$WORK/times/skopeo.$1" \
    skopeo copy --quiet --src-tls-verify=false "docker://$IMAGE" "oci:$WORK/skopeo:bench"
}

root_digest() { # LAYOUT
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' \
    "$1/index.json"
}

mkdir -p "$WORK/times"
bench_log "copy $IMAGE → oci: ($RUNS cold runs each, after one warm-up; $(bench_load))"
copy_plinth warmup
copy_skopeo warmup
for i in $(seq "$RUNS"); do
  if [ $((i % 2)) = 1 ]; then
    copy_plinth "$i"
    copy_skopeo "$i"
  else
    copy_skopeo "$i"
    copy_plinth "$i"
  fi
  bench_log "run $i: plinth $(cut -d' ' -f1 "$WORK/times/plinth.$i") s," \
    "skopeo $(cut -d' ' -f1 "$WORK/times/skopeo.$i") s"
done

# Both wrote the same image?
p_digest=$(root_digest "$WORK/plinth")
s_digest=$(root_digest "$WORK/skopeo")
if [ "$p_digest" != "$s_digest" ]; then
  bench_log "note: plinth wrote manifest $p_digest, skopeo $s_digest (skopeo converted it?)"
fi
bytes=$(du -sb "$WORK/plinth/blobs" | cut -f1)

plinth_files=()
skopeo_files=()
for i in $(seq "$RUNS"); do
  plinth_files+=("$WORK/times/plinth.$i")
  skopeo_files+=("$WORK/times/skopeo.$i")
done
read -r p_mean p_med p_min p_max < <(bench_stats "${plinth_files[@]}")
read -r s_mean s_med s_min s_max < <(bench_stats "${skopeo_files[@]}")
rss_kib=$(bench_max_rss "${plinth_files[@]}" "$WORK/times/plinth.warmup")
skopeo_rss_kib=$(bench_max_rss "${skopeo_files[@]}" "$WORK/times/skopeo.warmup")
ratio=$(awk -v s="$s_mean" -v p="$p_mean" 'BEGIN { printf "%.2f", s / p }')
ratio_med=$(awk -v s="$s_med" -v p="$p_med" 'BEGIN { printf "%.2f", s / p }')
rss_mb=$(awk -v k="$rss_kib" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }')
skopeo_rss_mb=$(awk -v k="$skopeo_rss_kib" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }')
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1e6 }')
uncompressed=""
if [ "$IMAGE" = "${PLINTH_IMG_BUILDPACK:-}" ] && [ -n "${PLINTH_IMG_BUILDPACK_SIZE:-}" ]; then
  uncompressed=", $(awk -v b="$PLINTH_IMG_BUILDPACK_SIZE" 'BEGIN { printf "%.0f", b / 1e6 }') MB uncompressed"
fi

echo "copy: $IMAGE → oci:DIR:bench ($mb MB of blobs$uncompressed)"
echo "  $RUNS cold runs each, alternating, after one warm-up; $(bench_load)"
printf '  %-8s %9s %9s %9s %9s %12s\n' tool mean median min max "peak RSS"
printf '  %-8s %8ss %8ss %8ss %8ss %9s MB\n' plinth "$p_mean" "$p_med" "$p_min" "$p_max" "$rss_mb"
printf '  %-8s %8ss %8ss %8ss %8ss %9s MB\n' skopeo "$s_mean" "$s_med" "$s_min" "$s_max" \
  "$skopeo_rss_mb"
bench_verdict "$(awk -v r="$ratio" 'BEGIN { print (r >= 2) ? 1 : 0 }')"
echo "  ratio skopeo/plinth: ${ratio}× on means (${ratio_med}× on medians); goal ≥ 2×: $VERDICT"
bench_verdict "$(awk -v k="$rss_kib" 'BEGIN { print (k * 1024 < 100e6) ? 1 : 0 }')"
echo "  plinth peak RSS: $rss_mb MB; goal < 100 MB: $VERDICT"

bench_result copy_plinth_mean_s "$p_mean"
bench_result copy_skopeo_mean_s "$s_mean"
bench_result copy_ratio "$ratio"
bench_result copy_plinth_rss_mb "$rss_mb"
bench_exit
