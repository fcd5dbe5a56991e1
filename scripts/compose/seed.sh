#!/bin/sh
# compose's one-shot `seed` service: seed/<service>.sql → that service's database, as `just seed`.
set -eu
for file in /seed/*.sql; do
  [ -e "$file" ] || continue
  svc=$(basename "$file" .sql)
  case "$svc" in
  order-service) db=paymsa_order ;;
  catalog-service) db=paymsa_catalog ;;
  wallet-service) db=paymsa_wallet ;;
  seller-service) db=paymsa_seller ;;
  hot-catalog-service) db=paymsa_hot_catalog ;;
  catalog-review-service) db=paymsa_review ;;
  catalog-like-service) db=paymsa_like ;;
  order-query-service) db=paymsa_order_query ;;
  psp-sandbox) db=paymsa_psp ;;
  *) echo "skip $file: unknown service"; continue ;;
  esac
  psql -X -q -v ON_ERROR_STOP=1 --single-transaction -h postgres -U postgres -d "$db" -f "$file" >/dev/null
  echo "seeded $db from $file"
done
