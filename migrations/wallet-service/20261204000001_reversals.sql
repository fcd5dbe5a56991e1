-- wallet-service: reversals of settled credits for cancelled (refunded) order lines
-- (docs/payments.md "Cancel and refund").
--
-- A reversal always posts: the PSP has already given the customer the money back, so refusing
-- the reversal would only leave the ledger wrong. A seller's balance may therefore go negative
-- (what the seller owes, netted by later credits), and the original `balance >= 0` check goes.
alter table wallets drop constraint wallets_balance_check;

-- REVERSAL rows sit next to the CREDIT rows: the balance is Σ CREDIT − Σ REVERSAL (− Σ DEBIT).
-- One row per (cancel, seller): cancel_no says which cancel it takes back.
alter table wallet_transactions add column cancel_no bigint;
alter table wallet_transactions drop constraint wallet_transactions_type_check;
alter table wallet_transactions add constraint wallet_transactions_type_check
    check (type in ('CREDIT', 'DEBIT', 'REVERSAL'));
alter table wallet_transactions add constraint wallet_transactions_reversal_source_check
    check (type <> 'REVERSAL'
           or (order_id is not null and payment_event_no is not null and cancel_no is not null));
-- The ledger key of a reversal: a redelivered, replayed or re-emitted order.payment.canceled
-- cannot take a seller's credit back twice, whatever idempotency_key a code path computes.
create unique index wallet_transactions_reversal_cancel_seller_key
    on wallet_transactions (cancel_no, seller_no) where type = 'REVERSAL';
-- wallet.reversed is built from the committed reversal rows of one cancel.
create index wallet_transactions_cancel_no_idx
    on wallet_transactions (cancel_no) where cancel_no is not null;

-- Reversals whose credits are not posted yet: the cancel overtook order.payment.confirmed (or
-- the seller's credit is itself parked in pending_settlements waiting for its wallet). Applied
-- and deleted in the transaction that posts the seller's credits for the order. Keyed like the
-- ledger, so a redelivered cancel parks once.
create table pending_reversals (
    cancel_no bigint not null,
    seller_no bigint not null,
    order_id text not null,
    payment_event_no bigint not null,
    -- Σ lines[].amount of this seller in the cancel
    amount numeric(19, 2) not null,
    -- the payment order lines the reversal takes back; their credits must exist first
    payment_order_nos bigint[] not null,
    event_id uuid not null,                   -- the order.payment.canceled event it came from
    created_at timestamptz not null default now(),
    constraint pending_reversals_pkey primary key (cancel_no, seller_no),
    constraint pending_reversals_amount_check check (amount > 0)
);
create index pending_reversals_seller_event_idx on pending_reversals (seller_no, payment_event_no);
