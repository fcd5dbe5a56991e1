-- psp-sandbox: the transaction log behind GET /v1/transactions, what a merchant reconciles
-- against: one row per charge (status DONE, amount = total) and one per cancel (status the
-- payment had after it, amount = the cancel). Written in the transaction that changed the
-- payment, never derived later, so the log and the payments cannot disagree.

create table transactions (
    seq bigint generated always as identity primary key, -- breaks ties of equal times
    transaction_key text not null,
    payment_key text not null references payments (payment_key) on delete cascade,
    order_id text not null,
    status text not null,
    amount bigint not null,
    transaction_at timestamptz not null,
    constraint transactions_transaction_key_key unique (transaction_key),
    constraint transactions_status_check check (status in ('DONE', 'CANCELED', 'PARTIAL_CANCELED')),
    constraint transactions_amount_check check (amount > 0)
);
-- listing by date range in transactionAt order, and the startingAfter cursor
create index transactions_transaction_at_idx on transactions (transaction_at, seq);
