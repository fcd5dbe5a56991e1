#!/usr/bin/env bash
# `just lint`: rustfmt check and clippy with warnings as errors. Runs both, fails if either does.
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
exit "$rc"
