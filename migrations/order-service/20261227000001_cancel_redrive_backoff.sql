-- order-service: a done cancel's re-drive waits longer each time, as a paid order's does
-- (20261204000000 `payment_events.redrive_count`).
--
-- A cancel whose reversal cannot be confirmed for a while — its seller has no wallet yet, so
-- the wallet parks it — was re-published every REDRIVE_AFTER_MS for as long as that lasted.
-- The wait now doubles per re-drive, up to 32× (services/order-service/src/store/cancels.rs
-- `claim_unreversed`). An added column with a default: instances of the previous release
-- keep working beside this one.
alter table payment_cancels add column redrive_count integer not null default 0;
