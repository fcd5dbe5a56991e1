#!/usr/bin/env bash
# `just down`: stop exactly what `just up` started — the services (SIGTERM, SIGKILL after 10 s)
# and the nats-server of .run — and the Prometheus of `just observe`, and remove their pid
# files. Postgres and Redis are left alone.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TARGET_DIR="${CARGO_TARGET_DIR:-$PAYMSA_ROOT/target}"

running=()
for svc in "${SERVICES[@]}"; do
  if pid="$(pid_of "$svc" "$TARGET_DIR/debug/$svc")"; then
    running+=("$svc=$pid")
  elif [[ -f "$PID_DIR/$svc.pid" ]]; then
    dim "  $svc: not running (stale pid file removed)"
  fi
done
if ((${#running[@]} > 0)); then
  info "stopping ${#running[@]} service(s)"
  # the services drain for up to SHUTDOWN_TIMEOUT_SECS (10 s by default): SIGKILL only after it
  stop_pids "$SERVICE_STOP_GRACE" "${running[@]}"
else
  dim "  no services of ours running"
fi
for svc in "${SERVICES[@]}"; do rm -f "$PID_DIR/$svc.pid"; done

# The Prometheus of `just observe`.
[[ -f "$PID_DIR/prometheus.pid" ]] && "$PAYMSA_ROOT/scripts/observe.sh" stop
# Services first, so they shut down with NATS still there.
"$PAYMSA_ROOT/scripts/nats.sh" stop
# A test server left behind by an interrupted `just test`.
[[ -f "$PID_DIR/test-nats.pid" ]] && NATS_INSTANCE=test-nats "$PAYMSA_ROOT/scripts/nats.sh" stop
ok "stack stopped (Postgres and Redis keep running)"
