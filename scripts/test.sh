#!/usr/bin/env bash
# `just test [ARGS]`: every test, against the real Postgres, Redis and NATS.
#   - Postgres + Redis: reused or started (infra.sh ensure)
#   - NATS: $TEST_NATS_URL if usable, else the `just up` server if it runs, else a throwaway
#     server under .run/test-nats (fresh store, stopped when the tests end)
#   - exports TEST_NATS_URL, TEST_DATABASE_URL, TEST_REDIS_URL
#   - drops the tests' databases and (on a shared server) test-namespace streams before and after
#   - doc tests (only without ARGS), then `cargo nextest run --workspace --no-fail-fast ARGS`
#     (`cargo test …` where nextest is not installed; no --workspace when ARGS has -p)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PAYMSA_ROOT"
SCRIPTS="$PAYMSA_ROOT/scripts"

"$SCRIPTS/infra.sh" ensure

# The browser checkout test drives headless Chromium through chromedriver (the pages are
# Korean, hence the CJK fonts). Installed here like `just up` installs nats-server: as root on
# Debian with apt-get; otherwise one line says what to install.
if ! command -v chromedriver >/dev/null || ! { command -v chromium >/dev/null || command -v chromium-browser >/dev/null; }; then
  if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
    info "installing chromium, chromium-driver and fonts-noto-cjk for the browser test"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      chromium chromium-driver fonts-noto-cjk >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends chromium chromium-driver fonts-noto-cjk >/dev/null 2>&1; } ||
      warn "could not install chromium; the browser test will fail (apt-get install chromium chromium-driver fonts-noto-cjk)"
  else
    warn "the browser test needs: apt-get install chromium chromium-driver fonts-noto-cjk (or your system's equivalent)"
  fi
fi

shared_nats=1 # a server that outlives the run (the stack's, or $TEST_NATS_URL)
if [[ -n "${TEST_NATS_URL:-}" ]]; then
  # reused when usable, else a test server is started
  nats_url="$(NATS_INSTANCE=test-nats NATS_URL="$TEST_NATS_URL" "$SCRIPTS/nats.sh" ensure)"
# (not when the stack's server has per-service users: tests connect without credentials)
elif [[ -f "$PID_DIR/nats.pid" ]] && ! "$SCRIPTS/nats.sh" secrets >/dev/null 2>&1 &&
  nats_url="$("$SCRIPTS/nats.sh" url 2>/dev/null)"; then
  ok "reusing the stack's nats-server $nats_url"
else
  nats_url="$(NATS_INSTANCE=test-nats NATS_FRESH=1 NATS_URL='' "$SCRIPTS/nats.sh" ensure)"
fi
[[ -f "$PID_DIR/test-nats.pid" ]] && shared_nats=0
export_test_env "$nats_url"
# JetStream reserves a stream's max_bytes against the server's storage as soon as the stream
# exists. A run creates hundreds of short-lived test streams (some suites delete theirs only at
# the end of the run), so at the 1 GiB production default the server runs out of reservable
# storage mid-run ("insufficient storage resources"); test streams hold kilobytes.
export STREAM_MAX_BYTES="${STREAM_MAX_BYTES:-8MiB}"
cargo_env

# Every test works in a NATS namespace of its own (streams T<12 hex>_ORDERS, …_DLQ, …) and
# deletes its streams — and so their consumers — when it ends. Tests that panicked or were
# interrupted leave theirs: on a server that outlives the run, every test-namespace stream is
# deleted before and after it (the stack's own streams have no namespace and stay). The
# throwaway server needs none of that: it is stopped and its store wiped.
sweep_test_streams() {
  ((shared_nats)) || return 0
  cargo run -q -p service-kit --example test-streams -- "$TEST_NATS_URL" >"$RUN_DIR/test-streams.log" 2>&1 ||
    warn "deleting the test streams on $TEST_NATS_URL failed: $(tail -n 1 "$RUN_DIR/test-streams.log")"
}
mkdir -p "$RUN_DIR"
sweep_test_streams

