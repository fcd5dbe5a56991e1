#!/usr/bin/env bash
# `just bench [NAME...]`: the benchmarks (timing targets live here, not in tests).
# Without NAME, all of them. To add one: write a bench_<name> function and list <name> in BENCHES.
# A benchmark that needs Postgres/Redis/NATS calls `with_backends` first (it exports the same
# TEST_* variables as `just test`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PAYMSA_ROOT"
cargo_env

BENCHES=(snowflake)

bench_snowflake() { cargo bench -p snowflake; }

with_backends() {
  "$PAYMSA_ROOT/scripts/infra.sh" ensure
  local url
  if ! url="$("$PAYMSA_ROOT/scripts/nats.sh" url 2>/dev/null)"; then
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
