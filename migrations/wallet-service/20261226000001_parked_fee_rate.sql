-- wallet-service: a parked credit keeps the seller's commission rate of when it was parked.
-- A credit applied at once takes the rate of that moment (credits.rs); a parked one took the
-- rate of its onboarding's chunk instead, so a rate changed while a seller waited for its
-- wallet, or between two of onboarding's chunks (onboarding.rs), moved sales made under the
-- old rate to the new one, and split one seller's backlog between two rates. Rows parked
-- before this migration have none and keep the old rule (the rate when applied).
alter table pending_settlements add column fee_rate numeric(7, 6);
alter table pending_settlements add constraint pending_settlements_fee_rate_check
    check (fee_rate >= 0 and fee_rate < 1);
