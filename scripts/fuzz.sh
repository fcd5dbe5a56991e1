#!/usr/bin/env bash
# `just fuzz`: schemathesis (PyPI) against every service's /openapi.json on the running stack
# (`just up` first). Per service: all checks but EXCLUDED_CHECKS (below, with the reason), a
# fixed seed, a bounded number of examples per operation and a time cap; admin operations get the admin token, the PSP sandbox a test key.
# Prints a per-service summary (operations tested, failures) and exits non-zero on any failure.
#
# Both auth modes (docs/identity.md): first the stack as it runs (open after `just up`), with the
# admin token; then the services restarted in jwt mode (`AUTH_MODE=jwt scripts/up.sh`), fuzzed
# with a member's token (member 7) — there `ignored_auth` (one of `--checks all`) proves that
# every protected operation refuses a request without or with a wrong token — and finally the
# stack restarted in the mode it had. FUZZ_MODES="open" (or "jwt") runs one phase only.
#
# Environment: FUZZ_MAX_EXAMPLES (default 50), FUZZ_SEED (default 20261121), FUZZ_MAX_TIME (s
# per service, a hard cap: default 300), ADMIN_TOKEN (default "paymsa-local-admin"),
# FUZZ_SERVICES (a space-separated subset, e.g. "wallet-service order-service"). Reports (JSON, and the full
# console output) go to .run/fuzz/<service>.{json,log}.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PAYMSA_ROOT"

MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-50}"
SEED="${FUZZ_SEED:-20261121}"
MAX_TIME="${FUZZ_MAX_TIME:-300}"
ADMIN_TOKEN="${ADMIN_TOKEN:-paymsa-local-admin}"
OUT="$PAYMSA_ROOT/.run/fuzz"
# Every check runs except these, each with its reason; a finding of any other check is a bug in
# the service or in its declared OpenAPI document.
#
# ST202 "Schema-valid request rejected": sends requests that fit the declared schema and
# expects them accepted. The services rightly reject some of them with 400 for rules the
# document does not (or cannot, with poem-openapi) express:
#   - ids are positive 64-bit integers; the `string_id` pattern `^[0-9]{1,19}$` also admits
#     `0` and values above 2^63-1 (an exact regex for the range would be unreadable);
#   - writes reject unknown fields (`deny_unknown_fields`, design §3), but poem-openapi does
#     not emit `additionalProperties: false` for them;
#   - domain rules checked in code: non-blank names and titles, `productNos` not empty, an
#     order's amount as a positive decimal string, `limit` within 1..100, a PSP test code
#     from Toss's list, the payment window's `successUrl`/`failUrl` being URLs.
# Rejecting those is the contract (every rejection is a 4xx problem+json, which
# not_a_server_error / status_code_conformance / response_schema_conformance still check).
EXCLUDED_CHECKS=positive_data_acceptance
read -r -a services <<<"${FUZZ_SERVICES:-${SERVICES[*]}}"
read -r -a modes <<<"${FUZZ_MODES:-open jwt}"
TARGET_DIR="${CARGO_TARGET_DIR:-$PAYMSA_ROOT/target}"

# The version CI installs (.ci/run pins the same; it needs Python >= 3.11). A
# different installed version is used as it is.
SCHEMATHESIS_PIN=schemathesis==4.32.5
if ! command -v st >/dev/null 2>&1; then
  info "installing schemathesis (pip install $SCHEMATHESIS_PIN)"
  python3 -m pip install -q "$SCHEMATHESIS_PIN" >&2 || die "could not install schemathesis; run: pip install $SCHEMATHESIS_PIN"
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
fi
command -v st >/dev/null 2>&1 || die "schemathesis' \`st\` is not on PATH (pip install $SCHEMATHESIS_PIN)"

# The stack must be up: every service answers /health/ready.
down=()
for svc in "${services[@]}"; do
  [[ -n "${SERVICE_PORT[$svc]:-}" ]] || die "unknown service $svc (known: ${SERVICES[*]})"
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:${SERVICE_PORT[$svc]}/health/ready" || true)"
  [[ "$code" == 200 ]] || down+=("$svc")
