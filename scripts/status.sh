#!/usr/bin/env bash
# `just status`: what runs — Postgres, Redis, NATS, and each service (pid, /health/ready).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TARGET_DIR="${CARGO_TARGET_DIR:-$PAYMSA_ROOT/target}"

"$PAYMSA_ROOT/scripts/infra.sh" status
"$PAYMSA_ROOT/scripts/nats.sh" status
echo
printf '%-24s %-8s %-10s %-24s %s\n' service pid ready URL docs
for svc in "${SERVICES[@]}"; do
  port=${SERVICE_PORT[$svc]} url="http://127.0.0.1:${SERVICE_PORT[$svc]}"
  if pid="$(pid_of "$svc" "$TARGET_DIR/debug/$svc")"; then
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url/health/ready" || true)"
    [[ "$code" == 200 ]] && ready=yes || ready="no ($code)"
  else
    pid=- ready=-
    port_in_use "$port" && ready="port $port taken by another process"
  fi
  printf '%-24s %-8s %-10s %-24s %s\n' "$svc" "$pid" "$ready" "$url" "$url/docs"
done
