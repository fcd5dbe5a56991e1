#!/bin/sh
# compose's Postgres (compose.yaml), run once by the image's entrypoint when the volume is first
# created: one login role per service, owner of that service's database and of nothing else,
# with its password from the container's environment (PG_PASSWORD_<SERVICE>). A service then
# runs its migrations as the owner (libs/service-kit/src/db.rs finds its database already
# there), and no service can connect to another's database. docs/operations.md, "Secrets".
set -eu

create() { # DATABASE PASSWORD_VARIABLE: the role is named like its database
  eval "password=\${$2:-}"
  if [ -z "$password" ]; then
    echo "postgres-init.sh: $2 is not set" >&2
    exit 1
  fi
  # psql variables quote the name (:"db") and the password (:'pw'), whatever they contain
  psql -v ON_ERROR_STOP=1 -X -q --username "$POSTGRES_USER" --dbname postgres \
    -v db="$1" -v pw="$password" <<'SQL'
CREATE ROLE :"db" LOGIN PASSWORD :'pw' NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE DATABASE :"db" OWNER :"db";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
}

create paymsa_order PG_PASSWORD_ORDER
create paymsa_catalog PG_PASSWORD_CATALOG
create paymsa_wallet PG_PASSWORD_WALLET
create paymsa_seller PG_PASSWORD_SELLER
create paymsa_hot_catalog PG_PASSWORD_HOT_CATALOG
create paymsa_review PG_PASSWORD_REVIEW
create paymsa_like PG_PASSWORD_LIKE
create paymsa_order_query PG_PASSWORD_ORDER_QUERY
create paymsa_psp PG_PASSWORD_PSP