done
((${#down[@]} == 0)) || die "not ready: ${down[*]} — run \`just up\` first"

# The sandbox's fault controls (/sandbox/faults…) exist to make the sandbox answer Toss's own
# errors, 500 FAILED_INTERNAL_SYSTEM_PROCESSING among them: fuzzed in the same run as the
# payment and payout operations, a fault the fuzzer set (say for refPayoutId "0") makes a
# later generated payout answer that designed 500, which the server-error check rightly
# flags. So the sandbox is fuzzed in two runs: everything but the controls, then the controls
# alone (their validation is fuzzed; nothing they inject is ever called), then reset.
SANDBOX_CONTROLS='^/sandbox/faults'

# fuzz_report REPORT RC -> "SUMMARY|BAD" from schemathesis' JSON report, read with
# `paymsa-ops json get` (tools/paymsa-ops/src/json.rs): operations tested of selected, generated
# cases, failures (every check's count, plus the errors) by kind; BAD is 1 on any failure or a
# non-zero exit of schemathesis.
OPS_BIN="$TARGET_DIR/debug/paymsa-ops"
fuzz_report() {
  local rc=$2 r n=0 c errors kinds
  j() { "$OPS_BIN" json get "$@" <<<"$r"; }
  if ! r="$(cat "$1" 2>/dev/null)" || ! j . >/dev/null 2>&1; then
    printf 'no report (schemathesis exit %s)|1' "$rc"
    return 0
  fi
  # A report without these fields (a schemathesis that renamed them) is a failed run, not a
  # clean one.
  local counts
  if ! counts="$(j '.failures[].count')" || ! errors="$(j '.errors[]' --len)"; then
    printf 'unreadable report: no .failures / .errors (schemathesis exit %s)|1' "$rc"
    return 0
  fi
  for c in $counts; do n=$((n + c)); done
  n=$((n + errors))
  kinds="$(j '.failures[]' --format '{code} {title} ×{count}' --join ', ')"
  ((errors == 0)) || kinds="${kinds:+$kinds, }$errors errors"
  printf '%s/%s operations, %s cases, %s failures%s|%s' "$(j .operations.tested)" \
    "$(j .operations.selected)" "$(j .test_cases.generated)" "$n" "${kinds:+ ($kinds)}" \
    "$(((n > 0 || rc != 0) ? 1 : 0))"
}

# show_findings LOG: schemathesis' failures section (or the log's tail) on stderr, indented.
show_findings() {
  local findings
  # `|| true`: head closing the pipe early (a long section) must not end the run (pipefail).
  findings="$(sed -n '/= FAILURES =/,/= SUMMARY =/p' "$1" 2>/dev/null | head -n 200 || true)"
  [[ -n "$findings" ]] || findings="$(tail -n 60 "$1" 2>/dev/null || true)"
  sed 's/^/    | /' <<<"$findings" >&2
}

# fuzz_services MODE BEARER: every selected service once (the sandbox in its two parts), its
# summary line added to `summary`.
fuzz_services() {
local mode=$1 bearer=$2 svc label filter url auth t0 rc line text
local -a runs=()
for svc in "${services[@]}"; do
  # The sandbox has no auth mode: fuzzed once, in the open phase.
  if [[ "$svc" == psp-sandbox ]]; then
    [[ "$mode" == jwt ]] || runs+=("psp-sandbox psp-sandbox --exclude-path-regex" "psp-sandbox psp-sandbox-faults --include-path-regex")
  else
    runs+=("$svc $svc -")
  fi
done
for run in "${runs[@]}"; do
  read -r svc label filter <<<"$run"
  local -a select=()
  [[ "$filter" == - ]] || select=("$filter" "$SANDBOX_CONTROLS")
  url="http://127.0.0.1:${SERVICE_PORT[$svc]}"
  if [[ "$svc" == psp-sandbox ]]; then
    # Toss's scheme: the secret key as the Basic user name, empty password.
    auth="Authorization: Basic $(printf 'test_sk_paymsa_fuzz:' | base64)"
  else
    auth="Authorization: Bearer $bearer"
  fi
  rm -f "$OUT/$mode-$label.json"
  t0=$SECONDS
  rc=0
  # No --max-time: schemathesis spends all of it (fuzzing repeats until the budget is used);
  # `timeout` is only a cap for a hung run.
  timeout "$MAX_TIME" st --no-color run "$url/openapi.json" \
    --checks all --exclude-checks "$EXCLUDED_CHECKS" --header "$auth" "${select[@]}" \
    --max-examples "$MAX_EXAMPLES" --seed "$SEED" \
    --workers 1 --request-timeout 10 \
    --report json --report-json-path "$OUT/$mode-$label.json" >"$OUT/$mode-$label.log" 2>&1 || rc=$?
  line="$(fuzz_report "$OUT/$mode-$label.json" "$rc")"
  text="${line%|*}"
  if [[ "${line##*|}" == 1 ]]; then
    failed=1
    warn "$label: $text ($((SECONDS - t0))s) — see .run/fuzz/$mode-$label.log"
    # The findings themselves (each with its curl reproduction), so a CI log that outlives the
    # clone's .run/ still says which request was wrong.
    show_findings "$OUT/$mode-$label.log"
  else
    ok "$label: $text ($((SECONDS - t0))s)"
  fi
  summary+=("$(printf '%-5s %-24s %s' "$mode" "$label" "$text")")
  # Whatever the controls run left set, the stack runs on without it: `{}` turns the global
  # faults off (latency, error and timeout rates), the reset drops per-order and payout faults.
  if [[ "$label" == psp-sandbox-faults ]]; then
    curl -fsS -o /dev/null -X PUT --max-time 10 -H 'Content-Type: application/json' -d '{}' "$url/sandbox/faults" ||
      warn "psp-sandbox: could not turn the global faults off"
    curl -fsS -o /dev/null -X POST --max-time 10 "$url/sandbox/reset" || warn "psp-sandbox: /sandbox/reset failed"
  fi
done
}

mkdir -p "$OUT"
"$PAYMSA_ROOT/scripts/cargo.sh" build -q -p paymsa-ops || die "could not build tools/paymsa-ops (it reads the reports)"
info "schemathesis $(st --version | awk '{print $NF}'): seed $SEED, $MAX_EXAMPLES examples per operation, ${MAX_TIME}s cap per service, all checks but $EXCLUDED_CHECKS; modes: ${modes[*]}"
failed=0
summary=()
started=$SECONDS
# The mode the stack runs in now, to restore it after the jwt phase.
running_mode="$(cat "$PID_DIR/order-service.auth-mode" 2>/dev/null || echo open)"
switch_mode() {
  info "restarting the services with AUTH_MODE=$1 (log .run/fuzz/up-$1.log)"
  AUTH_MODE="$1" "$PAYMSA_ROOT/scripts/up.sh" >"$OUT/up-$1.log" 2>&1 ||
    die "AUTH_MODE=$1 scripts/up.sh failed (see .run/fuzz/up-$1.log)"
}
current="$running_mode"
for mode in "${modes[@]}"; do
  case "$mode" in
    open)
      [[ "$current" == open ]] || { switch_mode open; current=open; }
      fuzz_services open "$ADMIN_TOKEN"
      ;;
    jwt)
      [[ "$current" == jwt ]] || { trap 'switch_mode "$running_mode"' EXIT; switch_mode jwt; current=jwt; }
      token="$("$TARGET_DIR/debug/devtoken" sign "$PAYMSA_ROOT/.run/dev-jwt" member 7)" ||
        die "devtoken could not sign a member token (run \`just up\` first)"
      fuzz_services jwt "$token"
      ;;
    *) die "FUZZ_MODES: unknown mode $mode (open, jwt)" ;;
  esac
done

echo
printf '%s\n' "${summary[@]}"
echo "total: $((SECONDS - started))s; reports in .run/fuzz/"
if ((failed)); then
  die "schemathesis found failures (details and \`st replay\` ids in .run/fuzz/<service>.log)"
fi
