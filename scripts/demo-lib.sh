# shellcheck shell=bash disable=SC2034
# Sourced by scripts/demo.sh and scripts/ops.sh (after lib.sh): step output with timings, HTTP
# calls with curl, JSON through tools/paymsa-ops (neither python3 nor jq is required), polling,
# and the NATS / dead-letter helpers. Everything talks to the stack `just up` runs (ports of
# lib.sh's service table).

ADMIN_TOKEN="${ADMIN_TOKEN:-paymsa-local-admin}"
DEMO_STATE="$RUN_DIR/demo.env"

url_of() { printf 'http://127.0.0.1:%s' "${SERVICE_PORT[$1]}"; }
ORDER_URL="$(url_of order-service)"
CATALOG_URL="$(url_of catalog-service)"
WALLET_URL="$(url_of wallet-service)"
SELLER_URL="$(url_of seller-service)"
HOT_URL="$(url_of hot-catalog-service)"
REVIEW_URL="$(url_of catalog-review-service)"
LIKE_URL="$(url_of catalog-like-service)"
ORDER_QUERY_URL="$(url_of order-query-service)"
SANDBOX_URL="$(url_of psp-sandbox)"

# ---------------------------------------------------------------------------------------------
# Output: a header per step, ✓ / ✗ / · lines, the step's time; a summary at the end.
if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
  d_bold=$'\e[1m' d_dim=$'\e[2m' d_red=$'\e[31m' d_green=$'\e[32m' d_cyan=$'\e[36m' d_off=$'\e[0m'
else
  d_bold='' d_dim='' d_red='' d_green='' d_cyan='' d_off=''
fi

now_ms() { date +%s%3N; }
fmt_ms() { # 840 -> "840 ms", 1530 -> "1.53 s"
  if (($1 < 1000)); then printf '%d ms' "$1"; else printf '%d.%02d s' $(($1 / 1000)) $(($1 % 1000 / 10)); fi
}

STEP_NO=0 STEP_TOTAL=0 STEP_NAME="" STEP_START=0 RUN_START="$(now_ms)"
SUMMARY=()

