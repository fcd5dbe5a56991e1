#!/usr/bin/env bash
# `just demo` and the per-flow recipes: the user flows against the running stack (`just up`),
# with a header per step, ✓/✗ lines and timings. Stops at the first failure and names the step.
#
#   scripts/demo.sh [all]                  every flow below, in order (a fresh seller each run)
#   scripts/demo.sh seller [SELLER_ID]     register a seller; wait for the saga to reach ACTIVE
#   scripts/demo.sh products               two products for the demo seller (registers one if needed)
#   scripts/demo.sh pay [P,...] [MEMBER]   checkout → sandbox approval → confirm → wallet settlement
#   scripts/demo.sh like [P] [MEMBER]      a like, and a repeated like that changes nothing
#   scripts/demo.sh review [P] [MEMBER] [STARS]   a review (ONE..FIVE)
#   scripts/demo.sh hot [LIMIT]            the hot-products ranking
#   scripts/demo.sh orders [MEMBER]        the member's orders, page by page (order-query)
#   scripts/demo.sh wallet [SELLER_NO]     the seller's wallet: balance and ledger
#   scripts/demo.sh payout [SELLER_NO] [AMOUNT]  pay out available money; wait for COMPLETED
#   scripts/demo.sh poison                 an undecodable event → dead letters → replay
#   scripts/demo.sh recover                a valid event dead-lettered by an outage → fix → replay
#
# Flows remember what they created in .run/demo.env (seller, products, member), so `just pay`
# after `just products` pays for those; without it they use the seed data (seller 1, products
# 1, 2, 3). Needs bash, curl and cargo: JSON, tables and money arithmetic go through
# tools/paymsa-ops (`paymsa-ops json|table|decimal`, built on first use; no python3, no jq);
# `recover` also needs psql.
# Environment: ADMIN_TOKEN (default paymsa-local-admin), NO_COLOR.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=demo-lib.sh
source "$PAYMSA_ROOT/scripts/demo-lib.sh"
install_traps

# ---------------------------------------------------------------------------------------------
# Shared pieces

