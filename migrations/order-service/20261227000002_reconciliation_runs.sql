-- order-service: the periodic reconciliation's progress, kept in the database and led by one
-- instance at a time.
--
-- Until now every instance ran the job every RECONCILE_INTERVAL_MS, each asking the PSP for
-- the same transactions, and each kept the orders its runs left unresolved in its own memory:
-- a restart forgot them (docs/payments.md). Now an instance takes the lease, runs, and writes
-- where the run ended, the orders to compare again and the unrepaired count in the run's
-- commit (services/order-service/src/store/reconciliation.rs); the next run, on any
-- instance, starts from there. Every instance's gauges read this row, so the alert on
-- `paymsa_reconciliation_mismatches` (max by service) sees one figure, not a stale one per
-- follower. Instances of the previous release ignore both tables and run as before.

create table reconciliation_runs (
    -- one row
    id boolean primary key default true constraint reconciliation_runs_one_row check (id),
    -- the last successful periodic run's end; the next starts an overlap before it
    last_to timestamptz,
    -- mismatches the last run listed for a person or failed to repair
    unrepaired bigint not null default 0,
    -- the instance running now, until when (a crashed leader's lease runs out)
    leased_by text,
    leased_until timestamptz not null default '-infinity'
);
insert into reconciliation_runs default values;

-- orders the last run left unresolved (in flight, listed, not read): compared again next run
create table reconciliation_carried (
    order_id text primary key
);