# Every test creates databases named <db>_t<12 hex> (service_kit::testing). A whole run makes
# about a thousand (~7 MB each); they are dropped before the run (leftovers of an interrupted
# one) and after it, so repeated runs do not fill the disk.
drop_test_databases() {
  psql "$TEST_DATABASE_URL/postgres" -qAt -c \
    "select datname from pg_database where datname ~ '_t[0-9a-f]{12}$'" |
    xargs -r -P 4 -I{} psql "$TEST_DATABASE_URL/postgres" -q -c 'drop database if exists "{}" with (force)' \
      >/dev/null 2>&1 || true
}
drop_test_databases
# A test server (started now, or left by an interrupted run) is stopped when the tests end,
# quietly: the test runner's summary stays the last line.
cleanup() {
  drop_test_databases
  sweep_test_streams
  if [[ -f "$PID_DIR/test-nats.pid" ]]; then
    NATS_INSTANCE=test-nats "$SCRIPTS/nats.sh" stop >/dev/null 2>&1 || true
    rm -rf "${RUN_DIR:?}/test-nats/data"
  fi
}
trap cleanup EXIT
info "TEST_NATS_URL=$TEST_NATS_URL TEST_DATABASE_URL=$TEST_DATABASE_URL TEST_REDIS_URL=$TEST_REDIS_URL"

# --workspace unless the arguments pick packages (cargo lets --workspace override -p).
scope=(--workspace)
for arg in "$@"; do
  case "$arg" in
  -p | -p* | --package | --package=* | --workspace) scope=() ;;
  esac
done

if (($# == 0)) && [[ "${SKIP_DOCTESTS:-0}" != 1 ]]; then
  # Doc tests first: nextest doesn't run them, and the runner's summary should be the last line.
  info "doc tests: cargo test --workspace --doc"
  doc_rc=0
  cargo test --workspace --doc --no-fail-fast || doc_rc=$?
fi
# The small chaos run: the services as processes, SIGKILLed once each, NATS restarted, PSP
# faults and poison events, then the ledger invariants (`just chaos` is the big one).
if (($# == 0)) && [[ "${SKIP_CHAOS:-0}" != 1 ]]; then
  info "chaos (small): paymsa-loadgen chaos --payments 300 on debug binaries"
  chaos_rc=0
  bin_dir="${CARGO_TARGET_DIR:-$PAYMSA_ROOT/target}/debug"
  cargo build -q --bins || chaos_rc=$?
  if ((chaos_rc == 0)); then
    # kept in a file too: the failed checks are repeated after the test runner's summary,
    # where a CI log's tail shows them
    rm -f "$RUN_DIR/chaos-small.log"
    "$bin_dir/paymsa-loadgen" chaos --payments 300 --shoppers 8 --seed 7 --bin-dir "$bin_dir" 2>&1 |
      tee "$RUN_DIR/chaos-small.log" || chaos_rc=$?
  fi
fi
if cargo nextest --version >/dev/null 2>&1; then
  info "cargo nextest run${scope[*]:+ ${scope[*]}} --no-fail-fast${*:+ $*}"
  rc=0
  cargo nextest run "${scope[@]}" --no-fail-fast "$@" || rc=$?
else
  warn "cargo-nextest not installed; using cargo test (cargo install cargo-nextest --locked)"
  rc=0
  cargo test "${scope[@]}" --no-fail-fast "$@" || rc=$?
fi
if ((${chaos_rc:-0} != 0)); then
  warn "the small chaos run failed (see above; $RUN_DIR/chaos-small.log):"
  [[ -f "$RUN_DIR/chaos-small.log" ]] && { grep -E '\[FAIL\]|VIOLATED|^Error' "$RUN_DIR/chaos-small.log" >&2 || true; }
  ((rc != 0)) || rc=$chaos_rc
fi
if ((rc == 0 && ${doc_rc:-0} != 0)); then
  warn "doc tests failed (see above)"
  rc=$doc_rc
fi
exit "$rc"
