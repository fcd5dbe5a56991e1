#!/usr/bin/env bash
# `just test [ARGS]`: every test, against the real Postgres, Redis and NATS.
#   - Postgres + Redis: reused or started (infra.sh ensure)
#   - NATS: $TEST_NATS_URL if usable, else the `just up` server if it runs, else a throwaway
#     server under .run/test-nats (fresh store, stopped when the tests end)
#   - exports TEST_NATS_URL, TEST_DATABASE_URL, TEST_REDIS_URL
#   - doc tests (only without ARGS), then `cargo nextest run --workspace --no-fail-fast ARGS`
#     (`cargo test --workspace --no-fail-fast ARGS` where nextest is not installed)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PAYMSA_ROOT"
SCRIPTS="$PAYMSA_ROOT/scripts"

"$SCRIPTS/infra.sh" ensure

nats_url=""
if [[ -n "${TEST_NATS_URL:-}" ]]; then
  nats_url="$(NATS_INSTANCE=test-nats NATS_URL="$TEST_NATS_URL" "$SCRIPTS/nats.sh" ensure)"
elif [[ -f "$PID_DIR/nats.pid" ]] && url="$("$SCRIPTS/nats.sh" url 2>/dev/null)"; then
  ok "reusing the stack's nats-server $url"
  nats_url="$url"
fi
if [[ -z "$nats_url" || -f "$PID_DIR/test-nats.pid" ]]; then
  stop_test_nats() { NATS_INSTANCE=test-nats "$SCRIPTS/nats.sh" stop || true; }
  trap stop_test_nats EXIT
  [[ -n "$nats_url" ]] || nats_url="$(NATS_INSTANCE=test-nats NATS_FRESH=1 NATS_URL= "$SCRIPTS/nats.sh" ensure)"
fi
export_test_env "$nats_url"
info "TEST_NATS_URL=$TEST_NATS_URL TEST_DATABASE_URL=$TEST_DATABASE_URL TEST_REDIS_URL=$TEST_REDIS_URL"

cargo_env
if (($# == 0)) && [[ "${SKIP_DOCTESTS:-0}" != 1 ]]; then
  # Doc tests first: nextest doesn't run them, and the runner's summary should be the last line.
  info "doc tests: cargo test --workspace --doc"
  doc_rc=0
  cargo test --workspace --doc --no-fail-fast || doc_rc=$?
fi
if cargo nextest --version >/dev/null 2>&1; then
  info "cargo nextest run --workspace --no-fail-fast $*"
  rc=0
  cargo nextest run --workspace --no-fail-fast "$@" || rc=$?
else
  warn "cargo-nextest not installed; using cargo test (cargo install cargo-nextest --locked)"
  rc=0
  cargo test --workspace --no-fail-fast "$@" || rc=$?
fi
if ((rc == 0 && ${doc_rc:-0} != 0)); then
  warn "doc tests failed (see above)"
  rc=$doc_rc
fi
exit "$rc"
