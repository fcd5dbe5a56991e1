-- no-transaction
-- order-service: find an event's unpublished outbox rows — the first one and every re-drive's
-- copy (`{eventId}-redrive-{n}`, src/redrive.rs) — by the event's id.
--
-- The re-drive claims (src/store/recovery.rs `claim_unsettled`, src/store/cancels.rs
-- `claim_unreversed`) skip an event still waiting in our outbox. Matching the copies with
-- `like eventId || '-redrive-%'` cannot use an index (the pattern comes from the outer row),
-- so each candidate would scan every pending row: quadratic in a broker outage, exactly when
-- both grow (found in review). Partial, so it holds only unpublished rows; built concurrently
-- (outside a transaction: the `-- no-transaction` line above) so the outbox stays writable.
create index concurrently if not exists outbox_pending_event_idx
    on outbox (split_part(idempotency_key, '-redrive-', 1)) where status <> 'SUCCESS';