step() {
  end_step
  STEP_NO=$((STEP_NO + 1))
  STEP_NAME=$1
  STEP_START="$(now_ms)"
  if ((STEP_TOTAL > 0)); then
    printf '\n%s[%d/%d] %s%s\n' "$d_bold" "$STEP_NO" "$STEP_TOTAL" "$1" "$d_off"
  else
    printf '\n%s== %s%s\n' "$d_bold" "$1" "$d_off"
  fi
}
end_step() {
  [[ -n "$STEP_NAME" ]] || return 0
  local took=$(($(now_ms) - STEP_START))
  printf '  %s⏱ %s%s\n' "$d_dim" "$(fmt_ms "$took")" "$d_off"
  SUMMARY+=("$STEP_NAME|$took")
  STEP_NAME=""
}
summary() {
  end_step
  local row total=$(($(now_ms) - RUN_START))
  printf '\n%sSummary%s\n' "$d_bold" "$d_off"
  for row in "${SUMMARY[@]}"; do
    printf '  %s✓%s %9s  %s\n' "$d_green" "$d_off" "$(fmt_ms "${row##*|}")" "${row%|*}"
  done
  printf '    %9s  total\n' "$(fmt_ms "$total")"
}

ok() { printf '  %s✓%s %s\n' "$d_green" "$d_off" "$*"; }
note() { printf '  %s·%s %s\n' "$d_dim" "$d_off" "$*"; }
show() { sed 's/^/      /'; } # indents a block (tables, JSON)
# fail MESSAGE -> the ✗ line, then exit 1 (the EXIT trap names the step).
fail() {
  printf '  %s✗ %s%s\n' "$d_red" "$*" "$d_off"
  FAILED_REPORTED=1
  exit 1
}

# install_traps -> a failure anywhere names the step it happened in.
FAILED_REPORTED=0
install_traps() {
  set -E
  trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR
  trap 'on_exit $?' EXIT
}
on_err() {
  ((BASH_SUBSHELL == 0)) || return 0
  ((FAILED_REPORTED == 1)) && return 0
  printf '  %s✗ unexpected error (exit %s) at %s:%s: %s%s\n' "$d_red" "$1" "${BASH_SOURCE[1]##*/}" "$2" "$3" "$d_off"
  FAILED_REPORTED=1
}
on_exit() {
  local rc=$1
  [[ "$(type -t demo_cleanup)" == function ]] && demo_cleanup
  if ((rc != 0 && STEP_NO > 0)); then
    local where="${STEP_NAME:-after step $STEP_NO}"
    ((STEP_TOTAL > 0 && STEP_NO > 0)) && where="[$STEP_NO/$STEP_TOTAL] $STEP_NAME"
    printf '\n%s✗ stopped: step %s failed after %s.%s\n' "$d_red" "$where" "$(fmt_ms $(($(now_ms) - STEP_START)))" "$d_off"
    printf '  what runs: just status · a service log: just logs <service> · dead letters: just dlq\n'
  fi
}

# ---------------------------------------------------------------------------------------------
# HTTP. call METHOD URL [BODY] EXPECTED... -> HTTP_STATUS, HTTP_BODY, HTTP_MS; prints one
# "→ METHOD path status (time)" line; any other status fails with the problem's code/detail.
# HTTP_AUTH=token adds the bearer token; QUIET=1 skips the line.
http() {
  local method=$1 url=$2 body=${3:-} out rc=0
  local args=(-sS -X "$method" --max-time "${HTTP_TIMEOUT:-15}" -w '\n%{http_code} %{time_total}' -H 'accept: application/json')
  [[ -n "$body" ]] && args+=(-H 'content-type: application/json' --data-binary "$body")
  [[ -n "${HTTP_AUTH:-}" ]] && args+=(-H "authorization: Bearer $HTTP_AUTH")
  out="$(curl "${args[@]}" "$url" 2>/dev/null)" || rc=$?
  if ((rc != 0)); then
    case $rc in
    7) fail "$method $url: connection refused — is the stack up? (just up; just status)" ;;
    28) fail "$method $url: no answer within ${HTTP_TIMEOUT:-15} s" ;;
    *) fail "$method $url: curl exit code $rc" ;;
    esac
  fi
  local last=${out##*$'\n'}
  HTTP_BODY=${out%$'\n'*}
  [[ "$out" == *$'\n'* ]] || HTTP_BODY=""
  HTTP_STATUS=${last%% *}
  HTTP_MS=$(awk -v t="${last#* }" 'BEGIN { printf "%d", t * 1000 }')
}
call() {
  local method=$1 url=$2 body=$3
  shift 3
  http "$method" "$url" "$body"
  local path=${url#http://127.0.0.1}
  [[ "${QUIET:-0}" == 1 ]] || printf '  %s→ %-6s %-62s %s %s%s\n' "$d_cyan" "$method" "$path" "$HTTP_STATUS" "($(fmt_ms "$HTTP_MS"))" "$d_off"
  local want
  for want in "$@"; do [[ "$HTTP_STATUS" == "$want" ]] && return 0; done
  fail "$method $path answered $HTTP_STATUS (expected $*): $(problem_of "$HTTP_BODY")"
}
problem_of() { # the code and detail of a problem+json, or the body's start
  printf '%s' "$1" | "$OPS_BIN" json problem
}

# ---------------------------------------------------------------------------------------------
# JSON through `paymsa-ops json get` (its path syntax: tools/paymsa-ops/src/json.rs).
# jget JSON PATH [--json|--join SEP|--sort|--format TEMPLATE|--len] -> the values at PATH, one
# a line; strings raw, null as "", booleans true/false, the rest as JSON; a missing member is an
# error unless the path says `name?`. Example: jget "$HTTP_BODY" '.lines[0].sellerNo'
# The JSON goes through stdin (an argument is limited to 128 KiB). Needs ops_build first.
jget() {
  local json=$1
  shift
  "$OPS_BIN" json get "$@" <<<"$json"
}

# ---------------------------------------------------------------------------------------------
# wait_until TIMEOUT_S WHAT FUNC [ARGS...] -> calls FUNC every 0.25 s until it succeeds;
# WAITED_MS is how long it took. On timeout: ✗ "WHAT: not within N s" (+ LAST_STATE if set).
wait_until() {
  local timeout=$1 what=$2 start
  shift 2
  start="$(now_ms)"
  LAST_STATE=""
  local rc
  while true; do
    rc=0
    "$@" || rc=$?
    if ((rc == 0)); then
      WAITED_MS=$(($(now_ms) - start))
      return 0
    fi
    # 2: the check itself failed (`paymsa-ops decimal` given something that is not a number,
    # e.g. a field missing from the answer): waiting longer cannot help.
    ((rc == 2)) && fail "$what: the check failed${LAST_STATE:+ (last seen: $LAST_STATE)}"
    if (($(now_ms) - start > timeout * 1000)); then
      fail "$what: not within $timeout s${LAST_STATE:+ (last seen: $LAST_STATE)}"
    fi
    sleep 0.25
  done
}

# ---------------------------------------------------------------------------------------------
# Demo state (.run/demo.env): what earlier flows created, so `just pay` after `just products`
# uses that seller's products. Without it the flows fall back to the seed data.
state_load() {
  SELLER_NO="" SELLER_ID="" P1="" P2="" P1_PRICE="" P2_PRICE="" MEMBER_NO="" LAST_ORDER_ID=""
  # shellcheck disable=SC1090
  [[ -f "$DEMO_STATE" ]] && source "$DEMO_STATE"
  return 0
}
state_save() {
  mkdir -p "$RUN_DIR"
  {
    printf 'SELLER_NO=%q\nSELLER_ID=%q\n' "$SELLER_NO" "$SELLER_ID"
    printf 'P1=%q\nP2=%q\nP1_PRICE=%q\nP2_PRICE=%q\n' "$P1" "$P2" "$P1_PRICE" "$P2_PRICE"
    printf 'MEMBER_NO=%q\nLAST_ORDER_ID=%q\n' "$MEMBER_NO" "${LAST_ORDER_ID:-}"
  } >"$DEMO_STATE"
}

# ---------------------------------------------------------------------------------------------
# NATS: the URL and monitoring endpoint of the running stack, consumer state, publishing.
# require_nats -> NATS_IN_USE (the stack's client URL), or fails
require_nats() {
  [[ -n "${NATS_IN_USE:-}" ]] && return 0
  # with the operators' user when the server has per-service users (docs/identity.md "The bus")
  NATS_IN_USE="$("$PAYMSA_ROOT/scripts/nats.sh" admin-url 2>/dev/null)" || fail "no NATS server in use — start the stack: just up"
}
nats_monitor() { [[ -f "$RUN_DIR/nats.monitor" ]] && cat "$RUN_DIR/nats.monitor"; return 0; }
has_nats_cli() { command -v nats >/dev/null 2>&1 && [[ -z "${PAYMSA_NO_NATS_CLI:-}" ]]; }

# tools/paymsa-ops, the operators' CLI (publish, streams, dlq, replay), run from the build dir
# like up.sh runs devtoken. ops_build builds it once per script run: cargo relinks only what
# changed and says nothing when nothing did (-q).
OPS_BIN="${CARGO_TARGET_DIR:-$PAYMSA_ROOT/target}/debug/paymsa-ops"
OPS_BUILT=0
ops_build() {
  ((OPS_BUILT == 1)) && return 0
  "$PAYMSA_ROOT/scripts/cargo.sh" build -q -p paymsa-ops || fail "could not build tools/paymsa-ops"
  OPS_BUILT=1
}

# publish SUBJECT MSG_ID PAYLOAD -> PUBACK (JSON) via `paymsa-ops publish` (no nats CLI needed)
publish() {
  require_nats
  ops_build
  PUBACK="$("$OPS_BIN" publish --server "$NATS_IN_USE" -H "Nats-Msg-Id:$2" "$1" "$3")" ||
    fail "publishing to $1 failed"
}

# ---------------------------------------------------------------------------------------------
# Dead letters through the services' admin API, by `paymsa-ops dlq` (ADMIN_TOKEN as just dlq).
# dead_letters_with_msg_id MSG_ID -> DL_FOUND: JSON list of {service, …item} with that msgId,
# from the newest 100 of every service with consumers
dead_letters_with_msg_id() {
  local out
  out="$(ADMIN_TOKEN="$ADMIN_TOKEN" "$OPS_BIN" dlq --msg-id "$1" --json 2>&1)" || fail "${out#paymsa-ops: }"
  DL_FOUND=$out
}
# print_dead_letters JSON_LIST -> the table of just dlq
print_dead_letters() {
  "$OPS_BIN" table dead-letters <<<"$1"
}
