#!/usr/bin/env bash
# bench/digest.sh — `plinth digest` of 50 references in one call vs 50 sequential
# `skopeo inspect` calls.
#
# Setup (once; kept in the registry): 50 tags bench/digest:t01…t50 on the open registry
# (127.0.0.1:5000), all the small image public/hello:1 — skopeo copies it to t01, the other 49
# are the same manifest bytes PUT under new tags. Then, alternating, after one warm-up of each:
#   plinth   `plinth digest REF1 … REF50` (HEAD requests, concurrent, one process)
#   raw      50 × `skopeo inspect --raw docker://REF | sha256sum` (skopeo's cheapest way)
#   format   50 × `skopeo inspect --format '{{.Digest}}' docker://REF` (also reads the config)
# and checks that all three give the same digests. The goal is checked against the faster
# skopeo way.
#
# Goal (issue 2, "Speed"): plinth ≥ 10× faster than 50 sequential skopeo inspect calls.
#
#   BENCH_DIGEST_RUNS  timed runs of each (default 3)
#   BENCH_DIGEST_REPO  where the tags go (default $PLINTH_TEST_REGISTRY/bench/digest)
#   see bench/lib.sh for PLINTH_BIN, CARGO_TARGET_DIR, BENCH_STRICT, BENCH_WORK
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

RUNS=$(bench_runs BENCH_DIGEST_RUNS 3)

bench_tools
bench_env
bench_plinth
bench_workdir

REPO=${BENCH_DIGEST_REPO:-$PLINTH_TEST_REGISTRY/bench/digest}
SOURCE=$PLINTH_IMG_HELLO
N=50

REFS=()
for i in $(seq -w 1 "$N"); do
  REFS+=("$REPO:t$i")
done

# --- setup: 50 tags -------------------------------------------------------------------------
bench_push_tags "$REPO" "$SOURCE" "$N"

# --- the three ways ---------------------------------------------------------------------------
cat >"$WORK/skopeo-raw.sh" <<'EOF'
set -euo pipefail
for ref in "$@"; do
  printf '%s\tsha256:%s\n' "$ref" \
    "$(skopeo inspect --raw --tls-verify=false "docker://$ref" | sha256sum | cut -d' ' -f1)"
done >"$OUT"
EOF
cat >"$WORK/skopeo-format.sh" <<'EOF'
set -euo pipefail
for ref in "$@"; do
  printf '%s\t%s\n' "$ref" \
    "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$ref")"
done >"$OUT"
EOF
cat >"$WORK/plinth.sh" <<'EOF'
set -euo pipefail
"$PLINTH" digest --cache-dir "$CACHE" "$@" >"$OUT"
EOF

run_way() { # WAY N
  local way=$1 n=$2
  rm -rf "$WORK/cache"
  mkdir -p "$WORK/cache" "$WORK/out"
  bench_time "$WORK/times/$way.$n" env OUT="$WORK/out/$way" PLINTH="$PLINTH" \
    CACHE="$WORK/cache" bash "$WORK/$way.sh" "${REFS[@]}"
}

mkdir -p "$WORK/times"
bench_log "digest of $N references ($RUNS runs each, after one warm-up; $(bench_load))"
for n in warmup $(seq "$RUNS"); do
  if [ "$n" = warmup ] || [ $((n % 2)) = 1 ]; then
    order=(plinth skopeo-raw skopeo-format)
  else
    order=(skopeo-format skopeo-raw plinth)
  fi
  for way in "${order[@]}"; do
    run_way "$way" "$n"
  done
  [ "$n" = warmup ] && continue
  bench_log "run $n: plinth $(cut -d' ' -f1 "$WORK/times/plinth.$n") s," \
    "skopeo --raw $(cut -d' ' -f1 "$WORK/times/skopeo-raw.$n") s," \
    "skopeo --format $(cut -d' ' -f1 "$WORK/times/skopeo-format.$n") s"
done

# Same answers?
for way in skopeo-raw skopeo-format; do
  if ! diff <(sort "$WORK/out/plinth") <(sort "$WORK/out/$way") >&2; then
    bench_die "plinth and $way disagree (diff above)"
  fi
done
[ "$(wc -l <"$WORK/out/plinth")" = "$N" ] || bench_die "plinth printed $(wc -l <"$WORK/out/plinth") digests, not $N"

stats() { # WAY
  local files=()
  for n in $(seq "$RUNS"); do files+=("$WORK/times/$1.$n"); done
  bench_stats "${files[@]}"
}
read -r p_mean p_med p_min p_max < <(stats plinth)
read -r r_mean r_med r_min r_max < <(stats skopeo-raw)
read -r f_mean f_med f_min f_max < <(stats skopeo-format)
ratio() { awk -v s="$1" -v p="$2" 'BEGIN { printf "%.1f", s / p }'; }
ratio_raw=$(ratio "$r_mean" "$p_mean")
ratio_format=$(ratio "$f_mean" "$p_mean")

echo "digest: $N references ($REPO:t01…t$N), one plinth call vs $N sequential skopeo calls"
echo "  $RUNS runs each, alternating, after one warm-up; $(bench_load)"
printf '  %-34s %9s %9s %9s %9s %8s\n' way mean median min max ratio
printf '  %-34s %8ss %8ss %8ss %8ss %8s\n' "plinth digest (1 call)" \
  "$p_mean" "$p_med" "$p_min" "$p_max" "1"
printf '  %-34s %8ss %8ss %8ss %8ss %7s×\n' "skopeo inspect --raw | sha256sum" \
  "$r_mean" "$r_med" "$r_min" "$r_max" "$ratio_raw"
printf '  %-34s %8ss %8ss %8ss %8ss %7s×\n' "skopeo inspect --format {{.Digest}}" \
  "$f_mean" "$f_med" "$f_min" "$f_max" "$ratio_format"
ratio_min=$(awk -v a="$ratio_raw" -v b="$ratio_format" 'BEGIN { print (a < b) ? a : b }')
bench_verdict "$(awk -v r="$ratio_min" 'BEGIN { print (r >= 10) ? 1 : 0 }')"
echo "  ratio against the faster skopeo way: ${ratio_min}×; goal ≥ 10×: $VERDICT"

bench_result digest_plinth_mean_s "$p_mean"
bench_result digest_skopeo_raw_mean_s "$r_mean"
bench_result digest_skopeo_format_mean_s "$f_mean"
bench_result digest_ratio "$ratio_min"
bench_exit
