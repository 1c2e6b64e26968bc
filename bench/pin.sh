#!/usr/bin/env bash
# bench/pin.sh — `plinth pin` of a tree of Dockerfiles vs a shell loop of `skopeo inspect`.
#
# Setup (once; kept in the registry): 50 tags bench/pin:t01…t50 on the open registry
# (127.0.0.1:5000), the small image public/hello:1 PUT under each tag. The Dockerfiles name
# them as Docker Hub images (`FROM bench/pin:t07`), resolved through a docker.io mirror
# (plinth's registries.toml, skopeo's registries.conf via its hidden --registries-conf), as real files would be.
#
# The tree: 200 Dockerfiles (svc-NNN/Dockerfile), each with two stages and a `COPY --from`:
# 600 references, 50 unique. Timed, alternating, after one warm-up (fresh copy of the tree and
# an empty plinth cache each run):
#   plinth   `plinth pin TREE` (one process: HEAD per unique reference, concurrent)
#   unique   a loop over the unique references: `skopeo inspect --raw | sha256sum` once per
#            reference, then `sed -i` on every file (a careful script)
#   each     a loop over every reference occurrence: `skopeo inspect --raw | sha256sum` and
#            `sed -i` per occurrence (the naive script; one run only — it is slow)
# and checks that all three trees end up byte-identical.
#
# Goal (issue 3): plinth ≥ 20× faster than a shell loop of skopeo inspect per reference.
#
#   BENCH_PIN_RUNS   timed runs of plinth and of the unique loop (default 3)
#   BENCH_PIN_REPO   where the tags go (default $PLINTH_TEST_REGISTRY/bench/pin)
#   see bench/lib.sh for PLINTH_BIN, CARGO_TARGET_DIR, BENCH_STRICT, BENCH_WORK
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

RUNS=$(bench_runs BENCH_PIN_RUNS 3)

bench_tools
bench_env
bench_plinth
bench_workdir

REPO=${BENCH_PIN_REPO:-$PLINTH_TEST_REGISTRY/bench/pin}
SOURCE=$PLINTH_IMG_HELLO
N=50
FILES=200
registry=${REPO%%/*}
path=${REPO#*/}

# --- setup: 50 tags -------------------------------------------------------------------------
bench_push_tags "$REPO" "$SOURCE" "$N"

