-- psp-sandbox: payouts on behalf of sellers (Toss's 지급대행, API v2). A payout is REQUESTED
-- when the merchant asks for it and is settled (COMPLETED or FAILED) by a background task once
-- due_at has passed; the outcome an injected fault decided is stored with the request
-- (planned_error_*), so a restarted sandbox settles the payout the same way.

create table payouts (
    id text primary key,                       -- FPA_ + random, as Toss's payout ids
    merchant text not null,                    -- the secret key that asked for it
    ref_payout_id text not null,               -- the merchant's own id of the payout
    destination text not null,                 -- the seller id
    schedule_type text not null,
    payout_date date not null,                 -- KST date the payout is for
    amount bigint not null,                    -- integer KRW
    transaction_description text not null,
    metadata jsonb,
    status text not null default 'REQUESTED',
    requested_at timestamptz not null,
    due_at timestamptz not null,               -- when the worker settles it
    planned_error_code text,                   -- set: the payout will FAIL with this error
    planned_error_message text,
    error_code text,                           -- the error of a FAILED payout
    error_message text,
    settled_at timestamptz,
    constraint payouts_ref_key unique (merchant, ref_payout_id),
    constraint payouts_amount_check check (amount > 0),
    constraint payouts_schedule_type_check check (schedule_type in ('EXPRESS', 'SCHEDULED')),
    constraint payouts_status_check check (status in ('REQUESTED', 'COMPLETED', 'FAILED')),
    constraint payouts_failed_has_error_check check (status <> 'FAILED' or error_code is not null)
);
-- the worker's queue: REQUESTED payouts by due time
create index payouts_due_idx on payouts (due_at) where status = 'REQUESTED';

-- The stored reply of each POST /v2/payouts Idempotency-Key, written in the transaction that
-- created the payouts it reports.
create table payout_idempotency_keys (
    merchant text not null,
    idempotency_key text not null,
    response_body jsonb not null,
    created_at timestamptz not null default now(),
    primary key (merchant, idempotency_key),
    constraint payout_idempotency_keys_key_check check (char_length(idempotency_key) between 1 and 300)
);
