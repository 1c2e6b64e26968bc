#!/usr/bin/env bash
# bench/run.sh — runs every benchmark (copy, digest, pin) and prints a summary table.
#
# Not part of the test suite: figures depend on the machine and its load. Each bench prints its
# own details first; the table at the end holds the figures against issue 2's goals.
#
#   BENCH_STRICT=1  exit 1 when a goal is missed
#   everything bench/copy.sh and bench/digest.sh read (runs, PLINTH_BIN, CARGO_TARGET_DIR)
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

bench_tools
bench_env
bench_plinth
export PLINTH_BIN=$PLINTH # build once, for both benches

BENCH_RESULTS=$(mktemp /tmp/plinth-bench-results.XXXXXX)
export BENCH_RESULTS
trap 'rm -f "$BENCH_RESULTS"' EXIT

# The benches themselves never fail on a missed goal here; the table decides.
BENCH_STRICT=0 "$BENCH_DIR/copy.sh"
echo
BENCH_STRICT=0 "$BENCH_DIR/digest.sh"
echo
BENCH_STRICT=0 "$BENCH_DIR/pin.sh"
echo

get() { awk -F= -v k="$1" '$1 == k { v = $2 } END { print v }' "$BENCH_RESULTS"; }
check() { # VALUE OP LIMIT
  awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
    ok = (op == ">=") ? (v >= l) : (v < l); print ok ? 1 : 0 }'
}

rows=(
  "copy: skopeo time / plinth time|$(get copy_ratio)×|>= 2|$(get copy_ratio)|>=|2"
  "copy: plinth peak RSS|$(get copy_plinth_rss_mb) MB|< 100 MB|$(get copy_plinth_rss_mb)|<|100"
  "digest ×50: skopeo time / plinth time|$(get digest_ratio)×|>= 10|$(get digest_ratio)|>=|10"
  "pin 200 files: skopeo loop / plinth pin|$(get pin_ratio)×|>= 20|$(get pin_ratio)|>=|20"
)
echo "summary ($(bench_load); plinth: $PLINTH)"
printf '  %-40s %12s %10s  %s\n' measure value goal verdict
for row in "${rows[@]}"; do
  IFS='|' read -r name shown goal value op limit <<<"$row"
  bench_verdict "$(check "$value" "$op" "$limit")"
  printf '  %-40s %12s %10s  %s\n' "$name" "$shown" "$goal" "$VERDICT"
done
printf '  copy means: plinth %s s, skopeo %s s; digest means: plinth %s s, skopeo --raw %s s, skopeo --format %s s\n' \
  "$(get copy_plinth_mean_s)" "$(get copy_skopeo_mean_s)" "$(get digest_plinth_mean_s)" \
  "$(get digest_skopeo_raw_mean_s)" "$(get digest_skopeo_format_mean_s)"
bench_exit
