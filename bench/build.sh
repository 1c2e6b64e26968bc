#!/usr/bin/env bash
# bench/build.sh — `plinth build` vs `buildah bud` + `buildah push`, to the local registry.
#
# Two scenarios, the same inputs for both tools, every run pushing to a fresh repository of
# 127.0.0.1:5000 (so each is a first push; the base layer may be mounted by both):
#
#   scratch  FROM scratch + one 20 MB static binary (a static hello with 20 MB of real machine
#            code appended: compresses like a binary), ENTRYPOINT.
#   debian   FROM 127.0.0.1:5000/library/debian:bookworm-slim + a 50 MB tree of 5,000 small
#            files in 50 directories, WORKDIR, CMD.
#
# Each run changes a few bytes of the inputs, so neither tool can skip compressing or pushing
# its layer through a cache (buildah's blob-info cache would otherwise find its earlier push).
# plinth runs `plinth build --from … --add SRC:DEST …` with an empty --cache-dir. buildah
# runs `buildah bud` (vfs storage, chroot isolation; its storage keeps the base image, pulled in
# the untimed warm-up, so buildah's time does NOT include pulling it) then `buildah push`. The
# two alternate run by run. Then a second plinth build of unchanged inputs to the same
# repository must upload nothing (`--json` → "uploaded": 0).
#
# Goal (issue 5, "Speed"): plinth ≤ 1/3 of buildah's time in both (ratio ≥ 3×).
#
#   BENCH_BUILD_RUNS         timed runs of each tool per scenario (default 3)
#   BENCH_BUILD_COMPRESSION  plinth's layer compression, gzip (default) or zstd (buildah
#                            pushes gzip either way)
#   see bench/lib.sh for PLINTH_BIN, CARGO_TARGET_DIR, BENCH_STRICT, BENCH_WORK
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

RUNS=$(bench_runs BENCH_BUILD_RUNS 3)

bench_tools
command -v buildah >/dev/null 2>&1 || bench_need_packages buildah
command -v gcc >/dev/null 2>&1 || bench_need_packages gcc libc6-dev
bench_env
bench_plinth
bench_workdir

COMP=${BENCH_BUILD_COMPRESSION:-gzip}
REG=$PLINTH_TEST_REGISTRY
BASE=$REG/library/debian:bookworm-slim
BUILDAH=(buildah --root "$WORK/buildah/root" --runroot "$WORK/buildah/run" --storage-driver vfs)
STAMP=$(date +%s)

# ---------------------------------------------------------------- inputs ------------------
mkdir -p "$WORK/scratch" "$WORK/debian" "$WORK/times"
printf '#include <stdio.h>\nint main(void){puts("hello");return 0;}\n' >"$WORK/hello.c"
gcc -static -O2 -o "$WORK/hello" "$WORK/hello.c"
# 20 MB: the static hello, then real machine code from /usr (still a static ELF).
python3 - "$WORK/hello" "$WORK/scratch/app" <<'PY'
import os, sys
out = open(sys.argv[2], "wb")
out.write(open(sys.argv[1], "rb").read())
need = 20 * 1024 * 1024 - out.tell()
for d in ("/usr/bin", "/usr/lib/x86_64-linux-gnu", "/usr/libexec"):
    for root, _, files in sorted(os.walk(d)):
        for f in sorted(files):
            p = os.path.join(root, f)
            if need <= 0 or os.path.islink(p) or not os.path.isfile(p):
                continue
            data = open(p, "rb").read(need)
            out.write(data)
            need -= len(data)
if need > 0:
    out.write(os.urandom(need))
out.close()
os.chmod(sys.argv[2], 0o755)
PY
cat >"$WORK/scratch/Dockerfile" <<'EOF'
FROM scratch
COPY app /app
ENTRYPOINT ["/app"]
EOF
# 50 MB of small files: 50 directories × 100 files × ~10 KB of text.
python3 - "$WORK/debian/tree" <<'PY'
import os, random, sys
rnd = random.Random(5)
words = [("".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 9))))
         for _ in range(5000)]
for d in range(50):
    dd = os.path.join(sys.argv[1], f"pkg{d:02}")
    os.makedirs(dd, exist_ok=True)
    for f in range(100):
        text = []
        size = 0
        while size < 10 * 1024:
            w = rnd.choice(words)
            text.append(w)
            size += len(w) + 1
        open(os.path.join(dd, f"file{f:03}.txt"), "w").write(" ".join(text))
PY
cat >"$WORK/debian/Dockerfile" <<EOF
FROM $BASE
COPY tree /srv/tree
WORKDIR /srv
CMD ["/bin/sh", "-c", "ls /srv/tree | wc -l"]
EOF
bench_log "inputs: $(du -sh "$WORK/scratch/app" | cut -f1) binary, $(du -sh "$WORK/debian/tree" | cut -f1) tree ($(find "$WORK/debian/tree" -type f | wc -l) files)"

# ---------------------------------------------------------------- runners -----------------
plinth_builder() { # SCENARIO DEST
  local s=$1 dest=$2
  rm -rf "$WORK/cache"
  mkdir -p "$WORK/cache"
  case $s in
    scratch) "$PLINTH" --quiet build --cache-dir "$WORK/cache" --compression "$COMP" --from scratch \
               --add "$WORK/scratch/app:/app" --entrypoint /app -t "$dest" ;;
    debian) "$PLINTH" --quiet build --cache-dir "$WORK/cache" --compression "$COMP" --from "$BASE" \
               --add "$WORK/debian/tree:/srv/tree" --workdir /srv \
               --cmd '["/bin/sh", "-c", "ls /srv/tree | wc -l"]' -t "$dest" ;;
  esac
}

