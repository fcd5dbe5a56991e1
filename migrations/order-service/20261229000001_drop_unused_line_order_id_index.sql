-- no-transaction
-- order-service: no statement looks order lines up by order id any more: every read and every
-- guarded transition reaches them through their payment event (payment_orders_payment_event_no_idx),
-- and an order id is resolved on payment_events (its unique key). The index still cost an entry
-- per line at checkout and at every status change of a line (none of which can be a HOT update:
-- docs/benchmarks.md, stop 29). The column stays, denormalised for operators' queries.
-- Dropped concurrently (outside a transaction, the `-- no-transaction` line above) so the table
-- stays writable meanwhile; `if exists` lets a retry go on.
drop index concurrently if exists payment_orders_order_id_idx;
