-- wallet-service: every change of a seller's commission rate, with the rate it replaced and
-- who made it (the admin API's caller). `seller_fee_rates` keeps only the current rate, and
-- each ledger entry the rate it was posted at; what the rate was between two sales, and who
-- set it, was recorded nowhere.
create table seller_fee_rate_changes (
    id bigint generated always as identity primary key,
    seller_no bigint not null,
    fee_rate numeric(7, 6) not null,
    -- null: the seller paid the default rate until then
    previous_rate numeric(7, 6),
    changed_by text not null,
    changed_at timestamptz not null default now()
);
create index seller_fee_rate_changes_seller_idx on seller_fee_rate_changes (seller_no, id);
