#!/usr/bin/env bash
# test-images.sh — real base images for plinth's tests, built from Debian packages.
#
# mmdebstrap (bookworm, deb.debian.org) builds rootfs trees; umoci turns them into OCI
# images with real diff layers (unpack → rsync the next rootfs over → repack); a little
# python writes the multi-platform index and the tiny fake-arch images; skopeo pushes
# everything to the registries of scripts/registry-env.sh (started when needed).
#
# Cache: ${PLINTH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/plinth-ci}/images-<12 hex of
# sha256 of this file>/ — a changed recipe rebuilds, an unchanged one is reused; cache dirs
# of other recipes are removed once a build succeeds.
#   rootfs/{minbase,python,buildpack}/   the mmdebstrap trees (ground truth for tests)
#   oci/                                 the OCI layout, refs below
#   debian-bookworm-slim.docker.tar      `docker save`-style archive of debian:bookworm-slim
#
# Pushed (open registry 127.0.0.1:5000 unless noted):
#   library/debian:bookworm-slim     1 layer: minbase            (+ 127.0.0.1:5001, basic auth)
#   library/python:3.11-slim         2 layers: minbase, +python3
#   library/buildpack-deps:bookworm  3 layers: minbase, +python3, +build-essential git curl …
#   library/debian:bookworm          OCI index: linux/amd64 (= bookworm-slim),
#                                    linux/arm64/v8 and linux/arm/v7 (tiny honest fakes)
#   public/hello:1                   1 tiny layer                (+ 127.0.0.1:5002, token auth)
#   private/hello:1                  same image, token registry only (anonymous pull denied)
# Writes ${PLINTH_TEST_STATE:-/tmp/plinth-test-env}/images.env (digests, sizes, paths).
#
#   PLINTH_DEBIAN_MIRROR   default http://deb.debian.org/debian
#   PLINTH_FORCE_PUSH=1    push even when the registry already holds the same digest
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

