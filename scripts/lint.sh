#!/usr/bin/env bash
# `just lint`: rustfmt check, clippy with warnings as errors, (where cargo-deny is installed)
# the dependencies' licenses, bans and sources (deny.toml), and (where promtool is installed)
# the Prometheus rules and Grafana dashboards. Runs all, fails if any does.
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
if command -v cargo-deny >/dev/null; then
  # Advisories need the RustSec database from GitHub, which these machines cannot reach
  # (deny.toml says more); licenses, bans and sources are checked offline.
  info "cargo deny check licenses bans sources"
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