# --- mirror configuration: docker.io → the test registry -------------------------------------
cat >"$WORK/registries.toml" <<EOF
[[registry]]
prefix = "docker.io"
[[registry.mirror]]
location = "$registry"
EOF
cat >"$WORK/registries.conf" <<EOF
unqualified-search-registries = ["docker.io"]
[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "$registry"
insecure = true
EOF

# --- the tree -----------------------------------------------------------------------------------
# The Dockerfiles name docker.io/<path>:tNN, written as Docker Hub users write it.
name=$path
mkdir -p "$WORK/tree"
for f in $(seq -w 1 "$FILES"); do
  a=$(printf '%02d' $(((10#$f - 1) % N + 1)))
  b=$(printf '%02d' $(((10#$f + 16) % N + 1)))
  c=$(printf '%02d' $(((10#$f + 32) % N + 1)))
  mkdir -p "$WORK/tree/svc-$f"
  printf '# service %s\nFROM %s:t%s AS build\nRUN make\n\nFROM %s:t%s\nCOPY --from=%s:t%s /bin/tool /usr/local/bin/tool\nCOPY --from=build /out /app\n' \
    "$f" "$name" "$a" "$name" "$b" "$name" "$c" >"$WORK/tree/svc-$f/Dockerfile"
done
occurrences=$(grep -rhoE "^FROM [^ ]+|--from=$name:[^ ]+" "$WORK/tree" | wc -l)
unique=$(grep -rhoE "$name:t[0-9]+" "$WORK/tree" | sort -u | wc -l)
[ "$unique" -ge 50 ] || bench_die "the tree has only $unique unique references"

# --- the three ways ---------------------------------------------------------------------------
cat >"$WORK/plinth.sh" <<'EOF'
set -euo pipefail
"$PLINTH" --quiet --cache-dir "$CACHE" --registries-conf "$CONF" pin "$TREE"
EOF
# Careful script: each unique reference inspected once, then every file rewritten.
cat >"$WORK/unique.sh" <<'EOF'
set -euo pipefail
grep -rhoE '^FROM [^ ]+|--from=[^ ]+' "$TREE" | sed -E 's/^FROM //; s/^--from=//' |
  grep -F : | sort -u | while read -r ref; do
  digest=sha256:$(skopeo --registries-conf "$SKOPEO_CONF" inspect --raw "docker://$ref" | sha256sum | cut -d' ' -f1)
  grep -rlF "$ref" "$TREE" | xargs sed -i -E "s#(FROM |--from=)$ref( |\$)#\\1$ref@$digest\\2#"
done
EOF
# Naive script: one inspect per reference occurrence.
cat >"$WORK/each.sh" <<'EOF'
set -euo pipefail
find "$TREE" -name Dockerfile | sort | while read -r file; do
  grep -oE '^FROM [^ ]+|--from=[^ ]+' "$file" | sed -E 's/^FROM //; s/^--from=//' |
    grep -F : | grep -vF @ | while read -r ref; do
    digest=sha256:$(skopeo --registries-conf "$SKOPEO_CONF" inspect --raw "docker://$ref" | sha256sum | cut -d' ' -f1)
    sed -i -E "0,\\#(FROM |--from=)$ref( |\$)#s##\\1$ref@$digest\\2#" "$file"
  done
done
EOF

run_way() { # WAY N
  local way=$1 n=$2
  rm -rf "$WORK/run" "$WORK/cache"
  cp -r "$WORK/tree" "$WORK/run"
  mkdir -p "$WORK/cache" "$WORK/times"
  bench_time "$WORK/times/$way.$n" env PLINTH="$PLINTH" CACHE="$WORK/cache" \
    CONF="$WORK/registries.toml" SKOPEO_CONF="$WORK/registries.conf" TREE="$WORK/run" \
    bash "$WORK/$way.sh"
  rm -rf "$WORK/out-$way"
  mv "$WORK/run" "$WORK/out-$way"
}

bench_log "pin: $FILES Dockerfiles, $occurrences references, $unique unique ($RUNS runs, after one warm-up; $(bench_load))"
for n in warmup $(seq "$RUNS"); do
  if [ "$n" = warmup ] || [ $((n % 2)) = 1 ]; then order=(plinth unique); else order=(unique plinth); fi
  for way in "${order[@]}"; do run_way "$way" "$n"; done
  [ "$n" = warmup ] && continue
  bench_log "run $n: plinth $(cut -d' ' -f1 "$WORK/times/plinth.$n") s," \
    "skopeo per unique reference $(cut -d' ' -f1 "$WORK/times/unique.$n") s"
done
bench_log "naive loop (one skopeo inspect per occurrence, one run)"
run_way each 1

# Same result?
for way in unique each; do
  diff -r "$WORK/out-plinth" "$WORK/out-$way" >&2 || bench_die "plinth and the $way loop disagree"
done
grep -q "@sha256:" "$WORK/out-plinth/svc-001/Dockerfile" || bench_die "plinth pinned nothing"

stats() { # WAY RUNS
  local files=()
  for n in $(seq "$2"); do files+=("$WORK/times/$1.$n"); done
  bench_stats "${files[@]}"
}
read -r p_mean p_med p_min p_max < <(stats plinth "$RUNS")
read -r u_mean u_med u_min u_max < <(stats unique "$RUNS")
read -r e_mean _ _ _ < <(stats each 1)
ratio() { awk -v s="$1" -v p="$2" 'BEGIN { printf "%.1f", s / p }'; }
ratio_each=$(ratio "$e_mean" "$p_mean")
ratio_unique=$(ratio "$u_mean" "$p_mean")

echo "pin: $FILES Dockerfiles, $occurrences references ($unique unique, docker.io/$name:tNN via a mirror)"
echo "  $RUNS runs of plinth and the unique loop, alternating, after one warm-up; $(bench_load)"
printf '  %-48s %9s %9s %9s %9s %8s\n' way mean median min max ratio
printf '  %-48s %8ss %8ss %8ss %8ss %8s\n' "plinth pin (1 call)" \
  "$p_mean" "$p_med" "$p_min" "$p_max" "1"
printf '  %-48s %8ss %8ss %8ss %8ss %7s×\n' "skopeo inspect per unique reference + sed" \
  "$u_mean" "$u_med" "$u_min" "$u_max" "$ratio_unique"
printf '  %-48s %8ss %9s %9s %9s %7s×\n' "skopeo inspect per reference occurrence + sed" \
  "$e_mean" - - - "$ratio_each"
bench_verdict "$(awk -v r="$ratio_each" 'BEGIN { print (r >= 20) ? 1 : 0 }')"
echo "  ratio against the per-reference loop: ${ratio_each}×; goal ≥ 20×: $VERDICT" \
  "(against the per-unique-reference loop: ${ratio_unique}×)"

bench_result pin_plinth_mean_s "$p_mean"
bench_result pin_skopeo_unique_mean_s "$u_mean"
bench_result pin_skopeo_each_s "$e_mean"
bench_result pin_ratio "$ratio_each"
bench_result pin_ratio_unique "$ratio_unique"
bench_exit
