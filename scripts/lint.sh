#!/usr/bin/env bash
# `just lint`: rustfmt check, clippy with warnings as errors, the committed `.sqlx/` query
# caches against the queries and migrations (needs Postgres; tools/sqlx-prepare), (where
# cargo-deny is installed) the dependencies' licenses, bans and sources (deny.toml), and (where
# promtool is installed) the Prometheus rules and Grafana dashboards. Runs all, fails if any does.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PAYMSA_ROOT"
cargo_env

rc=0
info "cargo fmt --all --check"
if cargo fmt --all --check; then ok "formatting"; else
  rc=1
  warn "formatting differs: run \`cargo fmt --all\`"
fi
info "cargo clippy --workspace --all-targets -- -D warnings"
if cargo clippy --workspace --all-targets -- -D warnings; then ok "clippy"; else rc=1; fi
info "query caches: .sqlx/ regenerated against a scratch database and compared (tools/sqlx-prepare --check)"
if TEST_DATABASE_URL="${TEST_DATABASE_URL:-$PG_BASE_URL}" cargo run -q -p sqlx-prepare -- --check; then
  ok "query caches"
else
  rc=1
  warn "stale query caches or no Postgres: run \`just sqlx-prepare\` (Postgres: \`just infra\`)"
fi
if command -v cargo-deny >/dev/null; then
  # Advisories need the RustSec database from GitHub, which these machines cannot reach
  # (deny.toml says more); licenses, bans and sources are checked offline.
  info "cargo deny check licenses bans sources"
  # cargo-deny reads the metadata of every platform's dependencies (windows-sys, …), which a
  # build on this one never downloads: on a fresh machine the offline check failed for want
  # of them (a CI clone in stop 25). `cargo fetch` gets them all from crates.io.
  cargo fetch --locked -q || warn "cargo fetch failed: cargo-deny may miss crates"
  if cargo deny --offline check --hide-inclusion-graph licenses bans sources; then ok "dependencies: licenses, bans, sources"; else rc=1; fi
else
  dim "  cargo-deny not installed: licenses, bans and sources not checked (cargo install cargo-deny --locked)"
fi
if command -v promtool >/dev/null; then
  info "promtool: alert rules, their unit tests, scrape config, dashboard expressions (scripts/promcheck.sh)"
  if "$PAYMSA_ROOT/scripts/promcheck.sh"; then ok "prometheus rules and dashboards"; else rc=1; fi
else
  dim "  promtool not installed: alert rules not checked (apt-get install prometheus)"
fi
exit "$rc"
