#!/usr/bin/env bash
# Postgres (127.0.0.1:5432) and Redis (127.0.0.1:6379) for the local stack and the tests.
#
#   scripts/infra.sh ensure   reuse what runs; start an installed but stopped server; else
#                             compose.yaml's postgres and redis as deploy/compose.dev.yaml
#                             relaxes them; else say what to install
#   scripts/infra.sh status   one line each
#
# These servers are shared with the rest of the machine: nothing here stops them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pg_up() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -t 2
  else
    (exec 3<>"/dev/tcp/$PG_HOST/$PG_PORT") 2>/dev/null
  fi
}

redis_up() {
  if command -v redis-cli >/dev/null 2>&1; then
    [[ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]
  else
    local line
    (exec 3<>"/dev/tcp/$REDIS_HOST/$REDIS_PORT" && printf 'PING\r\n' >&3 && IFS= read -r -t 2 line <&3 &&
      [[ "$line" == +PONG* ]]) 2>/dev/null
  fi
}

wait_for() { # NAME CHECK TIMEOUT
  local deadline=$((SECONDS + $3))
  until "$2"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.3
  done
}

pg_version_check() {
  command -v psql >/dev/null 2>&1 || {
    warn "psql not found: \`just seed\` needs it (apt-get install postgresql-client)"
    return 0
  }
  local num
  num="$(psql -X -qtA "$PG_BASE_URL/postgres" -c 'show server_version_num' 2>/dev/null)" || return 0
  if [[ "$num" =~ ^[0-9]+$ ]] && ((num < 150000)); then
    warn "Postgres at $PG_HOST:$PG_PORT is $((num / 10000)); paymsa needs >= 15"
  fi
  # The services vacuum their queue tables themselves, but every other table needs autovacuum
  # (docs/operations.md, "Postgres: queue tables are vacuumed by the services").
  if [[ "$(psql -X -qtA "$PG_BASE_URL/postgres" -c 'show autovacuum' 2>/dev/null)" == off ]]; then
    warn "Postgres at $PG_HOST:$PG_PORT runs with autovacuum off: fine for tests; in production keep it on (docs/operations.md)"
  fi
}

redis_version_check() {
  command -v redis-cli >/dev/null 2>&1 || return 0
  local v
  v="$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" info server 2>/dev/null | sed -n 's/^redis_version:\([0-9]*\).*/\1/p')"
  if [[ "$v" =~ ^[0-9]+$ ]] && ((v < 7)); then
    warn "Redis at $REDIS_HOST:$REDIS_PORT is $v.x; paymsa needs >= 7"
  fi
}

have_compose() { command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; }

compose_up() { # SERVICES...
  info "starting $* with docker compose"
  # compose.yaml's backends have passwords and ACL users; the local stack connects as postgres
  # without a password and to Redis without a user: deploy/compose.dev.yaml undoes them
  (cd "$PAYMSA_ROOT" && docker compose --env-file deploy/compose.env.example \
    -f compose.yaml -f deploy/compose.dev.yaml up -d --wait "$@") >&2
}

ensure_postgres() {
  if pg_up; then
    ok "Postgres on $PG_HOST:$PG_PORT"
    pg_version_check
    return 0
  fi
  if command -v pg_ctlcluster >/dev/null 2>&1 && [[ -n "$(find /etc/postgresql -mindepth 1 -maxdepth 1 2>/dev/null)" ]]; then
    local version
    version="$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n1)"
    info "Postgres is installed but not answering; starting cluster $version/main"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || warn "pg_ctlcluster $version main start failed"
    wait_for postgres pg_up 30 ||
      die "Postgres $version/main does not answer on $PG_HOST:$PG_PORT (see /var/log/postgresql/)"
    ok "Postgres on $PG_HOST:$PG_PORT (started)"
    pg_version_check
    return 0
  fi
  return 1
}

ensure_redis() {
  if redis_up; then
    ok "Redis on $REDIS_HOST:$REDIS_PORT"
    redis_version_check
    return 0
  fi
  if command -v redis-server >/dev/null 2>&1; then
    info "Redis is installed but not answering; starting redis-server"
    redis-server --daemonize yes --bind "$REDIS_HOST" --port "$REDIS_PORT" --save "" --appendonly no >&2 ||
      die "could not start redis-server"
    wait_for redis redis_up 15 || die "redis-server started but does not answer on $REDIS_HOST:$REDIS_PORT"
    ok "Redis on $REDIS_HOST:$REDIS_PORT (started)"
    redis_version_check
    return 0
  fi
  return 1
}

cmd_ensure() {
  local missing=()
  ensure_postgres || missing+=(postgres)
  ensure_redis || missing+=(redis)
  ((${#missing[@]} == 0)) && return 0
  if have_compose; then
    compose_up "${missing[@]}"
    wait_for postgres pg_up 60 || die "Postgres from docker compose does not answer on $PG_HOST:$PG_PORT"
    wait_for redis redis_up 30 || die "Redis from docker compose does not answer on $REDIS_HOST:$REDIS_PORT"
    ok "${missing[*]} running in docker compose"
    return 0
  fi
  local need=()
  [[ " ${missing[*]} " == *" postgres "* ]] && need+=("PostgreSQL >= 15 on $PG_HOST:$PG_PORT (apt-get install postgresql)")
  [[ " ${missing[*]} " == *" redis "* ]] && need+=("Redis >= 7 on $REDIS_HOST:$REDIS_PORT (apt-get install redis-server)")
  local IFS=';'
  die "not running and not installed: ${need[*]}; or install Docker with the compose plugin and this script runs them from compose.yaml"
}

cmd_status() {
  if pg_up; then echo "postgres: $PG_HOST:$PG_PORT up"; else echo "postgres: $PG_HOST:$PG_PORT DOWN"; fi
  if redis_up; then echo "redis: $REDIS_HOST:$REDIS_PORT up"; else echo "redis: $REDIS_HOST:$REDIS_PORT DOWN"; fi
}

case "${1:-}" in
ensure) cmd_ensure ;;
status) cmd_status ;;
*)
  echo "usage: $0 ensure|status" >&2
  exit 2
  ;;
esac