preflight() {
  local svc down=()
  for svc in "${SERVICES[@]}"; do
    curl -fsS -o /dev/null --max-time 3 "$(url_of "$svc")/health/ready" 2>/dev/null || down+=("$svc")
  done
  if ((${#down[@]} > 0)); then
    printf '%s✗ not ready: %s%s\n' "$d_red" "${down[*]}" "$d_off"
    printf '  start the stack with: just up   (what runs: just status)\n'
    FAILED_REPORTED=1
    exit 1
  fi
}

new_member_no() { printf '%s' "$(($(date +%s) % 100000000 + 700000000))"; }

# defaults for the small recipes: the demo's own data when there is some, else the seed data
default_products() {
  if [[ -n "$P1" ]]; then printf '%s,%s' "$P1" "$P2"; else printf '1,2'; fi
}
default_member() {
  [[ -n "$MEMBER_NO" ]] || { MEMBER_NO="$(new_member_no)"; state_save; }
  printf '%s' "$MEMBER_NO"
}
# label PRODUCT -> "Wireless mouse 3825…" for the demo's products, else "product N"
label() {
  if [[ "$1" == "$P1" ]]; then printf 'Mechanical keyboard %s' "$1"
  elif [[ "$1" == "$P2" ]]; then printf 'Wireless mouse %s' "$1"
  else printf 'product %s' "$1"; fi
}
csv_to_json() { "$OPS_BIN" json list "$1"; }

seller_status() {
  QUIET=1 call GET "$SELLER_URL/api/sellers/$SELLER_NO" "" 200
  LAST_STATE="$(jget "$HTTP_BODY" '.status')"
  WALLET_NO="$(jget "$HTTP_BODY" '.walletNo?')"
  [[ "$LAST_STATE" == ACTIVE ]]
}

# pay_order MEMBER PRODUCTS_CSV [detailed] -> ORDER_ID, AMOUNT, ORDER_NAME, PAYMENT_EVENT_NO
pay_order() {
  local member=$1 products=$2 detailed=${3:-} body key q=1
  [[ -n "$detailed" ]] && q=0
  QUIET=$q call POST "$ORDER_URL/api/checkouts" \
    "{\"memberNo\":\"$member\",\"productNos\":$(csv_to_json "$products")}" 201
  ORDER_ID="$(jget "$HTTP_BODY" '.orderId')"
  AMOUNT="$(jget "$HTTP_BODY" '.amount')"
  local amount_json order_name_json
  amount_json="$(jget "$HTTP_BODY" '.amount' --json)"
  order_name_json="$(jget "$HTTP_BODY" '.orderName' --json)"
  ORDER_NAME="$(jget "$HTTP_BODY" '.orderName')"
  PAYMENT_EVENT_NO="$(jget "$HTTP_BODY" '.paymentEventNo')"
  [[ -n "$detailed" ]] && ok "checkout: order $ORDER_ID \"$ORDER_NAME\", amount $AMOUNT, payment event $PAYMENT_EVENT_NO"

  body="{\"orderId\":\"$ORDER_ID\",\"amount\":$amount_json,\"orderName\":$order_name_json}"
  QUIET=$q call POST "$SANDBOX_URL/sandbox/approvals" "$body" 201
  key="$(jget "$HTTP_BODY" '.paymentKey')"
  [[ -n "$detailed" ]] && ok "the PSP sandbox approved it (the payment window's approve step): paymentKey $key"

  if [[ -n "$detailed" ]]; then
    local tampered
    tampered="$("$OPS_BIN" decimal sub "$AMOUNT" 1)"
    call POST "$ORDER_URL/api/payments/confirm" \
      "{\"paymentKey\":\"$key\",\"orderId\":\"$ORDER_ID\",\"amount\":$tampered}" 400
    ok "a tampered amount ($tampered) is refused: $(problem_of "$HTTP_BODY" | cut -d' ' -f1) — the PSP is not called"
  fi

  QUIET=$q call POST "$ORDER_URL/api/payments/confirm" \
    "{\"paymentKey\":\"$key\",\"orderId\":\"$ORDER_ID\",\"amount\":$amount_json}" 200
  local status
  status="$(jget "$HTTP_BODY" '.status')"
  [[ "$status" == SUCCESS ]] || fail "confirm answered status $status: $HTTP_BODY"
  [[ -n "$detailed" ]] && ok "confirmed: $status (order-service confirmed it with the PSP; order.payment.confirmed is in its outbox)"

  LAST_ORDER_ID=$ORDER_ID
  state_save
  wait_until 30 "wallet settlement of order $ORDER_ID" wallet_done
  if [[ -n "$detailed" ]]; then
    ok "settled after $(fmt_ms "$WAITED_MS"): order.payment.confirmed → wallet-settlement → wallet.settled → isWalletDone=true"
  else
    ok "order $ORDER_ID \"$ORDER_NAME\" $AMOUNT: paid, settled after $(fmt_ms "$WAITED_MS")"
  fi
}
wallet_done() {
  QUIET=1 call GET "$ORDER_URL/api/payments/$ORDER_ID" "" 200
  LAST_STATE="status $(jget "$HTTP_BODY" '.status'), isWalletDone $(jget "$HTTP_BODY" '.isWalletDone')"
  [[ "$(jget "$HTTP_BODY" '.isWalletDone')" == true ]]
}

# hot_fetch -> HOT (JSON of GET /api/hot-products?limit=100)
hot_fetch() {
  QUIET=${1:-1} call GET "$HOT_URL/api/hot-products?limit=100" "" 200
  HOT="$HTTP_BODY"
}
# hot_entry PRODUCT FIELD -> the field of that product in HOT ("" when not ranked)
hot_entry() {
  jget "$HOT" ".products[productNo=$1].$2?" | head -n 1
}
# print_hot TOP MARK... -> the first TOP rows, plus any marked product below them
print_hot() {
  local top=$1
  shift
  local marks=() p
  for p in "$@"; do marks+=(--mark "$p"); done
  "$OPS_BIN" table hot --top "$top" "${marks[@]}" <<<"$HOT"
}

# ---------------------------------------------------------------------------------------------
# Flows

flow_seller() {
  step "Register a seller — the onboarding saga reaches ACTIVE"
  SELLER_ID="${1:-demo-seller-$(date +%Y%m%d-%H%M%S)-$RANDOM}"
  call POST "$SELLER_URL/api/sellers" "{\"sellerId\":\"$SELLER_ID\"}" 201
  SELLER_NO="$(jget "$HTTP_BODY" '.sellerNo')"
  ok "seller $SELLER_NO \"$SELLER_ID\" registered: $(jget "$HTTP_BODY" '.status')"
  note "saga: seller.registered → wallet-service creates the wallet → wallet.created → seller ACTIVE"
  wait_until 30 "seller $SELLER_NO ACTIVE" seller_status
  ok "ACTIVE after $(fmt_ms "$WAITED_MS"), wallet $WALLET_NO"
  P1="" P2="" P1_PRICE="" P2_PRICE=""
  state_save
}

# try_create_product NAME PRICE -> 0 and PRODUCT_NO when created; 1 while the catalog has not
# heard of the seller's activation yet (seller.activated); anything else fails.
try_create_product() {
  http POST "$CATALOG_URL/api/products" \
    "{\"sellerNo\":\"$SELLER_NO\",\"name\":\"$1\",\"description\":\"paymsa demo\",\"price\":$2}"
  case "$HTTP_STATUS" in
  201) PRODUCT_NO="$(jget "$HTTP_BODY" '.productNo')" ;;
  422)
    LAST_STATE="$(problem_of "$HTTP_BODY")"
    [[ "$LAST_STATE" == SELLER_NOT_ACTIVE* ]] || fail "POST /api/products answered 422: $LAST_STATE"
    return 1
    ;;
  *) fail "POST /api/products answered $HTTP_STATUS: $(problem_of "$HTTP_BODY")" ;;
  esac
}

