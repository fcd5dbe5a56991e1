-- order-query-service: the members' order-history read model (CQRS, DESIGN §6 order query).
-- Fed only by events (order.payment.confirmed / .failed, wallet.settled), never by reading
-- order-service's database. No value checks: the producer validated them, and rejecting a
-- projection write would only dead-letter a good event.

-- One row per payment event.
create table order_views (
    payment_event_no bigint primary key,
    member_no bigint not null,
    order_id text not null,
    -- nullable: an order.payment.failed event may not carry them, and the read model shows
    -- failed orders too
    order_name text,
    status text not null,                     -- e.g. PAID, FAILED (owned by the projection code)
    total_amount numeric(19, 2),
    payment_key text,
    method text,
    approved_at timestamptz,
    failure_code text,                        -- Toss / order-service reason code for FAILED
    is_wallet_done boolean not null default false,
    -- the order's time from the event, not the insert time, so a late projection still sorts
    -- where the order belongs; deliberately no default
    created_at timestamptz not null,
    -- occurredAt of the newest event applied; guarding updates with e.g.
    -- "where last_event_at <= $occurred_at" means an older event (redelivered, replayed, or
    -- from the other stream) never overwrites newer state
    last_event_at timestamptz not null,
    updated_at timestamptz not null default now(),
    constraint order_views_order_id_key unique (order_id)
);
select trigger_updated_at('order_views');
-- GET /api/orders/members/{memberNo}?paymentEventNo=&createdDateTime=: keyset pagination,
--   where member_no = $1 and (created_at, payment_event_no) < ($2, $3)
--   order by created_at desc, payment_event_no desc limit $4
-- walks this index directly, so page 1,000 costs what page 1 costs.
create index order_views_member_keyset_idx
    on order_views (member_no, created_at desc, payment_event_no desc);

-- The lines of each order, loaded with the page (whole orders per page).
create table order_view_lines (
    payment_order_no bigint primary key,
    payment_event_no bigint not null,
    product_no bigint not null,
    seller_no bigint not null,
    product_name text not null,
    amount numeric(19, 2) not null,
    -- lines live and die with their order view (a rebuild deletes views and lines together)
    constraint order_view_lines_payment_event_no_fkey
        foreign key (payment_event_no) references order_views (payment_event_no) on delete cascade
);
create index order_view_lines_payment_event_no_idx on order_view_lines (payment_event_no);
