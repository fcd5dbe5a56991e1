-- order.payment.canceled in the read model: each cancel (full or partial) of an order, kept
-- on its own and keyed by cancel, like wallet_settlements: a cancel may be projected before
-- the order it cancels (the two events are projected concurrently, redeliveries reorder them,
-- a rebuild replays), so it cannot hang off order_views. The view's refunded amount and its
-- PARTIAL_CANCELED / CANCELED status are derived from these rows when read, which makes the
-- result independent of the order the events arrive in.
create table order_cancels (
    cancel_no bigint primary key,             -- one row per cancel: a repeated event changes nothing
    payment_event_no bigint not null,
    order_id text not null,
    member_no bigint not null,
    cancel_reason text not null,
    -- refunded by this cancel (Σ of its lines)
    amount numeric(19, 2) not null,
    canceled_at timestamptz not null,
    recorded_at timestamptz not null default now()
);
create index order_cancels_payment_event_no_idx on order_cancels (payment_event_no, canceled_at);

create table order_cancel_lines (
    cancel_no bigint not null,
    payment_order_no bigint not null,
    product_no bigint not null,
    seller_no bigint not null,
    amount numeric(19, 2) not null,          -- refunded of the line by this cancel
    line_amount numeric(19, 2) not null,     -- the line's amount at checkout
    constraint order_cancel_lines_pkey primary key (cancel_no, payment_order_no),
    constraint order_cancel_lines_cancel_no_fkey
        foreign key (cancel_no) references order_cancels (cancel_no) on delete cascade
);
