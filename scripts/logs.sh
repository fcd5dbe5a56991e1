#!/usr/bin/env bash
# `just logs SERVICE`: follow a service's log from `just up` (.run/logs/SERVICE.log).
# SERVICE may be short ("order" for order-service) or "nats". LOG_LINES sets how much history (default 100).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

name="${1:-}"
[[ -n "$name" ]] || die "usage: just logs <service>   (${SERVICES[*]} nats)"
if [[ "$name" == nats ]]; then
  file="$RUN_DIR/nats/nats.log"
else
  match=""
  for svc in "${SERVICES[@]}"; do
    [[ "$svc" == "$name" || "$svc" == "$name-service" ]] && match=$svc
  done
  [[ -n "$match" ]] || die "unknown service '$name' (have: ${SERVICES[*]} nats)"
  file="$LOG_DIR/$match.log"
fi
[[ -f "$file" ]] || die "no log yet at ${file#"$PAYMSA_ROOT"/} — start the stack: just up"
if [[ -t 1 ]]; then
  exec tail -n "${LOG_LINES:-100}" -F "$file"
else
  exec tail -n "${LOG_LINES:-100}" "$file"
fi
