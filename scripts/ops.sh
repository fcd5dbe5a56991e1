#!/usr/bin/env bash
# Inspection of the running stack (docs/operations.md):
#
#   scripts/ops.sh streams       streams, their consumers, pending, redeliveries
#   scripts/ops.sh dlq [ID]      dead letters of every service (or one dead letter in full)
#   scripts/ops.sh replay ID     replay a dead letter through its consumer's handler; says what happened
#
# Streams come from the nats CLI when it is installed (PAYMSA_NO_NATS_CLI=1 skips it), otherwise
# from the server's monitoring endpoint (.run/nats.monitor: /jsz). Dead letters always come from
# the services' admin API (GET /admin/dead-letters, POST /admin/dead-letters/{id}/replay, bearer
# $ADMIN_TOKEN, default paymsa-local-admin): the DLQ stream holds only the server's advisories,
# the services resolve them to the original messages and own the replay (run in process through
# the failed consumer's handler; nothing is republished).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=demo-lib.sh
source "$PAYMSA_ROOT/scripts/demo-lib.sh"
install_traps

# Streams of the tests' namespaces (service_kit::testing::is_test_stream): T + 12 hex + _.
TEST_STREAM_RE='^T[0-9A-F]{12}_'

cmd_streams() {
  local url mon shown
  require_nats
  url=$NATS_IN_USE
  shown="$(sed 's#//[^/@]*@#//#g' <<<"$url")" # without the admin password
  if has_nats_cli; then
    printf '%sNATS %s%s — nats CLI\n' "$d_bold" "$shown" "$d_off"
    nats --server "$url" stream ls
    local s
    for s in $(nats --server "$url" stream ls --names 2>/dev/null | grep -Ev "$TEST_STREAM_RE"); do
      echo
      nats --server "$url" consumer report "$s"
    done
    return
  fi
  mon="$(nats_monitor)"
  [[ -n "$mon" ]] || fail "no nats CLI and no monitoring endpoint known for $shown (.run/nats.monitor is written by just up)"
  # The answer goes through a file, never argv: a server that a test run shared holds thousands
  # of streams, and one argument is limited to 128 KiB ("Argument list too long").
  local jsz
  jsz="$(mktemp)"
  if ! curl -fsS --max-time 20 -o "$jsz" "$mon/jsz?consumers=true&config=true&limit=100000"; then
    rm -f "$jsz"
    fail "GET $mon/jsz answered nothing"
  fi
  printf '%sNATS %s%s — from %s/jsz?consumers=true&config=true (no nats CLI)\n\n' "$d_bold" "$shown" "$d_off" "$mon"
  jsz_report "$jsz" "$TEST_STREAM_RE"
  rm -f "$jsz"
}

# jsz_report FILE TEST_RE -> the streams/consumers table of a /jsz answer stored in FILE;
# test-namespace streams (TEST_RE) are counted, not listed.
jsz_report() {
  python3 -c 'import json, re, sys
d = json.load(open(sys.argv[1]))
test_re = re.compile(sys.argv[2])
'"$JSZ_REPORT_PY" "$@"
}