SELF=$PLINTH_SCRIPTS_DIR/$(basename "${BASH_SOURCE[0]}")
RECIPE=$(sha256sum "$SELF" | cut -c1-12)
CACHE_ROOT=${PLINTH_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/plinth-ci}
CACHE=$CACHE_ROOT/images-$RECIPE
LAYOUT=$CACHE/oci
ROOTFS=$CACHE/rootfs
STATE=$PLINTH_TEST_STATE
MIRROR=${PLINTH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
# Fixed clock for mmdebstrap (reproducible dpkg/apt output) and the fake images.
export SOURCE_DATE_EPOCH=1700000000
PY=$(plinth_python)
SKOPEO=(skopeo --insecure-policy)
CREDS="$(printf '%s:%s' plinth plinth-secret)"
PATH_ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# What gets pushed where: layout-ref|destination|credentials (empty = none)|copy --all?
PUSHES=(
  "debian-bookworm-slim|127.0.0.1:5000/library/debian:bookworm-slim||"
  "python-3.11-slim|127.0.0.1:5000/library/python:3.11-slim||"
  "buildpack-deps-bookworm|127.0.0.1:5000/library/buildpack-deps:bookworm||"
  "debian-bookworm|127.0.0.1:5000/library/debian:bookworm||all"
  "hello-1|127.0.0.1:5000/public/hello:1||"
  "debian-bookworm-slim|127.0.0.1:5001/library/debian:bookworm-slim|$CREDS|"
  "hello-1|127.0.0.1:5002/public/hello:1|$CREDS|"
  "hello-1|127.0.0.1:5002/private/hello:1|$CREDS|"
)

# ------------------------------------------------------------------------ rootfs ------
# build_rootfs NAME [mmdebstrap args…]: mmdebstrap into $ROOTFS/NAME (skipped when cached).
# Debs are shared through $CACHE/debs (download once); dpkg runs under eatmydata (the
# chroot's fsyncs made the build 2-3x slower here), which leaves nothing behind.
build_rootfs() {
  local name=$1 dir=$ROOTFS/$1 debs=$CACHE/debs
  shift
  [ -f "$dir.done" ] && return 0
  rm -rf "$dir.tmp" "$dir"
  mkdir -p "$ROOTFS" "$debs"
  # shellcheck disable=SC2016 # $1 is expanded by mmdebstrap's hook shell
  if ! mmdebstrap --variant=minbase --quiet \
      --hook-dir=/usr/share/mmdebstrap/hooks/eatmydata \
      --skip=download/empty --skip=essential/unlink \
      --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
      --setup-hook="sync-in $debs /var/cache/apt/archives/" \
      "$@" "$SUITE" "$dir.tmp" "$MIRROR" >"$ROOTFS/$name.log" 2>&1; then
    tail -n 30 "$ROOTFS/$name.log" >&2
    return 1
  fi
  # Like the images on Docker Hub: empty /dev, no host resolv.conf or hostname.
  find "$dir.tmp/dev" -mindepth 1 -delete
  rm -f "$dir.tmp/etc/resolv.conf" "$dir.tmp/etc/hostname"
  # The upper images clean up dpkg/debconf backups as image builds often do, so their
  # diff layers carry real whiteouts (.wh.status-old, …) of files in the layer below.
  if [ "$name" != minbase ]; then
    rm -f "$dir.tmp"/var/lib/dpkg/*-old "$dir.tmp"/var/cache/debconf/*-old
  fi
  mv "$dir.tmp" "$dir"
  touch "$dir.done"
}

build_all_rootfs() {
  if [ -f "$ROOTFS/minbase.done" ] && [ -f "$ROOTFS/python.done" ] &&
     [ -f "$ROOTFS/buildpack.done" ]; then
    return 0
  fi
  plinth_log "mmdebstrap $SUITE: +build-essential git curl (downloads the debs for all three)"
  build_rootfs buildpack --include=python3,build-essential,git,curl,ca-certificates \
    --customize-hook="sync-out /var/cache/apt/archives $CACHE/debs" ||
    plinth_die "mmdebstrap buildpack failed (log: $ROOTFS/buildpack.log)"
  plinth_log "mmdebstrap $SUITE: minbase and +python3 (in parallel, debs from the cache)"
  local pm pp rc=0
  build_rootfs minbase & pm=$!
  build_rootfs python --include=python3 & pp=$!
  wait "$pm" || { plinth_log "mmdebstrap minbase failed (log: $ROOTFS/minbase.log)"; rc=1; }
  wait "$pp" || { plinth_log "mmdebstrap python failed (log: $ROOTFS/python.log)"; rc=1; }
  return "$rc"
}

# ------------------------------------------------------------------------ layout ------
# layer_over FROM-REF TO-REF ROOTFS-NAME CREATED-BY: a diff layer that turns FROM into
# the rootfs tree (umoci unpack, rsync --delete, umoci repack).
layer_over() {
  local from=$1 to=$2 tree=$ROOTFS/$3 created_by=$4 bundle=$CACHE/bundle
  plinth_log "layer $to = $from + diff to rootfs/$3 (${SECONDS}s)"
  rm -rf "$bundle"
  umoci unpack --image "$LAYOUT.tmp:$from" "$bundle" >/dev/null
  rsync -aHXc --delete --numeric-ids "$tree/" "$bundle/rootfs/"
  umoci repack --image "$LAYOUT.tmp:$to" --history.created_by "$created_by" "$bundle" >/dev/null
  rm -rf "$bundle"
}

layout_digest() { # layout-ref → digest of its descriptor in index.json
  "$PY" - "$1" "$2" <<'PYEOF'
import json, sys
idx = json.load(open(sys.argv[1] + "/index.json"))
for m in idx["manifests"]:
    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == sys.argv[2]:
        print(m["digest"]); break
else:
    sys.exit(f"no ref {sys.argv[2]} in {sys.argv[1]}")
PYEOF
}

build_layout() {
  [ -f "$LAYOUT.done" ] && [ -d "$LAYOUT" ] && return 0
  local L=$LAYOUT.tmp
  rm -rf "$L" "$CACHE/bundle"
  plinth_log "building OCI layout $LAYOUT"
  umoci init --layout "$L"
  umoci new --image "$L:empty"
  umoci config --image "$L:empty" --os linux --architecture amd64 --no-history \
    --config.env "$PATH_ENV"

  # library/debian:bookworm-slim — one layer.
  layer_over empty debian-bookworm-slim minbase \
    "mmdebstrap --variant=minbase $SUITE (plinth test-images.sh)"
  umoci config --image "$L:debian-bookworm-slim" --config.cmd bash \
    --history.created_by '/bin/sh -c #(nop)  CMD ["bash"]'
  local slim_digest
  slim_digest=$(layout_digest "$L" debian-bookworm-slim)

  # library/python:3.11-slim — minbase + python3.
  layer_over debian-bookworm-slim python-3.11-slim python \
    "mmdebstrap --variant=minbase --include=python3 $SUITE (plinth test-images.sh)"
  umoci config --image "$L:python-3.11-slim" --config.env LANG=C.UTF-8 \
    --history.created_by '/bin/sh -c #(nop)  ENV LANG=C.UTF-8'
  umoci config --image "$L:python-3.11-slim" --config.cmd python3 \
    --manifest.annotation org.opencontainers.image.base.name=docker.io/library/debian:bookworm-slim \
    --manifest.annotation "org.opencontainers.image.base.digest=$slim_digest" \
    --history.created_by '/bin/sh -c #(nop)  CMD ["python3"]'
  local python_digest
  python_digest=$(layout_digest "$L" python-3.11-slim)

  # library/buildpack-deps:bookworm — minbase + python3 + toolchain.
  layer_over python-3.11-slim buildpack-deps-bookworm buildpack \
    "mmdebstrap --variant=minbase --include=python3,build-essential,git,curl,ca-certificates $SUITE (plinth test-images.sh)"
  umoci config --image "$L:buildpack-deps-bookworm" --config.cmd bash \
    --clear=manifest.annotations \
    --manifest.annotation org.opencontainers.image.base.name=docker.io/library/python:3.11-slim \
    --manifest.annotation "org.opencontainers.image.base.digest=$python_digest" \
    --history.created_by '/bin/sh -c #(nop)  CMD ["bash"]'

  umoci rm --image "$L:empty"
  umoci gc --layout "$L"

  # Index + fake-arch images + hello: written by hand, deterministic.
  "$PY" - "$L" "$ROOTFS/minbase/usr/lib/os-release" <<'PYEOF'
import gzip, hashlib, io, json, os, sys, tarfile

layout, os_release_path = sys.argv[1], sys.argv[2]
EPOCH = int(os.environ["SOURCE_DATE_EPOCH"])
CREATED = "2023-11-14T22:13:20Z"  # = SOURCE_DATE_EPOCH
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
REF = "org.opencontainers.image.ref.name"

def put_blob(data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = os.path.join(layout, "blobs", "sha256", digest[7:])
    if not os.path.exists(path):
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.rename(path + ".tmp", path)
    return digest

def layer(files):
    """files: [(path, bytes|None for dir, mode)] → (gz bytes, diff_id)"""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data, mode in files:
            ti = tarfile.TarInfo(path)
            ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname, ti.mode = EPOCH, 0, 0, "root", "root", mode
            if data is None:
                ti.type = tarfile.DIRTYPE
                tar.addfile(ti)
            else:
                ti.size = len(data)
                tar.addfile(ti, io.BytesIO(data))
    raw = raw.getvalue()
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0, compresslevel=9) as g:
        g.write(raw)
    return gz.getvalue(), "sha256:" + hashlib.sha256(raw).hexdigest()

def image(files, platform, cmd, created_by, labels=None):
    gz, diff_id = layer(files)
    cfg = {
        "created": CREATED,
        "architecture": platform["architecture"],
        "os": platform["os"],
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": CREATED, "created_by": created_by}],
    }
    if "variant" in platform:
        cfg["variant"] = platform["variant"]
    if cmd:
        cfg["config"]["Cmd"] = cmd
    if labels:
        cfg["config"]["Labels"] = labels
    cfg_bytes = json.dumps(cfg, separators=(",", ":"), sort_keys=True).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": put_blob(cfg_bytes), "size": len(cfg_bytes)},
        "layers": [{"mediaType": OCI_LAYER_GZ, "digest": put_blob(gz), "size": len(gz)}],
    }
    mb = json.dumps(manifest, separators=(",", ":")).encode()
    return {"mediaType": OCI_MANIFEST, "digest": put_blob(mb), "size": len(mb)}

os_release = open(os_release_path, "rb").read()
fake_files = [("etc", None, 0o755), ("etc/os-release", os_release, 0o644)]
arm64 = image(fake_files, {"architecture": "arm64", "os": "linux", "variant": "v8"}, ["bash"],
              "plinth test-images.sh: fake linux/arm64 image (only /etc/os-release)")
armv7 = image(fake_files, {"architecture": "arm", "os": "linux", "variant": "v7"}, ["bash"],
              "plinth test-images.sh: fake linux/arm/v7 image (only /etc/os-release)")
hello = image([("hello.txt", b"hello from plinth's test registry\n", 0o644)],
              {"architecture": "amd64", "os": "linux"}, None,
              "plinth test-images.sh: hello.txt", {"org.opencontainers.image.title": "hello"})

index_path = os.path.join(layout, "index.json")
top = json.load(open(index_path))
slim = next(m for m in top["manifests"] if m.get("annotations", {}).get(REF) == "debian-bookworm-slim")
index = {
    "schemaVersion": 2,
    "mediaType": OCI_INDEX,
    "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": slim["digest"], "size": slim["size"],
         "platform": {"architecture": "amd64", "os": "linux"}},
        dict(arm64, platform={"architecture": "arm64", "os": "linux", "variant": "v8"}),
        dict(armv7, platform={"architecture": "arm", "os": "linux", "variant": "v7"}),
    ],
}
ib = json.dumps(index, separators=(",", ":")).encode()
index_desc = {"mediaType": OCI_INDEX, "digest": put_blob(ib), "size": len(ib)}

new_refs = {"debian-bookworm": index_desc, "debian-bookworm-arm64": arm64,
            "debian-bookworm-armv7": armv7, "hello-1": hello}
top["manifests"] = [m for m in top["manifests"]
                    if m.get("annotations", {}).get(REF) not in new_refs]
for ref, desc in new_refs.items():
    top["manifests"].append(dict(desc, annotations={REF: ref}))
with open(index_path + ".tmp", "w") as f:
    json.dump(top, f, separators=(",", ":"))
os.rename(index_path + ".tmp", index_path)
PYEOF

  # What the tests read: digests, sizes, platforms of every ref.
  describe_layout "$L" >"$CACHE/meta.json.tmp"
  mv "$CACHE/meta.json.tmp" "$CACHE/meta.json"
  rm -rf "$LAYOUT" "$LAYOUT.done"
  mv "$L" "$LAYOUT"
  touch "$LAYOUT.done"
}

# describe_layout DIR: JSON {ref: {digest, mediaType, layers, compressed, uncompressed, …}}
describe_layout() {
  "$PY" - "$1" <<'PYEOF'
import gzip, hashlib, json, os, sys
layout = sys.argv[1]
def blob(d): return os.path.join(layout, "blobs", "sha256", d.split(":", 1)[1])
def load(d): return json.load(open(blob(d)))
unz = {}
def uncompressed(d):
    if d not in unz:
        n = 0
        with gzip.open(blob(d)) as f:
            while True:
                chunk = f.read(1 << 20)
                if not chunk: break
                n += len(chunk)
        unz[d] = n
    return unz[d]
def manifest_info(desc):
    m = load(desc["digest"])
    cfg = load(m["config"]["digest"])
    return {
        "digest": desc["digest"], "mediaType": desc["mediaType"], "size": desc["size"],
        "platform": "/".join(x for x in (cfg.get("os"), cfg.get("architecture"), cfg.get("variant")) if x),
        "layers": len(m["layers"]),
        "compressed": m["config"]["size"] + sum(l["size"] for l in m["layers"]),
        "uncompressed": sum(uncompressed(l["digest"]) for l in m["layers"]),
        "layer_digests": [l["digest"] for l in m["layers"]],
        "config_digest": m["config"]["digest"],
    }
out = {}
for desc in json.load(open(os.path.join(layout, "index.json")))["manifests"]:
    ref = desc.get("annotations", {}).get("org.opencontainers.image.ref.name")
    if desc["mediaType"].endswith("index.v1+json"):
        idx = load(desc["digest"])
        children = [dict(manifest_info(c), platform="/".join(
            x for x in (c["platform"]["os"], c["platform"]["architecture"], c["platform"].get("variant")) if x))
            for c in idx["manifests"]]
        out[ref] = {"digest": desc["digest"], "mediaType": desc["mediaType"], "size": desc["size"],
                    "platform": "index", "manifests": children}
    else:
        out[ref] = manifest_info(desc)
json.dump(out, sys.stdout, indent=1, sort_keys=True)
PYEOF
}

check_sizes() {
  "$PY" - "$CACHE/meta.json" <<'PYEOF'
import json, sys
meta = json.load(open(sys.argv[1]))
bp = meta["buildpack-deps-bookworm"]
assert bp["layers"] == 3, bp
assert bp["uncompressed"] >= 300 * 1000 * 1000, f"buildpack-deps only {bp['uncompressed']} bytes"
assert meta["python-3.11-slim"]["layers"] == 2
assert meta["debian-bookworm-slim"]["layers"] == 1
assert meta["python-3.11-slim"]["layer_digests"][0] == meta["debian-bookworm-slim"]["layer_digests"][0]
assert meta["buildpack-deps-bookworm"]["layer_digests"][:2] == meta["python-3.11-slim"]["layer_digests"]
PYEOF
}

docker_archive() {
  local out=$CACHE/debian-bookworm-slim.docker.tar
  [ -s "$out" ] && return 0
  rm -f "$out.tmp"
  "${SKOPEO[@]}" copy -q "oci:$LAYOUT:debian-bookworm-slim" \
    "docker-archive:$out.tmp:docker.io/library/debian:bookworm-slim" >/dev/null
  mv "$out.tmp" "$out"
}

# ------------------------------------------------------------------------ push --------
# registry_digest DEST CREDS: sha256 of the manifest bytes the registry serves (or empty).
registry_digest() {
  local dest=$1 creds=$2 args=(inspect --raw --tls-verify=false)
  [ -n "$creds" ] && args+=(--creds "$creds")
  # Piped, not captured: $(…) would drop a trailing newline of the manifest bytes.
  local sum
  sum=$("${SKOPEO[@]}" "${args[@]}" "docker://$dest" 2>/dev/null | sha256sum) || return 0
  printf 'sha256:%s\n' "${sum%% *}"
}

push_all() {
  local entry ref dest creds all want have args
  : >"$CACHE/pushed.tsv.tmp"
  for entry in "${PUSHES[@]}"; do
    IFS='|' read -r ref dest creds all <<<"$entry"
    want=$(layout_digest "$LAYOUT" "$ref")
    have=$(registry_digest "$dest" "$creds")
    if [ "$have" != "$want" ] || [ "${PLINTH_FORCE_PUSH:-0}" = 1 ]; then
      plinth_log "push $ref → $dest"
      args=(copy -q --preserve-digests --dest-tls-verify=false)
      [ -n "$creds" ] && args+=(--dest-creds "$creds")
      [ "$all" = all ] && args+=(--all)
      "${SKOPEO[@]}" "${args[@]}" "oci:$LAYOUT:$ref" "docker://$dest" >/dev/null
      have=$(registry_digest "$dest" "$creds")
      [ "$have" = "$want" ] || plinth_die "$dest serves $have, layout has $want"
    fi
    printf '%s\t%s\t%s\n' "$ref" "$dest" "$have" >>"$CACHE/pushed.tsv.tmp"
  done
  mv "$CACHE/pushed.tsv.tmp" "$CACHE/pushed.tsv"
}

# images.env + the table on stdout.
report() {
  "$PY" - "$CACHE/meta.json" "$CACHE/pushed.tsv" "$STATE/images.env" \
    "$CACHE" "$LAYOUT" "$ROOTFS" <<'PYEOF'
import json, os, sys
meta_path, pushed_path, env_path, cache, layout, rootfs = sys.argv[1:]
meta = json.load(open(meta_path))
pushed = [l.rstrip("\n").split("\t") for l in open(pushed_path) if l.strip()]
keys = {"debian-bookworm-slim": "DEBIAN_SLIM", "python-3.11-slim": "PYTHON",
        "buildpack-deps-bookworm": "BUILDPACK", "debian-bookworm": "DEBIAN",
        "hello-1": "HELLO", "debian-bookworm-arm64": "DEBIAN_ARM64",
        "debian-bookworm-armv7": "DEBIAN_ARMV7"}
lines = ["# generated by scripts/test-images.sh; source it (after $PLINTH_TEST_STATE/env)",
         f"export PLINTH_IMAGES_CACHE={cache}",
         f"export PLINTH_LAYOUT_DIR={layout}",
         f"export PLINTH_ROOTFS_DIR={rootfs}",
         f"export PLINTH_DOCKER_ARCHIVE_DEBIAN_SLIM={cache}/debian-bookworm-slim.docker.tar"]
for ref, key in keys.items():
    m = meta[ref]
    lines.append(f"export PLINTH_IMG_{key}_DIGEST={m['digest']}")
    lines.append(f"export PLINTH_IMG_{key}_LAYOUT_REF={ref}")
    if "manifests" in m:  # an index: no layers or size of its own
        continue
    lines.append(f"export PLINTH_IMG_{key}_LAYERS={m['layers']}")
    lines.append(f"export PLINTH_IMG_{key}_SIZE={m['uncompressed']}")
    lines.append(f"export PLINTH_IMG_{key}_COMPRESSED_SIZE={m['compressed']}")
for ref, dest, digest in pushed:
    key = keys[ref]
    host = dest.split("/", 1)[0]
    suffix = {"127.0.0.1:5000": "", "127.0.0.1:5001": "_BASIC", "127.0.0.1:5002": "_TOKEN"}[host]
    if dest.split("/", 1)[1].startswith("private/"):
        key = "PRIVATE_HELLO"
    lines.append(f"export PLINTH_IMG_{key}{suffix}={dest}")
idx = meta["debian-bookworm"]
lines.append(f"export PLINTH_IMG_DEBIAN_INDEX_DIGEST={idx['digest']}")
for child in idx["manifests"]:
    plat = child["platform"].split("/", 1)[1].replace("/", "").upper()  # AMD64, ARM64V8, ARMV7
    lines.append(f"export PLINTH_IMG_DEBIAN_{plat}_DIGEST={child['digest']}")
lines.append("export PLINTH_IMG_DEBIAN_ARM64=127.0.0.1:5000/library/debian@" + meta["debian-bookworm-arm64"]["digest"])
lines.append("export PLINTH_IMG_DEBIAN_ARMV7=127.0.0.1:5000/library/debian@" + meta["debian-bookworm-armv7"]["digest"])
tmp = env_path + ".tmp"
with open(tmp, "w") as f:
    f.write("\n".join(lines) + "\n")
os.rename(tmp, env_path)

def mb(n): return f"{n / 1e6:8.1f} MB"
print(f"{'pushed reference':<52} {'digest':<71} {'layers':>6} {'compressed':>11} {'uncompressed':>12}  platform")
for ref, dest, digest in pushed:
    m = meta[ref]
    if "manifests" in m:
        print(f"{dest:<52} {digest:<71} {'-':>6} {'-':>11} {'-':>12}  index")
    else:
        print(f"{dest:<52} {digest:<71} {m['layers']:>6} {mb(m['compressed']):>11} {mb(m['uncompressed']):>12}  {m['platform']}")
    for c in m.get("manifests", []):
        print(f"{'  ↳ ' + c['platform']:<52} {c['digest']:<71} {c['layers']:>6} {mb(c['compressed']):>11} {mb(c['uncompressed']):>12}")
PYEOF
}

# ------------------------------------------------------------------------ main --------
main() {
  # mmdebstrap's recommends that matter (gpg: signed-by in sources.list, mount: root mode)
  # are named, since apt runs with --no-install-recommends.
  ensure_packages mmdebstrap debian-archive-keyring gpg mount libdpkg-perl arch-test \
    eatmydata umoci skopeo rsync python3 curl ca-certificates util-linux
  mkdir -p "$CACHE_ROOT" "$STATE"
  exec 9>"$CACHE_ROOT/.lock"
  flock 9
  PLINTH_QUIET=1 "$PLINTH_SCRIPTS_DIR/registry-env.sh" start
  mkdir -p "$CACHE"
  build_all_rootfs
  plinth_log "rootfs ready (${SECONDS}s)"
  build_layout
  check_sizes
  docker_archive
  plinth_log "layout ready (${SECONDS}s)"
  # Other recipes' caches are stale now.
  find "$CACHE_ROOT" -mindepth 1 -maxdepth 1 -type d -name 'images-*' ! -name "images-$RECIPE" \
    -exec rm -rf {} +
  push_all
  plinth_log "registries hold every image (${SECONDS}s)"
  report
}

main "$@"
