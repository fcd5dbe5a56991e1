#!/usr/bin/env bash
# `just bench [NAME...]`: the benchmarks (timing targets live here, not in tests).
# Without NAME, all of them. To add one: write a bench_<name> function and list <name> in BENCHES.
# A benchmark that needs Postgres/Redis/NATS calls `with_backends` first (it exports the same
# TEST_* variables as `just test`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PAYMSA_ROOT"
cargo_env
# development secrets everywhere here (libs/service-kit/src/secrets.rs); tools/loadgen's stack
# sets it for the processes of `bench e2e` as well
export APP_ENV=dev

BENCHES=(snowflake outbox consumer hot_catalog order_query ledger e2e)

bench_snowflake() { cargo bench -p snowflake; }
# relay commit→ack rate next to a raw JetStream async publish rate, same run
bench_outbox() { with_backends; cargo bench -p outbox --bench relay_throughput; }
# consumer rate: no-op handler and an idempotent Postgres handler
bench_consumer() { with_backends; cargo bench -p messaging --bench consumer_throughput; }
# GET /api/hot-products with 10,000 ranked products
bench_hot_catalog() { with_backends; cargo bench -p hot-catalog-service --bench hot_products_get; }
# order-query first page vs a page deep in a 1,000,000-order read model
bench_order_query() { with_backends; cargo bench -p order-query-service --bench keyset_pages; }
# wallet-service's ledger alone: SALE entries/s next to raw two-write transactions/s, same run
bench_ledger() { with_backends; cargo bench -p wallet-service --bench ledger_entries; }

# the whole system as processes under load, next to the machine's Postgres/JetStream ceilings
# (writes docs/bench/results.md and docs/bench/confirm-latency.svg; E2E_ARGS adds options)
# shellcheck disable=SC2086
# Postgres through its Unix socket where the server has one: a round trip costs the kernel less
# than over TCP, and the ceiling measured in the same run takes the same path (docs/benchmarks.md,
# stop 22; the report says which path ran).
bench_e2e() {
  local socket=/var/run/postgresql
  if [[ -z "${TEST_DATABASE_URL:-}" && -S "$socket/.s.PGSQL.$PG_PORT" ]]; then
    export TEST_DATABASE_URL="postgres://$PG_USER@${socket//\//%2F}:$PG_PORT"
  fi
  "$PAYMSA_ROOT/scripts/loadgen.sh" release bench ${E2E_ARGS:-}
}

with_backends() {
  [[ -n "${TEST_NATS_URL:-}" ]] && return 0 # already set up by an earlier benchmark
  "$PAYMSA_ROOT/scripts/infra.sh" ensure
  local url
  # the stack's server only when it runs without per-service users (benches connect without)
  if "$PAYMSA_ROOT/scripts/nats.sh" secrets >/dev/null 2>&1 ||
    ! url="$("$PAYMSA_ROOT/scripts/nats.sh" url 2>/dev/null)"; then
    trap 'NATS_INSTANCE=test-nats "$PAYMSA_ROOT/scripts/nats.sh" stop || true' EXIT
    url="$(NATS_INSTANCE=test-nats NATS_FRESH=1 NATS_URL='' "$PAYMSA_ROOT/scripts/nats.sh" ensure)"
  fi
  export_test_env "$url"
}

selected=("$@")
((${#selected[@]} > 0)) || selected=("${BENCHES[@]}")
for name in "${selected[@]}"; do
  declare -F "bench_$name" >/dev/null || die "no benchmark '$name' (have: ${BENCHES[*]})"
done
for name in "${selected[@]}"; do
  info "bench: $name"
  "bench_$name"
done
