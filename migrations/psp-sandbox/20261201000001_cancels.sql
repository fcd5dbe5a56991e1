-- psp-sandbox: refunds (Toss's cancels[]). One row per successful cancel call; a payment's
-- balance_amount is total_amount minus the sum of its rows, kept in the same transaction.

create table payment_cancels (
    transaction_key text primary key,         -- also the key of its row in transactions
    payment_key text not null references payments (payment_key) on delete cascade,
    cancel_amount bigint not null,
    cancel_reason text not null,
    refundable_amount bigint not null,        -- the balance left after this cancel
    receipt_key text not null,
    canceled_at timestamptz not null,
    seq bigint generated always as identity,  -- order of cancels within one payment
    constraint payment_cancels_cancel_amount_check check (cancel_amount > 0),
    constraint payment_cancels_refundable_amount_check check (refundable_amount >= 0),
    constraint payment_cancels_cancel_reason_check check (char_length(cancel_reason) between 1 and 200)
);
create index payment_cancels_payment_key_idx on payment_cancels (payment_key, seq);
