-- no-transaction
-- order-service: the recovery job no longer reads the lines by status (the migration before
-- this one), so the index that served it goes, and with it the last index on a column a
-- line's status change writes: status, updated_at (the trigger's), failed_count and
-- refunded_amount are in no index now, and such an update can be HOT.
-- Dropped concurrently (outside a transaction, the `-- no-transaction` line above) so the table
-- stays writable meanwhile; `if exists` lets a retry go on.
drop index concurrently if exists payment_orders_recovery_idx;
