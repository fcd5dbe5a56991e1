#!/usr/bin/env bash
# `just lint`: rustfmt check, clippy with warnings as errors, and (where promtool is installed)
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
if command -v promtool >/dev/null; then
  info "promtool: alert rules, their unit tests, scrape config, dashboard expressions (scripts/promcheck.sh)"
  if "$PAYMSA_ROOT/scripts/promcheck.sh"; then ok "prometheus rules and dashboards"; else rc=1; fi
else
  dim "  promtool not installed: alert rules not checked (apt-get install prometheus)"
fi
exit "$rc"
