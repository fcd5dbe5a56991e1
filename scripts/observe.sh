#!/usr/bin/env bash
# `just observe`: Prometheus with paymsa's alert rules (deploy/prometheus/rules.yml) scraping the
# services of `just up`'s stack; prints its URL. `just down` (or `scripts/observe.sh stop`)
# stops it. Uses the Debian `prometheus` binary (apt-get install prometheus; installed here when
# run as root on Debian), or PROMETHEUS_BIN. Port from PROMETHEUS_PORT (default 9090, first free).
#
#   scripts/observe.sh [start]   start (or reuse) and print the URL
#   scripts/observe.sh stop      stop the Prometheus this script started
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STATE_DIR="$RUN_DIR/observe"
MARKER="--storage.tsdb.path=$STATE_DIR/data"
URL_FILE="$RUN_DIR/observe.url"
RULES="$PAYMSA_ROOT/deploy/prometheus/rules.yml"

find_prometheus() {
  if [[ -n "${PROMETHEUS_BIN:-}" ]]; then printf '%s\n' "$PROMETHEUS_BIN"; return 0; fi
  command -v prometheus && return 0
  if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
    info "installing Debian's prometheus (apt-get install prometheus)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1; } ||
      die "apt-get install prometheus failed"
    command -v prometheus && return 0
  fi
  die "no prometheus binary: apt-get install prometheus (Debian/Ubuntu), or set PROMETHEUS_BIN"
}

# The scrape configuration of deploy/prometheus/prometheus.yml with the local stack's targets.
write_config() {
  local svc
  mkdir -p "$STATE_DIR/data"
  {
    printf '# written by scripts/observe.sh for just up'"'"'s stack (deploy/prometheus/prometheus.yml for compose)\n'
    printf 'global: {scrape_interval: 5s, evaluation_interval: 5s}\n'
    printf 'rule_files: ["%s"]\n' "$RULES"
    printf 'scrape_configs:\n  - job_name: paymsa\n    honor_labels: true\n    static_configs:\n'
    for svc in "${SERVICES[@]}"; do
      printf '      - targets: ["127.0.0.1:%s"]\n        labels: {service: %s}\n' "${SERVICE_PORT[$svc]}" "$svc"
    done
  } >"$STATE_DIR/prometheus.yml"
}

cmd_start() {
  local pid url bin port
  if pid="$(pid_of prometheus "$MARKER")" && [[ -f "$URL_FILE" ]]; then
    url="$(<"$URL_FILE")"
    ok "prometheus already running on $url (pid $pid)"
    printf '%s\n' "$url"
    return 0
  fi
  bin="$(find_prometheus)"
  write_config
  if command -v promtool >/dev/null; then
    promtool check config "$STATE_DIR/prometheus.yml" >"$STATE_DIR/promtool.log" 2>&1 ||
      { cat "$STATE_DIR/promtool.log" >&2; die "the generated configuration is invalid"; }
  fi
  port=${PROMETHEUS_PORT:-9090}
  while port_in_use "$port"; do port=$((port + 1)); done
  url="http://127.0.0.1:$port"
  info "starting $bin on $url (rules: ${RULES#"$PAYMSA_ROOT"/})"
  start_bg prometheus "$STATE_DIR/prometheus.log" "$bin" --config.file="$STATE_DIR/prometheus.yml" \
    "$MARKER" --web.listen-address="127.0.0.1:$port" --storage.tsdb.retention.time=2d
  pid="$(<"$PID_DIR/prometheus.pid")"
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$STATE_DIR/prometheus.log" >&2; die "prometheus exited"; }
    if curl -fsS --max-time 1 "$url/-/ready" >/dev/null 2>&1; then
      printf '%s\n' "$url" >"$URL_FILE"
      ok "prometheus ready: $url (alerts: $url/alerts, targets: $url/targets; log ${STATE_DIR#"$PAYMSA_ROOT"/}/prometheus.log)"
      printf '%s\n' "$url"
      return 0
    fi
    sleep 0.2
  done
  die "prometheus did not become ready within 20 s (log: $STATE_DIR/prometheus.log)"
}

cmd_stop() {
  local pid
  if pid="$(pid_of prometheus "$MARKER")"; then
    info "stopping prometheus (pid $pid)"
    stop_pids 10 "prometheus=$pid"
  fi
  rm -f "$PID_DIR/prometheus.pid" "$URL_FILE"
}

case "${1:-start}" in
start) cmd_start ;;
stop) cmd_stop ;;
*) echo "usage: $0 [start|stop]" >&2; exit 2 ;;
esac
