#!/usr/bin/env bash
# `just console`: the ops console (tools/ops-console, docs/operations.md "Ops console") in the
# foreground on http://127.0.0.1:${CONSOLE_PORT:-8095}, reading the services of `just up`
# (deploy/services.table) and the NATS monitoring endpoint it wrote to .run/nats.monitor.
# The console has no credential of its own: log in with the services' ADMIN_TOKEN (open mode) or
# an admin JWT (`just token admin`, jwt mode).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PAYMSA_ROOT"

monitor="${NATS_MONITOR_URL:-$(cat "$RUN_DIR/nats.monitor" 2>/dev/null || true)}"
if [[ -z "$monitor" ]]; then
  warn "no .run/nats.monitor (written by just up): the streams page will say NATS monitoring is unreachable"
  monitor=http://127.0.0.1:8222
fi
services=()
for svc in "${SERVICES[@]}"; do services+=("$svc=http://127.0.0.1:${SERVICE_PORT[$svc]}"); done
info "ops console on http://127.0.0.1:${CONSOLE_PORT:-8095} — log in with ADMIN_TOKEN (just up: paymsa-local-admin) or an admin JWT (just token admin)"
cargo_env
CONSOLE_SERVICES="$(IFS=,; echo "${services[*]}")" NATS_MONITOR_URL="$monitor" \
  PORT="${CONSOLE_PORT:-8095}" HOST=127.0.0.1 exec cargo run -q -p ops-console