flow_products() {
  if [[ -z "$SELLER_NO" ]]; then
    flow_seller
  fi
  step "List two products for seller $SELLER_NO"
  wait_until 20 "catalog accepting products of seller $SELLER_NO" try_create_product "Mechanical keyboard" 45000
  printf '  %s→ %-6s %-62s %s %s%s\n' "$d_cyan" POST ":${SERVICE_PORT[catalog-service]}/api/products" "$HTTP_STATUS" "($(fmt_ms "$HTTP_MS"))" "$d_off"
  P1="$PRODUCT_NO" P1_PRICE=45000
  ok "product $P1 \"Mechanical keyboard\" 45000$( ((WAITED_MS > 300)) && printf ' (the catalog learned of the activation from seller.activated %s later)' "$(fmt_ms "$WAITED_MS")")"
  try_create_product "Wireless mouse" 25000 || fail "catalog refused the second product: $LAST_STATE"
  printf '  %s→ %-6s %-62s %s %s%s\n' "$d_cyan" POST ":${SERVICE_PORT[catalog-service]}/api/products" "$HTTP_STATUS" "($(fmt_ms "$HTTP_MS"))" "$d_off"
  P2="$PRODUCT_NO" P2_PRICE=25000
  ok "product $P2 \"Wireless mouse\" 25000"
  call GET "$CATALOG_URL/api/products?productNoList=$P2,$P1,999" "" 200
  ok "GET in the requested order: $(jget "$HTTP_BODY" '.products[].name' --join ', '); unknown reported: missingProductNos $(jget "$HTTP_BODY" '.missingProductNos')"
  state_save
}

flow_pay() {
  local products=${1:-$(default_products)} member=${2:-$(default_member)}
  step "Pay for an order — checkout → PSP approval → confirm → settlement (member $member)"
  pay_order "$member" "$products" detailed
}

flow_more_orders() {
  local member=$1
  step "Two more orders of the keyboard (for the ranking and the paging)"
  pay_order "$member" "$P1"
  pay_order "$member" "$P1"
}

flow_hot() {
  local limit=${1:-10}
  step "Hot products (top $limit)"
  QUIET=0 call GET "$HOT_URL/api/hot-products?limit=$limit" "" 200
  HOT="$HTTP_BODY"
  print_hot "$limit" ${P1:+"$P1"} ${P2:+"$P2"} | show
}

# hot_counts_are PRODUCT LIKES REVIEWS PAID -> 0 once the ranking shows these counts
hot_counts_are() {
  hot_fetch
  local got
  got="$(hot_entry "$1" likeCount)/$(hot_entry "$1" reviewCount)/$(hot_entry "$1" paidOrderLines)"
  LAST_STATE="product $1 likes/reviews/paid lines = $got"
  [[ "$got" == "$2/$3/$4" ]]
}

flow_hot_after_purchases() {
  step "Hot products after the purchases"
  wait_until 20 "ranking of product $P1" hot_counts_are "$P1" 0 0 3
  wait_until 20 "ranking of product $P2" hot_counts_are "$P2" 0 0 1
  QUIET=0 hot_fetch 0
  print_hot 5 "$P1" "$P2" | show
  RANK1_BEFORE="$(hot_entry "$P1" rank)" RANK2_BEFORE="$(hot_entry "$P2" rank)"
  SCORE2_BEFORE="$(hot_entry "$P2" score)"
  ok "keyboard $P1 ranks #$RANK1_BEFORE (3 paid lines × 10), mouse $P2 #$RANK2_BEFORE (1 paid line × 10)"
}

