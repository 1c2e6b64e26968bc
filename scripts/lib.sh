# shellcheck shell=bash
# Shared helpers for plinth's test-environment scripts. Source it; do not run it.
#
#   PLINTH_TEST_STATE   state dir of the registries (default /tmp/plinth-test-env)
#   PLINTH_QUIET=1      less chatter on stderr

PLINTH_SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PLINTH_REPO_DIR=$(cd "$PLINTH_SCRIPTS_DIR/.." && pwd)
export PLINTH_REPO_DIR
PLINTH_TEST_STATE=${PLINTH_TEST_STATE:-/tmp/plinth-test-env}
export PLINTH_TEST_STATE

plinth_log() {
  [ "${PLINTH_QUIET:-0}" = 1 ] || printf '%s\n' "[plinth-env] $*" >&2
}

plinth_die() {
  printf '%s\n' "[plinth-env] error: $*" >&2
  exit 1
}

# plinth_python: the interpreter for our helper scripts. Debian's python3 first, so the
# scripts do not depend on whatever pyenv or a venv put first on PATH.
plinth_python() {
  if [ -x /usr/bin/python3 ]; then
    printf '%s\n' /usr/bin/python3
  elif command -v python3 >/dev/null 2>&1; then
    command -v python3
  else
    plinth_die "python3 not found (apt-get install python3)"
  fi
}

# ensure_packages PKG...: install the Debian packages that are not installed yet.
# Fast (one dpkg-query) when everything is present; quiet; non-interactive.
ensure_packages() {
  local missing=() pkg status
  for pkg in "$@"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || plinth_die "need root to install: ${missing[*]}"
  plinth_log "installing ${missing[*]}"
  local log
  log=$(mktemp /tmp/plinth-apt.XXXXXX)
  export DEBIAN_FRONTEND=noninteractive
  # Lists may be missing or stale on a fresh machine: update once, then install.
  if ! apt-get -qq -o DPkg::Lock::Timeout=300 update >"$log" 2>&1; then
    cat "$log" >&2
    plinth_die "apt-get update failed"
  fi
  if ! apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 \
      -o Dpkg::Use-Pty=0 "${missing[@]}" >>"$log" 2>&1; then
    tail -n 40 "$log" >&2
    plinth_die "apt-get install ${missing[*]} failed (log: $log)"
  fi
  rm -f "$log"
}

# http_code URL [curl args...]: the HTTP status of a GET, or 000 when nothing answers.
http_code() {
  local url=$1
  shift
  curl -s -o /dev/null -w '%{http_code}' --connect-timeout 1 --max-time 3 "$@" "$url" || true
}

# pid_alive PIDFILE PATTERN: the pid in PIDFILE runs and its command line contains PATTERN.
pid_alive() {
  local pidfile=$1 pattern=$2 pid
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile" 2>/dev/null || true)
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$pattern"
}

# port_listener PORT: describe the process listening on 127.0.0.1:PORT (empty if none).
port_listener() {
  { ss -Hltnp "sport = :$1" 2>/dev/null || true; } | sed -n 's/.*users:((\(.*\)))/\1/p' | head -n 1
}

# write_if_changed FILE: stdin → FILE, atomically; returns 0 if FILE changed, 1 if not.
write_if_changed() {
  local file=$1 tmp
  tmp=$(mktemp "$file.tmp.XXXXXX")
  cat >"$tmp"
  if [ -f "$file" ] && cmp -s "$tmp" "$file"; then
    rm -f "$tmp"
    return 1
  fi
  mv -f "$tmp" "$file"
  return 0
}
