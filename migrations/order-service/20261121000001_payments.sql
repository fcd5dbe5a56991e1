-- order-service: payments (DESIGN §6, payment state machine).
-- Ported from the Java reference's payment_events / payment_orders / payment_order_histories,
-- fixing its flaws: amounts are numeric with positivity checks, statuses are checked, and the
-- lookups the service actually does (by order_id, by event, the recovery scan) have indexes.

-- One checkout = one payment event (what the member pays, what the PSP confirms).
create table payment_events (
    payment_event_no bigint primary key,      -- snowflake
    member_no bigint not null,
    -- orderId sent to the PSP and used as its Idempotency-Key; Toss accepts 6..64 chars
    order_id text not null,
    -- e.g. '상품A 외 2건'; Toss allows 100 chars but fitting it is the service's job (a long
    -- product name must not make checkout fail), so only emptiness is rejected here
    order_name text not null,
    -- set from the PSP's answer on confirm; unique so one PSP payment can never settle two orders
    payment_key text,
    method text,                              -- Toss' method as sent (e.g. '카드', '간편결제')
    psp_raw jsonb,                            -- the PSP's last answer, kept for audits and disputes
    approved_at timestamptz,
    is_payment_done boolean not null default false,
    -- set when wallet.settled arrives, i.e. every line was credited to its seller
    is_wallet_done boolean not null default false,
    -- sum of the payment_orders amounts, fixed at checkout; confirm must match it exactly
    total_amount numeric(19, 2) not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint payment_events_order_id_key unique (order_id),
    constraint payment_events_payment_key_key unique (payment_key),
    constraint payment_events_order_id_check check (char_length(order_id) between 6 and 64),
    constraint payment_events_order_name_check check (order_name <> ''),
    constraint payment_events_total_amount_check check (total_amount > 0),
    -- a payment is only done once the PSP gave us its key
    constraint payment_events_payment_done_check check (not is_payment_done or payment_key is not null),
    -- settlement is triggered by the confirmed event, so it can never precede the payment
    constraint payment_events_wallet_done_check check (not is_wallet_done or is_payment_done)
);
select trigger_updated_at('payment_events');

-- One line per product in the checkout; the unit the state machine and settlement work on.
create table payment_orders (
    payment_order_no bigint primary key,      -- snowflake
    payment_event_no bigint not null,
    order_id text not null,                   -- denormalised from payment_events for direct lookups
    product_no bigint not null,
    seller_no bigint not null,
    product_name text not null,               -- copied at checkout: the receipt must not change with the catalog
    amount numeric(19, 2) not null,
    status text not null default 'NOT_STARTED',
    failed_count integer not null default 0,  -- UNKNOWN outcomes so far; at threshold the order becomes FAILURE
    threshold integer not null default 5,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint payment_orders_payment_event_no_fkey
        foreign key (payment_event_no) references payment_events (payment_event_no),
    constraint payment_orders_amount_check check (amount > 0),
    constraint payment_orders_status_check
        check (status in ('NOT_STARTED', 'EXECUTING', 'SUCCESS', 'FAILURE', 'UNKNOWN')),
    constraint payment_orders_failed_count_check check (failed_count >= 0),
    constraint payment_orders_threshold_check check (threshold > 0)
);
select trigger_updated_at('payment_orders');
-- confirm and status updates address lines by order_id (the reference scanned the table)
create index payment_orders_order_id_idx on payment_orders (order_id);
-- postgres does not index foreign keys by itself; lines are loaded per event
create index payment_orders_payment_event_no_idx on payment_orders (payment_event_no);
-- the recovery job re-drives UNKNOWN and stale EXECUTING lines, oldest first; partial so the
-- index stays tiny (almost every line ends SUCCESS or FAILURE)
create index payment_orders_recovery_idx on payment_orders (status, updated_at)
    where status in ('EXECUTING', 'UNKNOWN');

-- Append-only audit of every state transition, with why and by whom.
create table payment_order_histories (
    id bigint primary key,                    -- snowflake
    payment_order_no bigint not null,
    previous_status text,                     -- null only for a line's first recorded state
    new_status text not null,
    reason text not null,                     -- e.g. 'PSP_CONFIRM_OK', a Toss error code, 'RECOVERY_RETRY'
    changed_by text not null,                 -- actor: 'confirm-api', 'recovery-job', 'wallet-completion', ...
    created_at timestamptz not null default now(),
    constraint payment_order_histories_payment_order_no_fkey
        foreign key (payment_order_no) references payment_orders (payment_order_no),
    constraint payment_order_histories_previous_status_check
        check (previous_status in ('NOT_STARTED', 'EXECUTING', 'SUCCESS', 'FAILURE', 'UNKNOWN')),
    constraint payment_order_histories_new_status_check
        check (new_status in ('NOT_STARTED', 'EXECUTING', 'SUCCESS', 'FAILURE', 'UNKNOWN'))
);
create index payment_order_histories_payment_order_no_idx
    on payment_order_histories (payment_order_no, created_at);
