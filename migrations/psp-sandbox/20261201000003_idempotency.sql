-- psp-sandbox: Toss's Idempotency-Key. The first request with a key claims it (IN_FLIGHT); a
-- second request meanwhile gets 409 IDEMPOTENT_REQUEST_PROCESSING. The answer that states the
-- payment's outcome is stored (COMPLETED) in the same transaction as the change it reports, and
-- replayed for every later request with the key. Answers that changed nothing delete the claim,
-- so a retry is evaluated again. Keys are scoped by operation (confirm, cancel): a client that
-- uses its orderId as the key for both does not get the confirm's answer to its cancel.

create table idempotency_keys (
    operation text not null,
    idempotency_key text not null,
    status text not null default 'IN_FLIGHT',
    response_status integer,                  -- HTTP status of the stored answer
    response_body jsonb,                      -- the Payment object or Toss error, as answered
    claimed_at timestamptz not null default now(),
    primary key (operation, idempotency_key),
    constraint idempotency_keys_operation_check check (operation in ('confirm', 'cancel')),
    constraint idempotency_keys_idempotency_key_check
        check (char_length(idempotency_key) between 1 and 300),
    constraint idempotency_keys_status_check check (status in ('IN_FLIGHT', 'COMPLETED')),
    -- a completed key must be able to replay its answer
    constraint idempotency_keys_completed_check
        check (status <> 'COMPLETED' or (response_status between 100 and 599 and response_body is not null))
);
