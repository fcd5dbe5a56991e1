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

-- The cancels opened before this migration: the state each is in, as of its last change.
insert into payment_cancel_histories (cancel_no, previous_status, new_status, reason,
                                      changed_by, created_at)
select cancel_no, null, status, coalesce(failure_code, 'BEFORE_CANCEL_HISTORY'), 'migration',
       updated_at
  from payment_cancels;