flow_like() {
  local product=${1:-${P2:-2}} member=${2:-$(default_member)} m count
  step "Likes on $(label "$product")"
  local members=("$member")
  [[ -n "${DEMO_ALL:-}" ]] && members+=($((member + 1)) $((member + 2)))
  for m in "${members[@]}"; do
    call POST "$LIKE_URL/api/catalog-likes/products/$product/members/$m" "" 201 200
    count="$(jget "$HTTP_BODY" '.likeCount')"
    ok "member $m likes it (changed=$(jget "$HTTP_BODY" '.changed')) → likeCount $count"
  done
  call POST "$LIKE_URL/api/catalog-likes/products/$product/members/$member" "" 200
  ok "a repeated like changes nothing: 200, changed=$(jget "$HTTP_BODY" '.changed'), likeCount $(jget "$HTTP_BODY" '.likeCount')"
}

flow_review() {
  local product=${1:-${P2:-2}} member=${2:-$(default_member)} stars=${3:-FIVE}
  step "A $stars-star review of $(label "$product")"
  call POST "$REVIEW_URL/api/product-reviews" \
    "{\"productNo\":\"$product\",\"memberNo\":\"$member\",\"title\":\"Great\",\"content\":\"Works as described, fast delivery.\",\"starRatingType\":\"$stars\"}" 201
  ok "review $(jget "$HTTP_BODY" '.productReviewNo') by member $member: $(jget "$HTTP_BODY" '.starRatingType')"
  call GET "$REVIEW_URL/api/product-reviews/products/$product" "" 200
  ok "$(label "$product"): $(jget "$HTTP_BODY" '.reviewCount') review(s), average $(jget "$HTTP_BODY" '.averageRating')"
}

flow_hot_after_engagement() {
  step "Hot products: likes and a review change the ranking"
  wait_until 20 "ranking of product $P2" hot_counts_are "$P2" 3 1 1
  QUIET=0 hot_fetch 0
  print_hot 5 "$P1" "$P2" | show
  local r1 r2 s2
  r1="$(hot_entry "$P1" rank)" r2="$(hot_entry "$P2" rank)" s2="$(hot_entry "$P2" score)"
  ((r2 < r1)) || fail "expected the mouse $P2 above the keyboard $P1 now (ranks: #$r2, #$r1)"
  ok "the mouse overtook the keyboard: #$RANK2_BEFORE → #$r2, score $(printf '%.1f' "$SCORE2_BEFORE") → $(printf '%.1f' "$s2") (+3 likes × 2, +1 review × 3, +5 stars × 5)"
}

# orders_count_is MEMBER N -> 0 once order-query shows N orders of the member, all settled
orders_count_is() {
  QUIET=1 call GET "$ORDER_QUERY_URL/api/orders/members/$1?limit=100" "" 200
  local got
  got="$(jget "$HTTP_BODY" '.orders[]' --len) orders, $(jget "$HTTP_BODY" '.orders[walletSettled=true]' --len) settled"
  LAST_STATE="$got"
  [[ "$got" == "$2 orders, $2 settled" ]]
}

print_orders_page() {
  "$OPS_BIN" table orders <<<"$HTTP_BODY"
}

flow_orders() {
  local member=${1:-$(default_member)} expect=${2:-} page=1 query="limit=2" total=0 cursor
  step "The member's orders, 2 per page (order-query read model)"
  [[ -n "$expect" ]] && wait_until 30 "order-query showing $expect settled orders of member $member" orders_count_is "$member" "$expect"
  while true; do
    call GET "$ORDER_QUERY_URL/api/orders/members/$member?$query" "" 200
    print_orders_page | show
    total=$((total + $(jget "$HTTP_BODY" '.orders[]' --len)))
    cursor="$(jget "$HTTP_BODY" '.nextCursor')"
    if [[ -z "$cursor" ]]; then
      ok "page $page is the last (nextCursor null): $total order(s), newest first, each once"
      break
    fi
    query="limit=2&paymentEventNo=$(jget "$cursor" '.paymentEventNo')&createdDateTime=$(jget "$cursor" '.createdDateTime')"
    ok "page $page, nextCursor = $cursor"
    page=$((page + 1))
    ((page <= 20)) || { note "stopping after 20 pages"; break; }
  done
  [[ -z "$expect" || "$total" == "$expect" ]] || fail "expected $expect orders across the pages, saw $total"
}

wallet_balance_is() {
  QUIET=1 call GET "$WALLET_URL/api/wallets/sellers/$SELLER_NO" "" 200
  LAST_STATE="balance $(jget "$HTTP_BODY" '.balance')"
  "$OPS_BIN" decimal eq "$(jget "$HTTP_BODY" '.balance')" "$1"
}

