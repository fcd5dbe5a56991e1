-- no-transaction
-- wallet-service: find an order's credits by its payment event (store::credits_of, which every
-- settlement runs to decide whether the order is fully credited and `wallet.settled` is due,
-- and every re-drive and reversal announcement). Without it each settlement read the whole
-- wallet_transactions table: `just bench e2e` found the statement running in 85 of 624
-- samples (docs/benchmarks.md, stop 15), and the cost grows with the table. Built
-- concurrently (hence outside a transaction, the `-- no-transaction` line above, which sqlx
-- reads) so a production table stays writable while it builds.
create index concurrently if not exists wallet_transactions_credit_event_idx
    on wallet_transactions (payment_event_no) where type = 'CREDIT';
