#!/usr/bin/env bash
# `scripts/loadgen.sh PROFILE COMMAND [--option value ...]`: builds every binary with PROFILE
# (release or debug) and runs `paymsa-loadgen COMMAND` on them (bench, chaos, scale; `--help`
# lists a command's options, tools/loadgen/src/args.rs). It starts its own nats-server(s) and
# services on free ports, with databases and NATS names of its own, so it runs beside `just up`
# and `just test`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PAYMSA_ROOT"
profile=${1:?profile (release|debug)}
shift
"$PAYMSA_ROOT/scripts/infra.sh" ensure
cargo_env
flags=()
[[ "$profile" == release ]] && flags=(--release)
# The nine service binaries and the tool; not the e2e crate's `openapi` binary, which takes
# minutes to build in release and is not needed here.
packages=()
for svc in "${SERVICES[@]}"; do packages+=(-p "$svc"); done
info "building: cargo build ${flags[*]} ${packages[*]} -p paymsa-loadgen"
# Cargo's own progress (not -q): a release build takes minutes here and must not look hung.
cargo build "${flags[@]}" "${packages[@]}" -p paymsa-loadgen
bin_dir="${CARGO_TARGET_DIR:-$PAYMSA_ROOT/target}/$profile"
exec "$bin_dir/paymsa-loadgen" "$@" --bin-dir "$bin_dir"