flow_wallet() {
  local seller=${1:-${SELLER_NO:-1}} expect=${2:-}
  SELLER_NO=$seller
  step "The seller's wallet"
  [[ -n "$expect" ]] && wait_until 20 "balance $expect" wallet_balance_is "$expect"
  call GET "$WALLET_URL/api/wallets/sellers/$seller" "" 200
  ok "seller $seller: balance $(jget "$HTTP_BODY" '.balance'), version $(jget "$HTTP_BODY" '.version'), wallet $(jget "$HTTP_BODY" '.walletNo')"
  "$OPS_BIN" table ledger <<<"$HTTP_BODY" | show
  [[ -n "$expect" ]] && ok "$expect = 3 × $P1_PRICE + 1 × $P2_PRICE: one ledger row per payment order line"
  return 0
}

# cancel_settled CANCEL_NO -> 0 once the cancel is DONE and the sellers' reversal came back
reversal_done() {
  QUIET=1 call GET "$ORDER_URL/api/payments/$1" "" 200
  LAST_STATE="$(jget "$HTTP_BODY" '.cancels[].status' --join ' ')"
  [[ "$(jget "$HTTP_BODY" '.refundableAmount')" != "" ]] && [[ "$LAST_STATE" != *UNKNOWN* && "$LAST_STATE" != *REQUESTED* ]]
}

# Give money back: a partial (or full) cancel refunds at the PSP, the order goes
# PARTIAL_CANCELED / CANCELED, the sellers' credit is reversed (docs/payments.md).
flow_cancel() {
  local order=${1:-${LAST_ORDER_ID:-}} amount=${2:-} body seller balance
  [[ -n "$order" ]] || fail "no order to cancel: give one (just cancel ORDER_ID [AMOUNT]) or run just pay first"
  step "Cancel and refund order $order${amount:+ ($amount won)}"
  QUIET=1 call GET "$ORDER_URL/api/payments/$order" "" 200
  seller="$(jget "$HTTP_BODY" '.lines[0].sellerNo')"
  ok "before: status $(jget "$HTTP_BODY" '.status'), refunded $(jget "$HTTP_BODY" '.refundedAmount'), refundable $(jget "$HTTP_BODY" '.refundableAmount')"
  QUIET=1 call GET "$WALLET_URL/api/wallets/sellers/$seller" "" 200
  balance="$(jget "$HTTP_BODY" '.balance')"
  if [[ -n "$amount" ]]; then
    body="{\"cancelReason\":\"demo: 고객 변심\",\"cancelAmount\":$amount}"
  else
    body='{"cancelReason":"demo: 전체 취소"}'
  fi
  call POST "$ORDER_URL/api/payments/$order/cancel" "$body" 200 202
  ok "cancel $(jget "$HTTP_BODY" '.cancelNo'): $(jget "$HTTP_BODY" '.status') — refunded $(jget "$HTTP_BODY" '.cancelAmount') at the PSP; the order is $(jget "$HTTP_BODY" '.orderStatus'), $(jget "$HTTP_BODY" '.refundableAmount') still refundable"
  local refunded
  refunded="$(jget "$HTTP_BODY" '.cancelAmount')"
  wait_until 30 "the cancel to be done" reversal_done "$order"
  local expect
  expect="$("$OPS_BIN" decimal sub "$balance" "$refunded")"
  SELLER_NO=$seller wait_until 30 "seller $seller's balance $expect" wallet_balance_is "$expect"
  ok "order.payment.canceled → wallet-reversal: seller $seller $balance → $expect after $(fmt_ms "$WAITED_MS") (once per cancel, keyed by cancelNo)"
}

