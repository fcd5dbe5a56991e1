-- wallet-service: seller wallets and settlement (DESIGN §6, wallet settlement).
-- Fixes over the reference: balance can never go negative, amounts are checked, and a credit
-- can be applied at most once per payment order line (two independent unique keys).

create table wallets (
    wallet_no bigint primary key,             -- snowflake
    seller_no bigint not null,
    balance numeric(19, 2) not null default 0,
    -- optimistic lock: update ... set version = version + 1 where wallet_no = $1 and version = $2
    version bigint not null default 0,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    -- one wallet per seller; wallet creation on seller.registered relies on it to be idempotent
    constraint wallets_seller_no_key unique (seller_no),
    constraint wallets_balance_check check (balance >= 0),
    constraint wallets_version_check check (version >= 0)
);
select trigger_updated_at('wallets');

-- The ledger: the balance is the sum of these rows (CREDIT minus DEBIT).
create table wallet_transactions (
    id bigint primary key,                    -- snowflake
    wallet_no bigint not null,
    seller_no bigint not null,
    amount numeric(19, 2) not null,           -- always positive; type gives the direction
    type text not null,
    -- the order line a CREDIT settles; nullable for future DEBITs (payouts) that have no order
    order_id text,
    payment_event_no bigint,
    payment_order_no bigint,
    -- one row per payment order line (e.g. derived from payment_order_no), so a redelivered
    -- order.payment.confirmed cannot credit twice
    idempotency_key text not null,
    created_at timestamptz not null default now(),
    constraint wallet_transactions_wallet_no_fkey
        foreign key (wallet_no) references wallets (wallet_no),
    constraint wallet_transactions_idempotency_key_key unique (idempotency_key),
    constraint wallet_transactions_amount_check check (amount > 0),
    constraint wallet_transactions_type_check check (type in ('CREDIT', 'DEBIT')),
    constraint wallet_transactions_credit_source_check
        check (type <> 'CREDIT'
               or (order_id is not null and payment_event_no is not null and payment_order_no is not null))
);
-- Second, key-format-independent guard: whatever idempotency_key a code path computes (live
-- settlement or a pending settlement applied later), a payment order line is credited once.
create unique index wallet_transactions_credit_payment_order_key
    on wallet_transactions (payment_order_no) where type = 'CREDIT';
-- GET /api/wallets/sellers/{sellerNo}: recent transactions, newest first (id breaks ties)
create index wallet_transactions_wallet_recent_idx
    on wallet_transactions (wallet_no, created_at desc, id desc);

-- Credits that arrived before the seller's wallet existed (onboarding lags behind a sale).
-- Never dropped: when wallet-service creates the wallet it applies and deletes the seller's
-- rows in the same transaction. Keyed by payment order line, so a redelivered event parks
-- the credit once.
create table pending_settlements (
    payment_order_no bigint primary key,
    seller_no bigint not null,
    order_id text not null,
    payment_event_no bigint not null,
    amount numeric(19, 2) not null,
    event_id uuid not null,                   -- the order.payment.confirmed event it came from
    created_at timestamptz not null default now(),
    constraint pending_settlements_amount_check check (amount > 0)
);
create index pending_settlements_seller_no_idx on pending_settlements (seller_no);
