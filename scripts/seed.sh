#!/usr/bin/env bash
# `just seed`: load the demo data (seed/<service>.sql → that service's database, see
# seed/README.md). Every file is idempotent; each is applied in one transaction with
# ON_ERROR_STOP. The databases are created by the services at start: run `just up` first.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PAYMSA_ROOT"

command -v psql >/dev/null 2>&1 || die "psql not found (apt-get install postgresql-client)"
shopt -s nullglob
files=(seed/*.sql)
((${#files[@]} > 0)) || { warn "no seed/*.sql files: nothing to seed"; exit 0; }

db_exists() {
  # (stdin, not -c: psql interpolates :'db' only in script input)
  [[ "$(psql -X -qtA "$PG_BASE_URL/postgres" -v db="$1" <<<"select 1 from pg_database where datname = :'db'" 2>/dev/null)" == 1 ]]
}

# Check every target first, so a half-started stack doesn't get half a seed.
plan=()
for file in "${files[@]}"; do
  svc="$(basename "$file" .sql)"
  db="${SERVICE_DB[$svc]:-}"
  if [[ -z "$db" || "$db" == - ]]; then
    warn "$file: no service named $svc with a database; skipped"
    continue
  fi
  db_exists "$db" || die "database $db does not exist (it is created when $svc starts) — start the stack first: just up"
  plan+=("$file=$db")
done

info "seeding"
for entry in "${plan[@]}"; do
  file=${entry%%=*} db=${entry#*=}
  psql -X -q -v ON_ERROR_STOP=1 --single-transaction -d "$PG_BASE_URL/$db" -f "$file" >/dev/null ||
    die "$file failed on $db"
  ok "$file → $db"
done