# Pay the seller out of the ledger (docs/ledger.md): once the hold has released the sales
# (SETTLEMENT_HOLD, 10 s under just up), part of the available money goes to the PSP's payouts
# API; the sandbox settles it and its signed payout.changed webhook completes it.
wallet_available_at_least() {
  QUIET=1 call GET "$WALLET_URL/api/wallets/sellers/$SELLER_NO" "" 200
  LAST_STATE="pending $(jget "$HTTP_BODY" '.pending'), available $(jget "$HTTP_BODY" '.available')"
  "$OPS_BIN" decimal ge "$(jget "$HTTP_BODY" '.available')" "$1"
}
payout_final() {
  QUIET=1 call GET "$WALLET_URL/api/wallets/sellers/$SELLER_NO/payouts/$1" "" 200
  LAST_STATE="$(jget "$HTTP_BODY" '.status')"
  [[ "$LAST_STATE" == FAILED ]] && fail "payout $1 FAILED: $(jget "$HTTP_BODY" '.failureCode?')"
  [[ "$LAST_STATE" == COMPLETED ]]
}
show_payout_balances() {
  QUIET=1 call GET "$WALLET_URL/api/wallets/sellers/$SELLER_NO" "" 200
  ok "$1: available $(jget "$HTTP_BODY" '.available'), inTransit $(jget "$HTTP_BODY" '.inTransit'), paidOut $(jget "$HTTP_BODY" '.paidOut') (pending $(jget "$HTTP_BODY" '.pending'))"
}
flow_payout() {
  local seller=${1:-${SELLER_NO:-1}} amount=${2:-} available payout_no
  SELLER_NO=$seller
  step "Pay seller $seller out through the PSP"
  wait_until 60 "money available to seller $seller (the hold release)" wallet_available_at_least "${amount:-1}"
  ok "available after $(fmt_ms "$WAITED_MS"): $LAST_STATE"
  available="$(jget "$HTTP_BODY" '.available')"
  if [[ -z "$amount" ]]; then # half of it, at least 1 won
    amount="$("$OPS_BIN" decimal div "$available" 2 --int)"
    ((amount >= 1)) || amount=1
  fi
  local over
  over="$("$OPS_BIN" decimal add "$available" 1 --int)"
  call POST "$WALLET_URL/api/wallets/sellers/$seller/payouts" "{\"amount\":$over}" 422
  ok "$over won is more than is available: $(problem_of "$HTTP_BODY" | cut -d' ' -f1)"
  call POST "$WALLET_URL/api/wallets/sellers/$seller/payouts" "{\"amount\":$amount}" 201
  payout_no="$(jget "$HTTP_BODY" '.payoutNo')"
  ok "payout $payout_no of $amount: $(jget "$HTTP_BODY" '.status') (PSP id $(jget "$HTTP_BODY" '.pspPayoutId?'); PAYOUT entry: available → in transit)"
  show_payout_balances "right after"
  wait_until 30 "payout $payout_no COMPLETED" payout_final "$payout_no"
  ok "COMPLETED after $(fmt_ms "$WAITED_MS"), via $(jget "$HTTP_BODY" '.history[]' --format '{to} ({source})' --join ' → ')"
  show_payout_balances "after the PSP's webhook"
}

# An undecodable message: every consumer of the subject terminates it at once; a replay runs the
# same bytes through the one consumer's handler again, which fails again — reported, and the letter
# stays open (correct for a message no code can read). Nothing is republished.
POISON_CONSUMERS="hot-catalog-orders order-query-projection review-purchases wallet-settlement"
dead_lettered_by_all() {
  dead_letters_with_msg_id "$1"
  local got
  got="$(jget "$DL_FOUND" '[].consumer' --sort --join ' ')"
  LAST_STATE="dead-lettered by: ${got:-nobody yet}"
  [[ "$got" == "$POISON_CONSUMERS" ]]
}

flow_poison() {
  step "A poison event: undecodable → dead letters → replay"
  local msg_id wallet_id
  msg_id="demo-poison-$(date +%s%N)"
  publish order.payment.confirmed "$msg_id" 'not json'
  ok "published 'not json' to order.payment.confirmed, Nats-Msg-Id $msg_id → $(jget "$PUBACK" . --format '{stream} seq {seq}')"
  wait_until 20 "dead letters for $msg_id" dead_lettered_by_all "$msg_id"
  ok "all 4 consumers of the subject terminated it at once (no retries: it can never decode) — $(fmt_ms "$WAITED_MS"):"
  print_dead_letters "$DL_FOUND" | show
  wallet_id="$(jget "$DL_FOUND" '[service=wallet-service].id' | head -n 1)"
  [[ -n "$wallet_id" ]] || fail "no dead letter of wallet-service among: $DL_FOUND"
  HTTP_AUTH="$ADMIN_TOKEN" call GET "$WALLET_URL/admin/dead-letters/$wallet_id" "" 200
  ok "inspect $wallet_id: reason $(jget "$HTTP_BODY" '.reason'), payloadText $(jget "$HTTP_BODY" '.payloadText' --json), headers $(jget "$HTTP_BODY" '.headers')"
  HTTP_AUTH="$ADMIN_TOKEN" call POST "$WALLET_URL/admin/dead-letters/$wallet_id/replay" "" 422
  [[ "$(jget "$HTTP_BODY" '.code')" == DEAD_LETTER_REPLAY_FAILED ]] ||
    fail "expected DEAD_LETTER_REPLAY_FAILED, got $(problem_of "$HTTP_BODY")"
  ok "replay through wallet-settlement's handler failed again: $(jget "$HTTP_BODY" '.detail')"
  HTTP_AUTH="$ADMIN_TOKEN" QUIET=1 call GET "$WALLET_URL/admin/dead-letters/$wallet_id" "" 200
  ok "dead letter $wallet_id stays open: resolvedAt $(jget "$HTTP_BODY" '.resolvedAt' --json), replayCount $(jget "$HTTP_BODY" '.replayCount'), lastError $(jget "$HTTP_BODY" '.lastError' --json)"
  dead_letters_with_msg_id "$msg_id"
  # one per consumer of the subject (review-purchases made them 4): the replay added none
  local expected
  expected="$(wc -w <<<"$POISON_CONSUMERS")"
  [[ "$(jget "$DL_FOUND" '[]' --len)" == "$expected" ]] ||
    fail "expected the $expected dead letters of $msg_id, found: $(jget "$DL_FOUND" '[]' --len)"
  note "the replay ran in wallet-service only (nothing republished): the other consumers saw nothing,"
  note "and no new dead letter appeared. A replay helps once the cause is fixed — see the next flow (just recover)."
}