JSZ_REPORT_PY='
import datetime
def size(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024
now = datetime.datetime.fromisoformat(d["now"][:26].rstrip("Z")) if d.get("now") else None
def ago(ts):
    if not ts or not now: return "-"
    t = datetime.datetime.fromisoformat(ts[:26].rstrip("Z"))
    s = (now - t).total_seconds()
    if s < 0 or t.year < 2000: return "-"
    return "%ds ago" % s if s < 120 else "%dm ago" % (s / 60) if s < 7200 else "%dh ago" % (s / 3600)
def table(head, rows, indent=""):
    w = [max(len(str(r[k])) for r in rows + [head]) for k in range(len(head))]
    for r in [head] + rows:
        print(indent + "  ".join(str(c).ljust(w[k]) for k, c in enumerate(r)).rstrip())
streams = [s for a in d.get("account_details") or [] for s in a.get("stream_detail") or []]
tests = [s for s in streams if test_re.match(s["name"])]
streams = [s for s in streams if not test_re.match(s["name"])]
if tests:
    print("(%d test-namespace streams with %d consumers not shown: left by a `just test` that was interrupted;" % (
        len(tests), sum(len(s.get("consumer_detail") or []) for s in tests)))
    print(" the next `just test` deletes them)\n")
if not streams:
    print("no streams yet (the services create them at start)")
total_pending = 0
for s in sorted(streams, key=lambda s: (s["name"] == "DLQ", s["name"])):
    st, cfg = s.get("state", {}), s.get("config", {})
    subjects = cfg.get("subjects") or []
    subj = ",".join(subjects) if len(",".join(subjects)) <= 60 else "%s (+%d more)" % (subjects[0], len(subjects) - 1)
    print("stream %s  subjects %s  messages %d  %s  seq %d..%d  retention %s  replicas %d" % (
        s["name"], subj, st.get("messages", 0), size(st.get("bytes", 0)),
        st.get("first_seq", 0), st.get("last_seq", 0), cfg.get("retention", "?"), cfg.get("num_replicas", 1)))
    rows = []
    for c in sorted(s.get("consumer_detail") or [], key=lambda c: c["name"]):
        cc = c.get("config", {})
        filters = [cc["filter_subject"]] if cc.get("filter_subject") else cc.get("filter_subjects") or []
        filt = ",".join(filters) or "(all)"
        if len(filt) > 50: filt = "%s (+%d more)" % (filters[0], len(filters) - 1)
        md = cc.get("max_deliver", "-")
        md = "unlimited" if md == -1 else md
        total_pending += c.get("num_pending", 0) + c.get("num_ack_pending", 0)
        rows.append((c["name"], filt, c.get("delivered", {}).get("stream_seq", 0), c.get("ack_floor", {}).get("stream_seq", 0),
                     c.get("num_pending", 0), c.get("num_ack_pending", 0), c.get("num_redelivered", 0),
                     md, ago(c.get("delivered", {}).get("last_active"))))
    if rows:
        table(("consumer", "filter", "delivered", "ack floor", "pending", "ack pending", "redelivered", "max deliver", "last delivery"), rows, "    ")
    else:
        print("    (no consumers)")
    print()
print("pending: not yet delivered · ack pending: delivered, not yet acknowledged · redelivered: messages")
print("the server redelivered and still tracks · ack floor: every message up to it is done (acked, or")
print("terminated / out of deliveries) · DLQ messages: the dead-letter advisories of all consumers.")
print("Dead letters resolved to their messages: just dlq")'

# find_dead_letter ID -> DL_SERVICE and HTTP_BODY (its detail): asks every service with consumers
find_dead_letter() {
  local id=$1 svc
  [[ "$id" =~ ^[0-9]+$ ]] || fail "not a dead-letter id: $id (the ids are numbers; list them with: just dlq)"
  for svc in "${DLQ_SERVICES[@]}"; do
    HTTP_AUTH="$ADMIN_TOKEN" http GET "$(url_of "$svc")/admin/dead-letters/$id"
    case "$HTTP_STATUS" in
    200)
      DL_SERVICE=$svc
      return 0
      ;;
    404) ;;
    401) fail "$svc answered 401: the services run with another ADMIN_TOKEN (set ADMIN_TOKEN)" ;;
    *) fail "$svc: GET /admin/dead-letters/$id answered $HTTP_STATUS: $(problem_of "$HTTP_BODY")" ;;
    esac
  done
  fail "no service has dead letter $id (list them with: just dlq)"
}

print_detail() {
  jpy "$1" '
for k in ("id", "stream", "streamSeq", "consumer", "subject", "reason", "deliveries", "eventId", "msgId",
          "firstSeenAt", "replayCount", "lastReplayedAt", "resolvedAt", "lastError", "replayable"):
    v = d.get(k)
    print("%-15s %s" % (k, "-" if v is None else json.dumps(v) if isinstance(v, bool) else v))
print("%-15s %s" % ("headers", json.dumps(d.get("headers") or {})))
text = d.get("payloadText")
if text is None:
    print("%-15s (not UTF-8; base64) %s" % ("payload", d.get("payload", "")[:400]))
else:
    try:
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except Exception:
        pass
    if len(text) > 4000: text = text[:4000] + "\n… (truncated)"
    print("payload:")
    print("\n".join("  " + l for l in text.splitlines()))'
}

