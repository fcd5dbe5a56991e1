-- order-service: Stripe-style Idempotency-Key for POST /api/checkouts.
-- A client that retries a checkout (timeout, double click) with the same key gets the first
-- answer back instead of a second payment event. Flow: insert the key as IN_FLIGHT (a conflict
-- on checkout_idempotency_keys_pkey means "seen before"), do the checkout, store the answer
-- and mark COMPLETED, all in the checkout's transaction. A retry with the same key but a
-- different body (request_hash differs; the hash covers memberNo, so one member's key cannot
-- return another member's answer) is rejected; a retry while IN_FLIGHT gets 409.

create table checkout_idempotency_keys (
    idempotency_key text primary key,
    request_hash text not null,               -- e.g. hex sha-256 of the canonical request body
    status text not null default 'IN_FLIGHT',
    response_status integer,                  -- HTTP status of the stored answer
    response_body jsonb,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    -- Stripe's limit; a longer key is a client error (400), not something to store
    constraint checkout_idempotency_keys_idempotency_key_check
        check (char_length(idempotency_key) between 1 and 255),
    constraint checkout_idempotency_keys_status_check check (status in ('IN_FLIGHT', 'COMPLETED')),
    constraint checkout_idempotency_keys_response_status_check
        check (response_status between 100 and 599),
    -- a completed key must be able to replay its answer
    constraint checkout_idempotency_keys_completed_check
        check (status <> 'COMPLETED' or response_status is not null)
);
select trigger_updated_at('checkout_idempotency_keys');
-- keys expire (Stripe keeps them 24 h); the purge deletes by age
create index checkout_idempotency_keys_created_at_idx on checkout_idempotency_keys (created_at);
