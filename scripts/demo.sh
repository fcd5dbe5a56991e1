#!/usr/bin/env bash
# `just demo` and the per-flow recipes (docs/operations.md "Demo"): builds tools/paymsa-ops and
# hands over to `paymsa-ops demo [FLOW] [ARGS]` (tools/paymsa-ops/src/demo/), which walks the
# user flows against the running stack (`just up`) with a header per step, ✓/✗ lines and
# timings, and stops at the first failure naming the step.
#
#   scripts/demo.sh [all|seller|products|pay|cancel|payout|like|review|hot|orders|wallet|poison|recover] [ARGS]
#
# (`paymsa-ops demo --help` and `paymsa-ops demo FLOW --help` list the flows and their
# arguments.) This script only finds the stack: the NATS URL with the operators' credentials
# (`scripts/nats.sh admin-url`; only `poison` needs it and says so when there is none) and
# PostgreSQL ($PG_BASE_URL of lib.sh; `recover` simulates an outage in order-query's database).
# The flows share their state in .run/demo.env. Environment: ADMIN_TOKEN (default
# paymsa-local-admin), NO_COLOR.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ops_build
nats="$("$PAYMSA_ROOT/scripts/nats.sh" admin-url 2>/dev/null)" || nats=""
cd "$PAYMSA_ROOT"
exec "$OPS_BIN" demo --state .run/demo.env --nats "$nats" --postgres "$PG_BASE_URL" "$@"
