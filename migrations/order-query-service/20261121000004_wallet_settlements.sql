-- wallet.settled (WALLETS) and order.payment.confirmed (ORDERS) come from two streams through
-- two consumers, so the settlement can be applied before the order it settles exists here
-- (a lagging consumer, a restart, a rebuild replaying both streams at different speeds).
-- order_views cannot hold a placeholder: wallet.settled carries neither member_no nor the
-- order's time. So the settled fact is kept on its own, keyed by payment event: whichever of
-- the two events is applied second completes the view (is_wallet_done), under a per-event
-- advisory lock so the two can never miss each other.
create table wallet_settlements (
    payment_event_no bigint primary key,
    order_id text not null,
    -- occurredAt of the wallet.settled event
    settled_at timestamptz not null,
    recorded_at timestamptz not null default now()
);
