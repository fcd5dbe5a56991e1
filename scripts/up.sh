#!/usr/bin/env bash
# `just up`: the whole system on this machine.
#   Postgres + Redis (reused or started), `cargo build --bins`, a NATS >= 2.11 with JetStream
#   (reused or started: `paymsa-ops nats ensure`), the 9 binaries in the background (logs
#   .run/logs, pids .run/pids), wait for /health/ready, `just seed`, print the URLs.
# Re-running it while the stack runs starts nothing twice; a service whose binary was rebuilt
# since it started is restarted.
#
# Environment: READY_TIMEOUT (s, default 60), RUST_LOG (default info), LOG_FORMAT (default
# pretty), ADMIN_TOKEN (default "paymsa-local-admin", a development token: the services take it
# because this script starts them with APP_ENV=dev; compose/k8s refuse it), NATS_URL (an
# existing server to reuse),
# AUTH_MODE (default open; jwt verifies tokens from `just token`, see docs/identity.md),
# NATS_AUTH (default 1: a NATS user per service, docs/identity.md "The bus"; 0 runs NATS open).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PAYMSA_ROOT"
SCRIPTS="$PAYMSA_ROOT/scripts"
READY_TIMEOUT="${READY_TIMEOUT:-60}"
TARGET_DIR="${CARGO_TARGET_DIR:-$PAYMSA_ROOT/target}"
ADMIN_TOKEN="${ADMIN_TOKEN:-paymsa-local-admin}"

"$SCRIPTS/infra.sh" ensure

info "building: cargo build --bins"
cargo_env
cargo build --bins

# The bus with one user per service (deploy/nats/auth.conf; NATS_AUTH=0 runs it open), through
# the paymsa-ops just built (scripts/nats.sh would build it again for `-p paymsa-ops` alone,
# whose dependencies' features differ from the whole workspace's).
nats() { PAYMSA_ROOT="$PAYMSA_ROOT" "$OPS_BIN" nats "$@"; }
nats_url="$(NATS_AUTH="${NATS_AUTH:-1}" nats ensure)"
nats_secrets="$(nats secrets 2>/dev/null)" || nats_secrets=""
# The dev identity provider's key pair, made once (docs/identity.md; `just token member 7`).
"$TARGET_DIR/debug/devtoken" keygen "$PAYMSA_ROOT/.run/dev-jwt"

# start_service NAME -> prints nothing; starts NAME unless it already runs the current binary.
start_service() {
  local svc=$1 port=${SERVICE_PORT[$1]} db=${SERVICE_DB[$1]} bin="$TARGET_DIR/debug/$1" pid log
  log="$LOG_DIR/$svc.log"
  [[ -x "$bin" ]] || die "cargo build produced no $bin (services/$svc must build a binary named $svc)"
  # The auth mode a running service was started with (psp-sandbox has none): asking for the
  # other one restarts it, so `AUTH_MODE=jwt just up` switches a running stack (just fuzz does).
  local mode="${AUTH_MODE:-open}" started_mode
  [[ "$svc" == psp-sandbox ]] && mode=open
  started_mode="$(cat "$PID_DIR/$svc.auth-mode" 2>/dev/null || echo open)"
  if pid="$(pid_of "$svc" "$bin")"; then
    if [[ "$bin" -nt "$PID_DIR/$svc.pid" ]]; then
      info "$svc: binary rebuilt since it started; restarting"
      stop_pids "$SERVICE_STOP_GRACE" "$svc=$pid"
    elif [[ "$started_mode" != "$mode" ]]; then
      info "$svc: AUTH_MODE $started_mode → $mode; restarting"
      stop_pids "$SERVICE_STOP_GRACE" "$svc=$pid"
    else
      ok "$svc already running (pid $pid)"
      return 0
    fi
  elif [[ -f "$PID_DIR/$svc.pid" ]]; then
    warn "$svc had exited (last lines of ${log#"$PAYMSA_ROOT"/} follow); starting it again"
    tail -n 5 "$log" 2>/dev/null | sed 's/^/    /' >&2 || true
  fi
  rm -f "$PID_DIR/$svc.pid"
  if port_in_use "$port"; then
    die "$svc: port $port is taken by another process (see: ss -ltnp 'sport = :$port')"
  fi
  mkdir -p "$LOG_DIR"
  [[ -f "$log" ]] && mv -f "$log" "$log.prev"
  local env=(
    HOST=127.0.0.1 PORT="$port" NATS_URL="$nats_url" REDIS_URL="$REDIS_URL_LOCAL"
    SNOWFLAKE_NODE_ID="${SERVICE_NODE_ID[$svc]}" ADMIN_TOKEN="$ADMIN_TOKEN"
    # the development secrets above (and the PSP sandbox's test_sk_ keys) are accepted only
    # with APP_ENV=dev (libs/service-kit/src/secrets.rs); compose.yaml and k8s never set it
    APP_ENV=dev
    AUTH_MODE="${AUTH_MODE:-open}" JWKS_FILE="$PAYMSA_ROOT/.run/dev-jwt/jwks.json"
    RUST_LOG="${RUST_LOG:-info}" LOG_FORMAT="${LOG_FORMAT:-pretty}"
    # 9 services × 4 connections: the local stack and a `just test` beside it fit in
    # Postgres' default max_connections (100); `just bench e2e` sizes its own stack.
    DB_MAX_CONNECTIONS="${DB_MAX_CONNECTIONS:-4}"
    # nine services on one machine: one async worker each (docs/configuration.md)
    WORKER_THREADS="${WORKER_THREADS:-1}"
    # wallet-service's hold before a sale's net is available (docs/ledger.md): seconds, so the
    # demo shows pending money becoming available; production keeps the 2d default.
    SETTLEMENT_HOLD="${SETTLEMENT_HOLD:-10s}"
  )
  # The sandbox tells order-service of payment and cancel changes and wallet-service of payouts
  # (POST /webhooks/toss on both; each ignores the other's events).
  [[ "$svc" == psp-sandbox ]] &&
    env+=(SANDBOX_WEBHOOK_URLS="${SANDBOX_WEBHOOK_URLS:-http://127.0.0.1:${SERVICE_PORT[order-service]}/webhooks/toss,http://127.0.0.1:${SERVICE_PORT[wallet-service]}/webhooks/toss}")
  [[ "$db" != - ]] && env+=(DATABASE_URL="$PG_BASE_URL/$db")
  # Its own NATS user when the server has them (the psp-sandbox has none: no NATS).
  if [[ -n "$nats_secrets" ]]; then
    local var password
    var="NATS_PASSWORD_$(tr 'a-z-' 'A-Z_' <<<"$svc")"
    password="$(sed -n "s/^$var=//p" "$nats_secrets")"
    [[ -n "$password" ]] && env+=(NATS_USER="$svc" NATS_PASSWORD="$password")
  fi
  # Service-specific variables (order-service's PSP_URL, CATALOG_URL, …) default to the local
  # ports above, so they are not set here; set them in your shell to override.
  start_bg "$svc" "$log" env "${env[@]}" "$bin"
  printf '%s\n' "$mode" >"$PID_DIR/$svc.auth-mode"
  info "$svc started (pid $(<"$PID_DIR/$svc.pid"), port $port)"
}