# A valid order dead-lettered by a (simulated) outage of order-query's database: fixed, replayed,
# applied by order-query's own handler; the other consumers of the subject never see the replay.
OUTAGE_ON=0
OQ_DB_URL="$PG_BASE_URL/${SERVICE_DB[order-query-service]}"
demo_cleanup() {
  if ((OUTAGE_ON == 1)); then
    psql -qAt -v ON_ERROR_STOP=1 "$OQ_DB_URL" \
      -c "alter table order_view_lines drop constraint if exists paymsa_demo_outage" >/dev/null 2>&1 &&
      printf '  · (cleanup) simulated outage removed from order-query\n' >&2
    OUTAGE_ON=0
  fi
}
# new_projection_dead_letter ORDER_ID -> DL_ID of order-query's dead letter whose payload is it
new_projection_dead_letter() {
  HTTP_AUTH="$ADMIN_TOKEN" QUIET=1 call GET "$ORDER_QUERY_URL/admin/dead-letters?limit=20" "" 200
  local id
  for id in $(jget "$HTTP_BODY" '.items[consumer=order-query-projection][replayCount=0].id'); do
    HTTP_AUTH="$ADMIN_TOKEN" QUIET=1 call GET "$ORDER_QUERY_URL/admin/dead-letters/$id" "" 200
    if [[ "$(jget "$HTTP_BODY" '.payloadText?')" == *"\"$1\""* ]]; then
      DL_ID=$id DL_DETAIL="$HTTP_BODY"
      return 0
    fi
  done
  LAST_STATE="no dead letter for $1 yet"
  return 1
}
member_order_status() {
  http GET "$ORDER_QUERY_URL/api/orders/payment-events/$PAYMENT_EVENT_NO/members/$1"
  LAST_STATE="HTTP $HTTP_STATUS"
  [[ "$HTTP_STATUS" == 200 ]]
}
flow_recover() {
  local member=${1:-$(default_member)} product=${P2:-2} seller
  step "A fixable failure: outage → dead letter → fix → replay"
  command -v psql >/dev/null || fail "psql is needed to simulate the outage (apt-get install postgresql-client)"
  OUTAGE_ON=1
  psql -qAt -v ON_ERROR_STOP=1 "$OQ_DB_URL" -c \
    "alter table order_view_lines add constraint paymsa_demo_outage check (false) not valid" >/dev/null ||
    fail "could not simulate the outage in ${SERVICE_DB[order-query-service]}"
  ok "simulated outage: order-query's database refuses new order lines (a CHECK (false) constraint)"
  hot_fetch
  local lines_before
  lines_before="$(hot_entry "$product" paidOrderLines)"
  pay_order "$member" "$product"
  if [[ -n "$lines_before" ]]; then
    wait_until 20 "hot-catalog counting the order" hot_counts_are "$product" \
      "$(hot_entry "$product" likeCount)" "$(hot_entry "$product" reviewCount)" $((lines_before + 1))
  fi
  QUIET=1 call GET "$ORDER_URL/api/payments/$ORDER_ID" "" 200
  seller="$(jget "$HTTP_BODY" '.lines[0].sellerNo')"
  QUIET=1 call GET "$WALLET_URL/api/wallets/sellers/$seller" "" 200
  local balance
  balance="$(jget "$HTTP_BODY" '.balance')"
  wait_until 30 "order-query giving up on order $ORDER_ID" new_projection_dead_letter "$ORDER_ID"
  ok "order-query-projection failed 3 times (retry after 1 s, 2 s) → dead letter $DL_ID, $(jget "$DL_DETAIL" '.reason') after $(jget "$DL_DETAIL" '.deliveries') deliveries ($(fmt_ms "$WAITED_MS"))"
  call GET "$ORDER_QUERY_URL/api/orders/payment-events/$PAYMENT_EVENT_NO/members/$member" "" 404
  ok "so the member's order history lacks the order, while the wallet has it (balance $balance)"
  psql -qAt -v ON_ERROR_STOP=1 "$OQ_DB_URL" -c \
    "alter table order_view_lines drop constraint paymsa_demo_outage" >/dev/null || fail "could not end the outage"
  OUTAGE_ON=0
  ok "outage fixed"
  HTTP_AUTH="$ADMIN_TOKEN" call POST "$ORDER_QUERY_URL/admin/dead-letters/$DL_ID/replay" "" 200
  [[ "$(jget "$HTTP_BODY" '.outcome')" == APPLIED ]] || fail "expected APPLIED, got $(jget "$HTTP_BODY" '.outcome')"
  ok "replayed through $(jget "$HTTP_BODY" '.consumer')'s handler: APPLIED, resolved at $(jget "$HTTP_BODY" '.deadLetter.resolvedAt') (same eventId $(jget "$HTTP_BODY" '.deadLetter.eventId'))"
  call GET "$ORDER_QUERY_URL/api/orders/payment-events/$PAYMENT_EVENT_NO/members/$member" "" 200
  ok "the member's history has it as soon as the replay answered: status $(jget "$HTTP_BODY" '.status'), walletSettled $(jget "$HTTP_BODY" '.walletSettled') (wallet.settled had come first and was kept)"
  HTTP_AUTH="$ADMIN_TOKEN" call POST "$ORDER_QUERY_URL/admin/dead-letters/$DL_ID/replay" "" 200
  [[ "$(jget "$HTTP_BODY" '.outcome')" == ALREADY_RESOLVED ]] ||
    fail "a second replay should not run again, got $(jget "$HTTP_BODY" '.outcome')"
  ok "replayed again: ALREADY_RESOLVED, the handler was not run again"
  sleep 1 # a republished copy (there is none) would reach the other consumers within this
  QUIET=1 call GET "$WALLET_URL/api/wallets/sellers/$seller" "" 200
  [[ "$(jget "$HTTP_BODY" '.balance')" == "$balance" ]] ||
    fail "the replay changed seller $seller's balance: $balance → $(jget "$HTTP_BODY" '.balance')"
  local also="balance still $balance"
  if [[ -n "$lines_before" ]]; then
    hot_fetch
    [[ "$(hot_entry "$product" paidOrderLines)" == $((lines_before + 1)) ]] ||
      fail "the replay changed the ranking: paid lines of $product $((lines_before + 1)) → $(hot_entry "$product" paidOrderLines)"
    also+=", paid lines of $(label "$product") still $((lines_before + 1))"
  fi
  ok "wallet-settlement and hot-catalog-orders never saw the replay: $also"
}

