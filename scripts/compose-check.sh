#!/usr/bin/env bash
# `just compose-check`: validate compose.yaml with `docker compose config` (or Debian's
# docker-compose, installed with apt-get when neither is present). Needs no Docker engine.
# compose.yaml has no default secrets, so the check interpolates deploy/compose.env.example's
# placeholders (which the services would refuse), and checks that without them compose stops;
# the same for deploy/compose.dev.yaml, the dev backends of scripts/infra.sh.
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
env_file=deploy/compose.env.example
info "${compose[*]} --env-file $env_file config"
"${compose[@]}" --env-file "$env_file" -f compose.yaml config -q
"${compose[@]}" --env-file "$env_file" -f compose.yaml -f deploy/compose.dev.yaml config -q
# a secret missing from the environment must stop compose, not fall back to a default; the
# empty env file keeps a deploy/compose.env or .env of this machine out of the check
if "${compose[@]}" --env-file /dev/null -f compose.yaml config -q >/dev/null 2>&1; then
  die "compose.yaml is valid without secrets: some secret has a default (use \${VAR:?set VAR})"
fi
ok "compose.yaml is valid ($("${compose[@]}" --env-file "$env_file" -f compose.yaml config --services | wc -l) services) and refuses to run without its secrets"
