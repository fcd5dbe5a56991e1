-- Transactional outbox (docs/architecture.md §5). Every event is inserted here in the same
-- transaction as the state change that caused it, so an event exists if and only if its change
-- committed. The relay (src/relay.rs) publishes rows after commit, marks them SUCCESS only on
-- the JetStream ack, and a purger deletes old SUCCESS rows. src/store.rs depends on these exact
-- columns and constraint names.
--
-- Applied to the database of every service that lists outbox::MIGRATOR, before the service's
-- own migrations. `if not exists`: databases created before this file existed got the same
-- table and indexes from each service's own 20261121000002_outbox.sql; this leaves them as
-- they are. Once shipped, a file here never changes (sqlx checks its checksum): change the
-- table with a new migration in this folder.

create table if not exists outbox (
    id bigint primary key,                    -- snowflake
    idempotency_key text not null,            -- sent as Nats-Msg-Id so JetStream drops re-publishes
    subject text not null,
    event_type text not null,
    payload jsonb not null,                   -- the full envelope {eventId,type,version,occurredAt,payload}
    headers jsonb not null default '{}'::jsonb, -- e.g. traceparent
    shard_key smallint not null,
    status text not null default 'INIT',
    attempts integer not null default 0,
    last_error text,
    next_attempt_at timestamptz not null default now(),
    created_at timestamptz not null default now(),
    published_at timestamptz,
    constraint outbox_idempotency_key_key unique (idempotency_key),
    constraint outbox_status_check check (status in ('INIT', 'FAILURE', 'SUCCESS')),
    constraint outbox_shard_key_check check (shard_key >= 0)
);
-- partial indexes: the relay scans only unpublished rows of its shards; the purger only old SUCCESS rows
create index if not exists outbox_pending_idx on outbox (shard_key, next_attempt_at) where status <> 'SUCCESS';
create index if not exists outbox_published_at_idx on outbox (published_at) where status = 'SUCCESS';
