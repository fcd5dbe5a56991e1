-- psp-sandbox: the PSP's own record of every payment, so a restart (or a SIGKILL in the chaos
-- run) does not forget a charge and the merchant can be reconciled against it afterwards.
-- A payment is READY when the customer approved it in the payment window, DONE when the
-- merchant's confirm charged it, ABORTED when the confirm was declined, PARTIAL_CANCELED /
-- CANCELED after refunds. balance_amount is what is left to refund (Toss's balanceAmount).

create table payments (
    payment_key text primary key,             -- tgen_ + timestamp + random, like Toss test keys
    order_id text not null,                   -- the merchant's orderId: one payment per order
    order_name text not null,
    total_amount bigint not null,             -- integer KRW
    balance_amount bigint not null,           -- total_amount minus every cancel
    status text not null default 'READY',
    requested_at timestamptz not null,        -- approved in the window
    approved_at timestamptz,                  -- charged by a confirm; set once, never cleared
    last_transaction_key text,
    approve_no text,                          -- the card approval number of the charge
    failure_code text,                        -- the decline that aborted the payment
    failure_message text,
    constraint payments_order_id_key unique (order_id),
    constraint payments_total_amount_check check (total_amount > 0),
    constraint payments_balance_amount_check check (balance_amount between 0 and total_amount),
    constraint payments_status_check
        check (status in ('READY', 'DONE', 'ABORTED', 'CANCELED', 'PARTIAL_CANCELED', 'EXPIRED')),
    -- only a charged payment can have been refunded
    constraint payments_refund_needs_charge_check
        check (balance_amount = total_amount or approved_at is not null)
);
-- "was this order charged" for the statistics, without a scan of READY payments
create index payments_approved_idx on payments (order_id) where approved_at is not null;
