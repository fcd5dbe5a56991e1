-- no-transaction
-- order-service: the periodic reconciliation compares the orders cancelled in its window even
-- when they were paid long before it (services/order-service/src/reconcile/late.rs), so it
-- looks up the cancels completed in the window: by completion time, done ones only, so the
-- lookup stays an index range however many cancels the table keeps. Built concurrently (hence
-- outside a transaction, the `-- no-transaction` line above, which sqlx reads) so a production
-- table stays writable while it builds; `if not exists` lets a retry after an interrupted
-- build go on (an index left invalid by one must be dropped by hand first: docs/operations.md).
create index concurrently if not exists payment_cancels_done_at_idx
    on payment_cancels (canceled_at) where status = 'DONE';