# ---------------------------------------------------------------------------------------------

flow_all() {
  DEMO_ALL=1 STEP_TOTAL=14
  printf '%spaymsa demo%s — %s\n' "$d_bold" "$d_off" "$(date '+%Y-%m-%d %H:%M:%S')"
  MEMBER_NO="$(new_member_no)"
  flow_seller
  note "member for this run: $MEMBER_NO"
  flow_products
  flow_pay "$P1,$P2" "$MEMBER_NO"
  FIRST_ORDER_ID=$ORDER_ID
  flow_more_orders "$MEMBER_NO"
  flow_hot_after_purchases
  flow_like "$P2" "$MEMBER_NO"
  flow_review "$P2" "$MEMBER_NO" FIVE
  flow_hot_after_engagement
  flow_orders "$MEMBER_NO" 3
  flow_wallet "$SELLER_NO" "$((3 * P1_PRICE + P2_PRICE))"
  flow_cancel "$FIRST_ORDER_ID" "$P1_PRICE"
  flow_payout "$SELLER_NO"
  flow_poison
  flow_recover "$MEMBER_NO"
  summary
  printf '\n%s✓ demo complete%s (state in %s; inspect: just streams · just dlq)\n' "$d_green" "$d_off" "${DEMO_STATE#"$PAYMSA_ROOT"/}"
}

cmd=${1:-all}
shift || true
preflight
ops_build # jget, the tables and the arithmetic below run tools/paymsa-ops
state_load
case "$cmd" in
all) flow_all ;;
seller) flow_seller "$@" ;;
products) flow_products ;;
pay) flow_pay "$@" ;;
like) flow_like "$@" ;;
review) flow_review "$@" ;;
hot) flow_hot "$@" ;;
orders) flow_orders "$@" ;;
wallet) flow_wallet "$@" ;;
poison) flow_poison ;;
recover) flow_recover "$@" ;;
cancel) flow_cancel "$@" ;;
payout) flow_payout "$@" ;;
*)
  echo "usage: $0 [all|seller|products|pay|like|review|hot|orders|wallet|cancel|payout|poison|recover] [args]" >&2
  exit 2
  ;;
esac
end_step
