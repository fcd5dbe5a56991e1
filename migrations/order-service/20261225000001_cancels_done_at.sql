-- order-service: the periodic reconciliation compares the orders cancelled in its window even
-- when they were paid long before it (services/order-service/src/reconcile/late.rs), so it
-- looks up the cancels completed in the window: by completion time, done ones only, so the
-- lookup stays an index range however many cancels the table keeps.
create index payment_cancels_done_at_idx on payment_cancels (canceled_at) where status = 'DONE';