for svc in "${SERVICES[@]}"; do
  start_service "$svc"
done

# Wait for every service's /health/ready (they start in parallel). One that exits is noted and
# the others are still waited for, so a failed start reports every failing service at once.
info "waiting for /health/ready (up to ${READY_TIMEOUT}s)"
declare -A pending=()
for svc in "${SERVICES[@]}"; do pending[$svc]=1; done
exited=()
deadline=$((SECONDS + READY_TIMEOUT))
while ((${#pending[@]} > 0 && SECONDS < deadline)); do
  for svc in "${!pending[@]}"; do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:${SERVICE_PORT[$svc]}/health/ready" || true)"
    if [[ "$code" == 200 ]]; then
      ok "$svc ready"
      unset "pending[$svc]"
    elif ! pid_of "$svc" "$TARGET_DIR/debug/$svc" >/dev/null; then
      warn "$svc exited"
      exited+=("$svc")
      unset "pending[$svc]"
    fi
  done
  ((${#pending[@]} > 0)) && sleep 0.5
done
if ((${#exited[@]} > 0 || ${#pending[@]} > 0)); then
  for svc in "${exited[@]}" "${!pending[@]}"; do
    printf '\n%s--- last 30 lines of .run/logs/%s.log ---%s\n' "$_c_bold" "$svc" "$_c_off" >&2
    tail -n 30 "$LOG_DIR/$svc.log" >&2 || true
  done
  for svc in "${!pending[@]}"; do
    body="$(curl -s --max-time 2 "http://127.0.0.1:${SERVICE_PORT[$svc]}/health/ready" || true)"
    [[ -n "$body" ]] && printf '%s /health/ready answers: %s\n' "$svc" "$body" >&2
  done
  echo >&2
  ((${#exited[@]} > 0)) && warn "exited during start: ${exited[*]}"
  ((${#pending[@]} > 0)) && warn "not ready after ${READY_TIMEOUT}s: ${!pending[*]}"
  die "the stack is not up. Fix and re-run \`just up\` (it keeps what runs), or \`just down\`."
fi

"$SCRIPTS/seed.sh"

monitor="$(cat "$RUN_DIR/nats.monitor" 2>/dev/null || echo "-")"
{
  echo
  printf '%s%-24s %-24s %s%s\n' "$_c_bold" "service" "URL" "API docs" "$_c_off"
  for svc in "${SERVICES[@]}"; do
    printf '%-24s %-24s %s\n' "$svc" "http://127.0.0.1:${SERVICE_PORT[$svc]}" "http://127.0.0.1:${SERVICE_PORT[$svc]}/docs"
  done
  echo
  printf '%-24s %s\n' "NATS" "$nats_url" "NATS monitoring" "$monitor" \
    "Postgres" "$PG_BASE_URL" "Redis" "$REDIS_URL_LOCAL"
  echo
  # the token is no secret (the repository publishes the default), so it is named as what it is
  echo "APP_ENV=dev: development secrets, refused without APP_ENV=dev (docs/operations.md, \"Secrets\");"
  echo "dev admin token: \$ADMIN_TOKEN (scripts/demo.sh and scripts/ops.sh send it)"
  echo "logs: just logs <service>   status: just status   stop: just down"
}
