-- Consumer-side bookkeeping (docs/architecture.md §5): src/idempotency.rs and src/dead_letters
-- depend on these exact columns and constraint names.
--
-- Applied to the database of every service that lists messaging::MIGRATOR, before the
-- service's own migrations. `if not exists`: databases created before this file existed got
-- the same tables and index from each service's own 20261121000003_messaging.sql; this leaves
-- them as they are. Once shipped, a file here never changes (sqlx checks its checksum): change
-- the tables with a new migration in this folder.

-- Idempotent consumers: a handler inserts (consumer, event_id) in the same transaction as its
-- effect; a redelivered or replayed event hits processed_events_pkey and is skipped. The key
-- is per consumer because one service may run several durables over the same event.
create table if not exists processed_events (
    consumer text not null,
    event_id uuid not null,
    processed_at timestamptz not null default now(),
    constraint processed_events_pkey primary key (consumer, event_id)
);

-- Dead letters: the dead-letter worker resolves each MAX_DELIVERIES / MSG_TERMINATED advisory
-- to the original message (by stream sequence) and stores it here, so nothing is dropped
-- silently and an operator can inspect and replay it. payload is bytea, not jsonb, because an
-- undecodable message is exactly what ends up here. The unique key makes storing an advisory
-- idempotent (the advisory itself may be delivered more than once).
create table if not exists dead_letters (
    id bigint primary key,
    stream text not null,
    stream_seq bigint not null,
    consumer text not null,
    subject text not null,
    reason text not null,
    deliveries integer not null,
    event_id uuid,
    msg_id text,
    headers jsonb not null default '{}'::jsonb,
    payload bytea not null,
    first_seen_at timestamptz not null default now(),
    last_replayed_at timestamptz,
    replay_count integer not null default 0,
    constraint dead_letters_reason_check check (reason in ('MAX_DELIVERIES', 'TERMINATED')),
    constraint dead_letters_message_key unique (stream, stream_seq, consumer)
);
-- newest first, keyset-paginated by (first_seen_at, id) for the admin list endpoint
create index if not exists dead_letters_first_seen_idx on dead_letters (first_seen_at desc, id desc);