buildah_build() { # SCENARIO DEST
  local s=$1 dest=$2
  "${BUILDAH[@]}" bud --quiet --isolation chroot --tls-verify=false \
    -t "localhost/bench-$s" "$WORK/$s" >/dev/null
  "${BUILDAH[@]}" push --quiet --tls-verify=false "localhost/bench-$s" "docker://$dest"
}

layers_size() { # REF: the summed compressed size of the image's layers
  "$PLINTH" manifest "$1" |
    python3 -c 'import json,sys; print(sum(l["size"] for l in json.load(sys.stdin)["layers"]))'
}

timed() { # OUT FN ARGS...
  local out=$1
  shift
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>"$out.err" || { cat "$out.err" >&2; bench_die "failed: $*"; }
  t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }' >"$out"
}

bench_log "warm-up (buildah pulls the base into its storage; untimed) — $(bench_load)"
buildah_build scratch "$REG/bench/build-warm:buildah-scratch-$STAMP"
buildah_build debian "$REG/bench/build-warm:buildah-debian-$STAMP"
plinth_builder scratch "$REG/bench/build-warm:plinth-scratch-$STAMP"
plinth_builder debian "$REG/bench/build-warm:plinth-debian-$STAMP"

# new_inputs N: makes this run's inputs new to both tools (and to the registry), so neither
# reuses a blob it compressed or pushed before: the binary's last 8 bytes and a stamp file in
# the tree carry the run's id.
new_inputs() {
  local id=$(((STAMP * 1000 + $1) % 100000000))
  printf '%08d' "$id" |
    dd of="$WORK/scratch/app" bs=1 seek=$((20 * 1024 * 1024 - 8)) conv=notrunc status=none
  printf '%s\n' "$id" >"$WORK/debian/tree/stamp.txt"
}

for s in scratch debian; do
  for i in $(seq 1 "$RUNS"); do
    if [ "$s" = scratch ]; then new_inputs "$i"; else new_inputs $((500 + i)); fi
    if [ $((i % 2)) = 1 ]; then order="plinth buildah"; else order="buildah plinth"; fi
    for tool in $order; do
      timed "$WORK/times/$s.$tool.$i" "${tool}_build" "$s" \
        "$REG/bench/build-$s-$tool-$STAMP-$i:1"
    done
  done
  read -r pm pmed pmin pmax < <(bench_stats "$WORK"/times/"$s".plinth.[0-9]*)
  read -r bm bmed bmin bmax < <(bench_stats "$WORK"/times/"$s".buildah.[0-9]*)
  ratio=$(awk -v a="$bm" -v b="$pm" 'BEGIN { printf "%.1f", a / b }')
  bench_verdict "$(awk -v r="$ratio" 'BEGIN { print (r >= 3) ? 1 : 0 }')"
  # Second build of unchanged inputs (the last run's) to the same repository, keeping that
  # run's cache dir: nothing uploaded, the layer comes from the layer cache (not compressed).
  dest="$REG/bench/build-$s-plinth-$STAMP-$RUNS:1"
  t0=$(date +%s%N)
  case $s in
    scratch) second=$("$PLINTH" build --json --cache-dir "$WORK/cache" --compression "$COMP" --from scratch \
               --add "$WORK/scratch/app:/app" --entrypoint /app -t "$dest") ;;
    debian) second=$("$PLINTH" build --json --cache-dir "$WORK/cache" --compression "$COMP" --from "$BASE" \
               --add "$WORK/debian/tree:/srv/tree" --workdir /srv \
               --cmd '["/bin/sh", "-c", "ls /srv/tree | wc -l"]' -t "$dest") ;;
  esac
  t1=$(date +%s%N)
  second_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  read -r uploaded cached < <(printf '%s' "$second" |
    python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["uploaded"], j["cached_layers"])')
  [ "$uploaded" = 0 ] || { VERDICT=MISSED; BENCH_MISSED=1; }
  # Compressed size of the layers each tool pushed in the last run.
  psize=$(layers_size "$REG/bench/build-$s-plinth-$STAMP-$RUNS:1")
  bsize=$(layers_size "$REG/bench/build-$s-buildah-$STAMP-$RUNS:1")
  printf '%-8s plinth %ss (median %s, min %s, max %s)  buildah %ss (median %s, min %s, max %s)  ratio %s×  goal ≥3×: %s\n' \
    "$s" "$pm" "$pmed" "$pmin" "$pmax" "$bm" "$bmed" "$bmin" "$bmax" "$ratio" "$VERDICT"
  printf '%-8s compressed layers: plinth %s bytes, buildah %s bytes (debian: both include the same base layer)\n' "" "$psize" "$bsize"
  printf '%-8s second build of unchanged inputs: %ss, uploaded %s blobs (goal 0), %s layers from the layer cache\n' \
    "" "$second_s" "$uploaded" "$cached"
  bench_result "build_${s}_plinth_s" "$pm"
  bench_result "build_${s}_buildah_s" "$bm"
  bench_result "build_${s}_ratio" "$ratio"
  bench_result "build_${s}_second_uploaded" "$uploaded"
  bench_result "build_${s}_second_s" "$second_s"
  bench_result "build_${s}_plinth_layer_bytes" "$psize"
  bench_result "build_${s}_buildah_layer_bytes" "$bsize"
done
bench_log "done — $(bench_load)"
bench_exit