cmd_dlq() {
  if [[ -n "${1:-}" ]]; then
    find_dead_letter "$1"
    printf '%sdead letter %s%s (%s)\n' "$d_bold" "$1" "$d_off" "$DL_SERVICE"
    print_detail "$HTTP_BODY"
    printf '\nreplay it: just replay %s\n' "$1"
    return
  fi
  dead_letters_all
  local all
  all="$(jpy "$DL_ALL" '
items = [dict(i, service=s) for s, l in d.items() for i in l]
items.sort(key=lambda i: i["firstSeenAt"], reverse=True)
print(json.dumps(items))')"
  local limit=${DLQ_LIMIT:-20} shown total
  [[ "$limit" =~ ^[0-9]+$ ]] || fail "DLQ_LIMIT must be a number"
  total="$(jget "$all" 'len(d)')"
  all="$(jget "$all" "d[:$limit]")"
  shown="$(jget "$all" 'len(d)')"
  printf '%sdead letters%s per service: %s\n' "$d_bold" "$d_off" \
    "$(jget "$DL_ALL" '", ".join("%s %s" % (s, len(l) if len(l) < 100 else "100+") for s, l in d.items())')"
  if ((total == 0)); then
    echo "none"
  else
    ((shown < total)) && printf 'the newest %s of %s (more: DLQ_LIMIT=100 just dlq):\n' "$shown" "$total"
    jpy "$all" '
rows = [(i["firstSeenAt"][:19].replace("T", " "), i["service"], i["id"], i["consumer"], "%s:%s" % (i["stream"], i["streamSeq"]),
         i["subject"] or "(gone)", i["reason"], str(i["deliveries"]), str(i["replayCount"]),
         "resolved" if i.get("resolvedAt") else "open") for i in d]
head = ("first seen", "service", "id", "consumer", "stream:seq", "subject", "reason", "deliv", "replays", "state")
w = [max(len(r[k]) for r in rows + [head]) for k in range(len(head))]
for r in [head] + rows:
    print("  ".join(c.ljust(w[k]) for k, c in enumerate(r)).rstrip())'
  fi
  local mon
  mon="$(nats_monitor)"
  if [[ -n "$mon" ]]; then
    local n
    n="$(curl -fsS --max-time 5 "$mon/jsz?streams=true" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(s["state"]["messages"] for a in d.get("account_details") or [] for s in a.get("stream_detail") or [] if s["name"] == "DLQ"))' 2>/dev/null)" || n=""
    [[ -n "$n" ]] && printf '\nDLQ stream: %s advisories in total. ' "$n"
  fi
  printf 'Inspect one: just dlq <id> · replay: just replay <id>\n'
}

cmd_replay() {
  local id=${1:-}
  [[ -n "$id" ]] || fail "usage: just replay <id> (ids: just dlq)"
  find_dead_letter "$id"
  local svc=$DL_SERVICE detail=$HTTP_BODY consumer
  consumer="$(jget "$detail" 'd["consumer"]')"
  printf '%sreplay of dead letter %s%s: %s of %s on %s:%s (%s after %s delivery(ies), replayed %s time(s) before)\n' \
    "$d_bold" "$id" "$d_off" "$svc" "$consumer" "$(jget "$detail" 'd["stream"]')" "$(jget "$detail" 'd["streamSeq"]')" \
    "$(jget "$detail" 'd["reason"]')" "$(jget "$detail" 'd["deliveries"]')" "$(jget "$detail" 'd["replayCount"]')"
  # The service runs the stored message through $consumer's own handler and answers what
  # happened (libs/messaging/src/dead_letters/replay.rs): nothing is published, so no other
  # consumer of the subject sees it, and there is nothing to wait for.
  HTTP_AUTH="$ADMIN_TOKEN" call POST "$(url_of "$svc")/admin/dead-letters/$id/replay" "" 200 409 422
  case "$HTTP_STATUS:$(jget "$HTTP_BODY" 'd.get("outcome") or d.get("code")')" in
  200:APPLIED) ok "$consumer applied it; the dead letter is resolved" ;;
  200:DUPLICATE) ok "$consumer had applied this event already (processed-events): nothing changed; the dead letter is resolved" ;;
  200:ALREADY_RESOLVED) ok "an earlier replay resolved it ($(jget "$HTTP_BODY" 'd["deadLetter"]["resolvedAt"]')); not run again" ;;
  422:*)
    printf '  %s✗%s %s failed again — the dead letter stays open: %s\n' "$d_red" "$d_off" "$consumer" "$(jget "$HTTP_BODY" 'd["detail"]')"
    return 1
    ;;
  *) fail "not replayed: $(problem_of "$HTTP_BODY")" ;;
  esac
}

case "${1:-}" in
streams) cmd_streams ;;
dlq) cmd_dlq "${2:-}" ;;
replay) cmd_replay "${2:-}" ;;
*)
  echo "usage: $0 streams | dlq [ID] | replay ID" >&2
  exit 2
  ;;
esac
