-- order-service: every status a cancel takes, with why and who (docs/payments.md, "Cancel and
-- refund"). A line's status changes have had their history from the start
-- (payment_order_histories); a cancel's had none: closing it DONE cleared the failure code
-- that said why it had been UNKNOWN, each new unknown outcome overwrote the last, and no row
-- said whether the API, recovery or reconciliation closed it. Each guarded move of a cancel
-- now writes its row in the same statement (src/store/cancel_states.rs).
create table payment_cancel_histories (
    id bigint generated always as identity primary key,
    cancel_no bigint not null references payment_cancels (cancel_no),
    -- null for the row that opened the cancel
    previous_status text,
    new_status text not null,
    -- a code: CANCEL_REQUESTED, the PSP's answer or our reason for an unknown outcome,
    -- PSP_REFUNDED for a confirmed refund, or the PSP's refusal
    reason text not null,
    changed_by text not null,
    created_at timestamptz not null default now()
);

create index payment_cancel_histories_cancel_no_idx on payment_cancel_histories (cancel_no);

-- The rows of cancels opened before this table are written by the next migration, in a
-- transaction of its own: this one holds a lock on payment_cancels (the foreign key) that
-- would stop every cancel's move for as long as that copy took. Instances from before stop 32
-- that still run during a rolling upgrade move cancels without history rows.
