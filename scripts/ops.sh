#!/usr/bin/env bash
# Inspection of the running stack (docs/operations.md):
#
#   scripts/ops.sh streams       streams, their consumers, pending, redeliveries
#   scripts/ops.sh dlq [ID]      dead letters of every service (or one dead letter in full)
#   scripts/ops.sh replay ID     replay a dead letter through its consumer's handler; says what happened
#
# This script only finds the stack (the NATS URL with the operators' credentials, the monitoring
# endpoint of .run/nats.monitor) and hands over to tools/paymsa-ops, built on demand.
# Streams come from the nats CLI when it is installed (PAYMSA_NO_NATS_CLI=1 skips it), otherwise
# from the server's monitoring endpoint (/jsz). Dead letters always come from the services'
# admin API (GET /admin/dead-letters, POST /admin/dead-letters/{id}/replay, bearer
# $ADMIN_TOKEN, default paymsa-local-admin): the DLQ stream holds only the server's advisories,
# the services resolve them to the original messages and own the replay (run in process through
# the failed consumer's handler; nothing is republished). DLQ_LIMIT (default 20) caps `dlq`.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Streams of the tests' namespaces (service_kit::testing::is_test_stream): T + 12 hex + _.
TEST_STREAM_RE='^T[0-9A-F]{12}_'

# the monitoring endpoint `just up` wrote, or nothing
nats_monitor() { [[ -f "$RUN_DIR/nats.monitor" ]] && cat "$RUN_DIR/nats.monitor"; return 0; }

cmd_streams() {
  local url mon shown bold='' off=''
  [[ -t 1 && -z "${NO_COLOR:-}" ]] && bold=$'\e[1m' off=$'\e[0m'
  # with the operators' user when the server has per-service users (docs/identity.md "The bus")
  url="$("$PAYMSA_ROOT/scripts/nats.sh" admin-url 2>/dev/null)" || die "no NATS server in use — start the stack: just up"
  if command -v nats >/dev/null 2>&1 && [[ -z "${PAYMSA_NO_NATS_CLI:-}" ]]; then
    shown="$(sed 's#//[^/@]*@#//#g' <<<"$url")" # without the admin password
    printf '%sNATS %s%s — nats CLI\n' "$bold" "$shown" "$off"
    nats --server "$url" stream ls
    local s
    for s in $(nats --server "$url" stream ls --names 2>/dev/null | grep -Ev "$TEST_STREAM_RE"); do
      echo
      nats --server "$url" consumer report "$s"
    done
    return
  fi
  mon="$(nats_monitor)"
  [[ -n "$mon" ]] || die "no nats CLI and no monitoring endpoint known for $(sed 's#//[^/@]*@#//#g' <<<"$url") (.run/nats.monitor is written by just up)"
  ops_build
  exec "$OPS_BIN" streams --server "$url" --monitor "$mon"
}

case "${1:-}" in
streams) cmd_streams ;;
dlq)
  ops_build
  exec "$OPS_BIN" dlq --monitor "$(nats_monitor)" ${2:+-- "$2"}
  ;;
replay)
  [[ -n "${2:-}" ]] || die "usage: just replay <id> (ids: just dlq)"
  ops_build
  exec "$OPS_BIN" replay -- "$2"
  ;;
*)
  echo "usage: $0 streams | dlq [ID] | replay ID" >&2
  exit 2
  ;;
esac
