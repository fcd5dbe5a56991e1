#!/usr/bin/env bash
# The NATS server of the local stack and the tests: builds tools/paymsa-ops and hands over to
# `paymsa-ops nats ensure|stop|url|status|admin-url|secrets|compose-env`
# (tools/paymsa-ops/src/nats/mod.rs says what each does and which variables it reads:
# NATS_INSTANCE, NATS_URL, NATS_AUTH, NATS_FRESH, NATS_PORT, NATS_MONITOR_PORT, NATS_SERVER_BIN,
# NATS_SYNC_INTERVAL). Only the URL goes to stdout: `url="$(scripts/nats.sh ensure)"`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
ensure | stop | url | status | admin-url | secrets | compose-env) ;;
*)
  echo "usage: $0 ensure|stop|url|status|admin-url|secrets|compose-env" >&2
  exit 2
  ;;
esac
ops_build >&2 # (cargo's messages on stderr: stdout is the URL)
PAYMSA_ROOT="$PAYMSA_ROOT" exec "$OPS_BIN" nats "$1"
