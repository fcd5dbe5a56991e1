-- psp-sandbox: the webhook outbox. One row per (event, receiver URL), inserted in the
-- transaction of the change it reports and delivered after commit by a background task:
-- at least once, retried on the configured schedule, kept across restarts. body is the exact
-- text POSTed (payout.changed is signed over it at send time).

create table webhook_deliveries (
    id bigint generated always as identity primary key,
    event_type text not null,                  -- PAYMENT_STATUS_CHANGED, CANCEL_STATUS_CHANGED, payout.changed
    url text not null,
    body text not null,
    signed boolean not null,
    status text not null default 'PENDING',
    attempts integer not null default 0,       -- POSTs made so far
    next_attempt_at timestamptz not null default now(),
    last_status integer,                       -- HTTP status of the last attempt, null if none
    last_error text,
    created_at timestamptz not null default now(),
    delivered_at timestamptz,
    constraint webhook_deliveries_status_check check (status in ('PENDING', 'DELIVERED', 'FAILED'))
);
-- the worker's queue
create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at) where status = 'PENDING';
