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

# rustfmt check + clippy -D warnings
lint:
    @scripts/lint.sh

# format the code
fmt:
    @scripts/cargo.sh fmt --all

# build all binaries (debug)
build:
    @scripts/cargo.sh build --bins

# benchmarks (`just bench` = all, `just bench snowflake` = one)
bench *names:
    @scripts/bench.sh "$@"

# make sure Postgres and Redis run (reuse, start, or docker compose)
infra:
    @scripts/infra.sh ensure

# validate compose.yaml (installs Debian's docker-compose if no compose is available)
compose-check:
    @scripts/compose-check.sh
