#!/usr/bin/env bash
# `cargo` with the project's build settings (mold as linker when installed — see lib.sh).
# The justfile routes every cargo command through here so they all share one build cache.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cargo_env
cd "$PAYMSA_ROOT"
exec cargo "$@"
