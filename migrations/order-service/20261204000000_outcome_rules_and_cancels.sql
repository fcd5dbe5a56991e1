-- order-service: outcome rules, cancels and reconciliation (docs/payments.md).

-- Every attempt at the PSP (a confirm, or a recovery re-drive) stamps a fresh attempt_no when
-- it moves the lines to EXECUTING; its outcome is written only while the order still carries
-- that attempt_no, so a late answer can never overwrite an attempt another actor owns.
alter table payment_events add column attempt_no bigint;
-- when the recovery job looks at an UNKNOWN order next: the interval doubles per unknown
-- outcome up to a cap, and an unresolved order is looked at for as long as it takes
alter table payment_events add column next_recovery_at timestamptz;
-- sum of the confirmed cancels; payment_events_refunded_check keeps it within the total
alter table payment_events add column refunded_amount numeric(19, 2) not null default 0;
-- the eventId of order.payment.confirmed, so a re-drive re-publishes the same event
alter table payment_events add column confirmed_event_id uuid;
-- re-drives of a paid order whose settlement did not come back (a broker that forgot)
alter table payment_events add column redrive_count integer not null default 0;
alter table payment_events add constraint payment_events_refunded_check
    check (refunded_amount >= 0 and refunded_amount <= total_amount);
-- the recovery scan: UNKNOWN orders by when they are due
create index payment_events_next_recovery_idx on payment_events (next_recovery_at)
    where next_recovery_at is not null;
-- the re-drive scan: paid orders not yet settled
create index payment_events_unsettled_idx on payment_events (approved_at)
    where is_payment_done and not is_wallet_done;

-- What has been refunded of each line; a line goes SUCCESS -> PARTIAL_CANCELED -> CANCELED.
alter table payment_orders add column refunded_amount numeric(19, 2) not null default 0;
alter table payment_orders add constraint payment_orders_refunded_check
    check (refunded_amount >= 0 and refunded_amount <= amount);
alter table payment_orders drop constraint payment_orders_status_check;
alter table payment_orders add constraint payment_orders_status_check
    check (status in ('NOT_STARTED', 'EXECUTING', 'SUCCESS', 'FAILURE', 'UNKNOWN',
                      'PARTIAL_CANCELED', 'CANCELED'));
alter table payment_order_histories drop constraint payment_order_histories_previous_status_check;
alter table payment_order_histories add constraint payment_order_histories_previous_status_check
    check (previous_status in ('NOT_STARTED', 'EXECUTING', 'SUCCESS', 'FAILURE', 'UNKNOWN',
                               'PARTIAL_CANCELED', 'CANCELED'));
alter table payment_order_histories drop constraint payment_order_histories_new_status_check;
alter table payment_order_histories add constraint payment_order_histories_new_status_check
    check (new_status in ('NOT_STARTED', 'EXECUTING', 'SUCCESS', 'FAILURE', 'UNKNOWN',
                          'PARTIAL_CANCELED', 'CANCELED'));

-- One row per cancel (full or partial). REQUESTED while our call is in flight, UNKNOWN when the
-- PSP did not answer (the recovery job repeats the call with the same PSP idempotency key),
-- DONE when the PSP confirmed it, REJECTED when the PSP refused it (nothing was refunded).
create table payment_cancels (
    cancel_no bigint primary key,             -- snowflake; the PSP key is 'cancel-' || cancel_no
    payment_event_no bigint not null,
    order_id text not null,
    idempotency_key text,                     -- the client's, optional
    request_hash text not null,               -- a retry with the same key must send the same body
    cancel_reason text not null,
    cancel_amount numeric(19, 2) not null,
    status text not null default 'REQUESTED',
    attempts integer not null default 0,
    failure_code text,
    psp_transaction_key text,
    canceled_at timestamptz,
    event_id uuid,                            -- order.payment.canceled's eventId, for re-drives
    is_wallet_done boolean not null default false,  -- wallet.reversed came back
    next_attempt_at timestamptz not null default now(),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint payment_cancels_payment_event_no_fkey
        foreign key (payment_event_no) references payment_events (payment_event_no),
    constraint payment_cancels_amount_check check (cancel_amount > 0),
    constraint payment_cancels_reason_check check (char_length(cancel_reason) between 1 and 200),
    constraint payment_cancels_status_check
        check (status in ('REQUESTED', 'UNKNOWN', 'DONE', 'REJECTED')),
    constraint payment_cancels_idempotency_key_key unique (payment_event_no, idempotency_key)
);
select trigger_updated_at('payment_cancels');
-- one cancel in flight per order: the PSP's balance check and ours must see the same order
create unique index payment_cancels_one_open_idx on payment_cancels (payment_event_no)
    where status in ('REQUESTED', 'UNKNOWN');
create index payment_cancels_payment_event_no_idx on payment_cancels (payment_event_no);
-- the recovery scan over cancels whose outcome is not known
create index payment_cancels_open_idx on payment_cancels (next_attempt_at)
    where status in ('REQUESTED', 'UNKNOWN');

-- Each cancel's share per line, fixed when the cancel is requested.
create table payment_cancel_lines (
    cancel_no bigint not null,
    payment_order_no bigint not null,
    amount numeric(19, 2) not null,
    constraint payment_cancel_lines_pkey primary key (cancel_no, payment_order_no),
    constraint payment_cancel_lines_cancel_no_fkey
        foreign key (cancel_no) references payment_cancels (cancel_no),
    constraint payment_cancel_lines_payment_order_no_fkey
        foreign key (payment_order_no) references payment_orders (payment_order_no),
    constraint payment_cancel_lines_amount_check check (amount > 0)
);
