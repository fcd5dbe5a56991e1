-- wallet-service: payouts of a seller's available money through the PSP (Toss payouts API v2,
-- 지급대행). docs/ledger.md: PAYOUT moves SELLER_AVAILABLE → PAYOUTS_IN_TRANSIT when the payout
-- is requested; PAYOUT_COMPLETED moves it on to SELLER_PAID_OUT (the contra account of
-- PSP_CLEARING: the money has left the PSP), PAYOUT_FAILED back to SELLER_AVAILABLE.
--
-- Status: REQUESTED (row and PAYOUT entry committed, the PSP not asked yet) → SENT (the PSP
-- took it) or UNKNOWN (timeout, 5xx: asked again with the same Idempotency-Key, or looked up)
-- → COMPLETED | FAILED, each terminal state reached once (guarded update + entry key).

create table payouts (
    payout_no bigint primary key,             -- snowflake; refPayoutId at the PSP
    seller_no bigint not null,
    amount numeric(19, 2) not null,
    status text not null default 'REQUESTED',
    -- the client's Idempotency-Key (per seller), or payout-auto:<sellerNo>:<date>
    idempotency_key text,
    psp_payout_id text,                       -- FPA_… once the PSP answered
    failure_code text,
    failure_message text,
    -- PSP calls made (POST or lookup) and when the recovery job should look next
    attempts integer not null default 0,
    next_attempt_at timestamptz,
    last_error text,
    requested_at timestamptz not null default now(),
    sent_at timestamptz,
    completed_at timestamptz,
    failed_at timestamptz,
    updated_at timestamptz not null default now(),
    constraint payouts_amount_check check (amount > 0 and amount = round(amount)),
    constraint payouts_status_check
        check (status in ('REQUESTED', 'SENT', 'UNKNOWN', 'COMPLETED', 'FAILED')),
    constraint payouts_terminal_check
        check ((status = 'COMPLETED') = (completed_at is not null)
               and (status = 'FAILED') = (failed_at is not null)),
    constraint payouts_seller_idempotency_key_key unique (seller_no, idempotency_key)
);
select trigger_updated_at('payouts');
-- GET /api/wallets/sellers/{sellerNo}/payouts: newest first, keyset on payout_no
create index payouts_seller_idx on payouts (seller_no, payout_no desc);
-- the recovery job's queue: open payouts by due time
create index payouts_open_due_idx on payouts (next_attempt_at)
    where status in ('REQUESTED', 'SENT', 'UNKNOWN');

-- Every status change, with what caused it (api, psp, webhook, lookup).
create table payout_history (
    id bigint generated always as identity primary key,
    payout_no bigint not null references payouts (payout_no),
    from_status text,
    to_status text not null,
    source text not null,
    detail text,
    created_at timestamptz not null default now()
);
create index payout_history_payout_idx on payout_history (payout_no, id);

-- Signed payout.changed webhooks received, by SHA-256 of the raw body: a redelivery is
-- answered 200 and changes nothing.
create table payout_webhooks (
    body_sha256 text primary key,
    psp_payout_id text,
    ref_payout_id text,
    status text,
    transmission_time text not null,
    received_at timestamptz not null default now()
);

-- wallet_transactions: a payout is a DEBIT (the wallet balance = pending + available drops),
-- a failed payout gives it back as PAYOUT_RETURN (counted like a CREDIT). Both name the payout.
alter table wallet_transactions add column payout_no bigint;
alter table wallet_transactions drop constraint wallet_transactions_type_check;
alter table wallet_transactions add constraint wallet_transactions_type_check
    check (type in ('CREDIT', 'DEBIT', 'REVERSAL', 'PAYOUT_RETURN'));
alter table wallet_transactions add constraint wallet_transactions_return_source_check
    check (type <> 'PAYOUT_RETURN' or payout_no is not null);
