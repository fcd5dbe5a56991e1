#!/bin/sh
# compose's Redis (compose.yaml): one ACL user per service, each limited to its own keys and to
# the commands its code runs; the default user is the operators' (REDIS_ADMIN_PASSWORD).
# Passwords come from the container's environment and go into an ACL file, not onto the
# command line (where `ps` would show them). docs/operations.md, "Secrets", lists the users.
#
# Keys (grep the code when adding one; a key outside its pattern answers NOPERM):
#   every outbox producer   paymsa:outbox:<service>:<database>:instances  (libs/outbox/src/shards.rs)
#   hot-catalog-service     hot:*  ranking, counters, seen events, purchase lines
#                           (services/hot-catalog-service/src/ranking.rs; NATS_NAMESPACE is empty
#                           outside tests, else the keys are <namespace>:hot:*)
# order-query-service and the PSP sandbox use no Redis and get no user.
set -eu

acl=/tmp/paymsa-users.acl
umask 077

# Commands. Scripts (EVALSHA, loaded on NOSCRIPT) run with the caller's ACL, so the commands
# inside them are listed too.
# (redis-rs also sends CLIENT SETINFO on connect and ignores its refusal; Redis 7.0 knows no
# such command, so naming it would stop the server)
connection='+ping +hello'
scripts='+evalsha +eval +script|load +script|exists'
# libs/outbox/src/shards.rs: the heartbeat script and the ZREM on leaving
outbox="$connection $scripts +time +zadd +zremrangebyscore +pexpire +zrange +zrem"
# services/hot-catalog-service/src/lua/*.lua and ranking.rs (ZCARD, DEL)
hot="$connection $scripts +get +set +expire +del +zadd +zincrby +zrange +zrevrange +zrem +zcard \
+hget +hmget +hset +hsetnx +hexists +hincrby +hdel"

password() { # VARIABLE -> its value; refuses empty values and whitespace (one ACL line each)
  eval "value=\${$1:-}"
  case "$value" in
  "" | *[[:space:]]*) echo "redis-acl.sh: $1 must be set, without whitespace" >&2; exit 1 ;;
  esac
  printf '%s' "$value"
}

user() { # NAME PASSWORD_VARIABLE KEY_PATTERN COMMANDS
  echo "user $1 on >$(password "$2") resetkeys ~$3 resetchannels -@all $4"
}

{
  echo "user default on >$(password REDIS_ADMIN_PASSWORD) ~* &* +@all"
  for svc in order catalog wallet seller catalog-review catalog-like; do
    var=$(echo "REDIS_PASSWORD_$svc" | tr 'a-z-' 'A-Z_' | sed 's/CATALOG_REVIEW/REVIEW/; s/CATALOG_LIKE/LIKE/')
    user "$svc-service" "$var" "paymsa:outbox:$svc-service:*" "$outbox"
  done
  user hot-catalog-service REDIS_PASSWORD_HOT_CATALOG 'hot:*' "$hot"
} >"$acl"
# the image's entrypoint drops to the redis user before redis-server reads the file
chown redis:redis "$acl"
exec docker-entrypoint.sh redis-server --aclfile "$acl" --save "" --appendonly no
