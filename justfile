# paymsa — local stack and checks. Recipes are thin: the work is in scripts/ (see
# docs/local-stack.md). Every cargo command goes through scripts/cargo.sh so all of them share
# one set of build flags (mold as linker when installed) and one build cache.

set shell := ["bash", "-euo", "pipefail", "-c"]
set positional-arguments

# list the recipes
default:
    @just --list --unsorted

# start Postgres/Redis/NATS if needed, build and start all services, seed, print URLs
up:
    @scripts/up.sh

# stop the services and the nats-server that `just up` started (Postgres/Redis stay)
down:
    @scripts/down.sh

# load the demo data (seed/*.sql) into the running stack's databases
seed:
    @scripts/seed.sh

# what runs: Postgres, Redis, NATS, each service and its readiness
status:
    @scripts/status.sh

# follow a service's log (`just logs order`, `just logs nats`)
logs service:
    @scripts/logs.sh "$1"

# the NATS URL in use
nats-url:
    @scripts/nats.sh url

# every test against real Postgres/Redis/NATS; extra args go to nextest (`just test -p snowflake`)
test *args:
    @scripts/test.sh "$@"

# schemathesis against every service's /openapi.json on the running stack (`just up` first)
fuzz:
    @scripts/fuzz.sh

# rustfmt check + clippy -D warnings + the .sqlx/ query caches up to date (needs Postgres)
lint:
    @scripts/lint.sh

# refresh the committed .sqlx/ query caches after changing a checked query or a migration (needs Postgres: `just infra`)
sqlx-prepare:
    @scripts/cargo.sh run -q -p sqlx-prepare

# format the code
fmt:
    @scripts/cargo.sh fmt --all

# build all binaries (debug)
build:
    @scripts/cargo.sh build --bins

# export every service's OpenAPI spec to openapi/<service>.json (no backends needed)
openapi:
    @scripts/cargo.sh run -q -p paymsa-e2e --bin openapi

# benchmarks (`just bench` = all, `just bench snowflake` = one, `just bench e2e` = the whole system)
bench *names:
    @scripts/bench.sh "$@"

# seeded fault run with the ledger invariants (`just chaos --payments 5000 --seed 42`)
chaos *args:
    @scripts/loadgen.sh release chaos "$@"

# 3 instances of order/wallet/hot-catalog on a 3-node NATS cluster: sharing, rebalancing, a node lost
scale *args:
    @scripts/loadgen.sh release scale "$@"

# Prometheus with the alert rules against `just up`'s stack (stopped by `just down`); prints its URL
observe:
    @scripts/observe.sh

# validate deploy/k8s offline: kustomize renders + kubernetes-validate --strict (pip-installs both)
k8s-check:
    @scripts/k8s-check.sh

# make sure Postgres and Redis run (reuse, start, or docker compose)
infra:
    @scripts/infra.sh ensure

# validate compose.yaml (installs Debian's docker-compose if no compose is available)
compose-check:
    @scripts/compose-check.sh

# --- demo flows (`paymsa-ops demo`, built and started by scripts/demo.sh) and inspection
# (scripts/ops.sh); see docs/operations.md ---

# walk every user flow against the running stack (`just up` first); stops at the first failure
demo:
    @scripts/demo.sh all

# register a seller and wait for the onboarding saga to reach ACTIVE (`just seller [SELLER_ID]`)
seller *args:
    @scripts/demo.sh seller "$@"

# list two products for the demo seller (registers one first if there is none)
products:
    @scripts/demo.sh products

# checkout → PSP sandbox approval → confirm → wallet settlement (`just pay [1,2] [MEMBER_NO]`)
pay *args:
    @scripts/demo.sh pay "$@"

# cancel and refund an order, in part or in full (`just cancel [ORDER_ID] [AMOUNT]`; default: the last paid order, all of it)
cancel *args:
    @scripts/demo.sh cancel "$@"

# pay a seller out through the PSP, wait for the webhook (`just payout [SELLER_NO] [AMOUNT]`; default half of available)
payout *args:
    @scripts/demo.sh payout "$@"

# print a dev JWT for the local stack's key (`just token member 7`, `just token seller 1`, `just token admin`); dev only
token *args:
    @scripts/cargo.sh run -q -p devtoken -- keygen .run/dev-jwt && scripts/cargo.sh run -q -p devtoken -- sign .run/dev-jwt "$@"

# like a product, then like it again (no second count) (`just like [PRODUCT_NO] [MEMBER_NO]`)
like *args:
    @scripts/demo.sh like "$@"

# review a product (`just review [PRODUCT_NO] [MEMBER_NO] [ONE..FIVE]`)
review *args:
    @scripts/demo.sh review "$@"

# the hot-products ranking (`just hot [LIMIT]`)
hot *args:
    @scripts/demo.sh hot "$@"

# a member's orders, page by page (`just orders [MEMBER_NO]`)
orders *args:
    @scripts/demo.sh orders "$@"

# a seller's wallet: balance and ledger (`just wallet [SELLER_NO]`)
wallet *args:
    @scripts/demo.sh wallet "$@"

# publish an undecodable event: dead letters in 4 services; a replay fails again, the letter stays open
poison:
    @scripts/demo.sh poison

# a valid event dead-lettered by a simulated outage, fixed, replayed and applied
recover *args:
    @scripts/demo.sh recover "$@"

# streams and consumers: pending, ack floor, redeliveries (nats CLI, else the monitoring endpoint)
streams:
    @scripts/ops.sh streams

# the ops console (admin only) on http://127.0.0.1:8095: streams, dead letters + replay, outbox, payments
console:
    @scripts/console.sh

# dead letters of every service, newest first (`just dlq ID` shows one in full)
dlq *id:
    @scripts/ops.sh dlq "$@"

# replay a dead letter through its consumer's own handler and say what happened (`just replay ID`)
replay id:
    @scripts/ops.sh replay "$1"
