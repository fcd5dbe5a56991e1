#!/usr/bin/env bash
# `just compose-check`: validate compose.yaml with `docker compose config` (or Debian's
# docker-compose, installed with apt-get when neither is present). Needs no Docker engine.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PAYMSA_ROOT"

if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
else
  [[ "$(id -u)" == 0 ]] || die "no docker compose / docker-compose: install one (apt-get install docker-compose)"
  # --no-install-recommends: only the compose CLI, not the docker.io engine it recommends
  info "installing Debian's docker-compose (apt-get install --no-install-recommends docker-compose)"
  apt_log="$RUN_DIR/apt-docker-compose.log"
  mkdir -p "$RUN_DIR"
  install() { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker-compose >"$apt_log" 2>&1; }
  install || { apt-get update >>"$apt_log" 2>&1 && install; } ||
    { tail -n 20 "$apt_log" >&2; die "apt-get install docker-compose failed (log: $apt_log)"; }
  compose=(docker-compose)
fi
# The NATS passwords are required variables (${VAR:?}, never committed); the check only needs
# them set, so placeholders stand in for those the shell does not have.
while IFS='=' read -r name value; do
  [[ -n "${!name:-}" ]] || export "$name=compose-check-placeholder"
done < <("$PAYMSA_ROOT/scripts/nats.sh" compose-env)
info "${compose[*]} config"
"${compose[@]}" -f compose.yaml config -q
ok "compose.yaml is valid ($("${compose[@]}" -f compose.yaml config --services | wc -l) services)"
