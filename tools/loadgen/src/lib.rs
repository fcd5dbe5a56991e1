//! The system as separate processes under load, for the claims a test cannot make:
//!
//! - [`bench`]: end-to-end throughput, confirm latency, settlement and projection lag,
//!   per-process peak memory and CPU, next to the machine's raw Postgres and JetStream
//!   ceilings measured in the same run (`just bench e2e`).
//! - [`chaos`]: a seeded fault run (PSP timeouts, errors and an outage, declined cards, wrong
//!   paymentKeys, cancels in full and in part, some racing their confirm, each process the
//!   PSP included SIGKILLed once, nats-server restarted and once restarted on an older copy of
//!   its store, poison events, seller payouts with a commission, failed payouts, duplicated
//!   and delayed webhooks) followed by the ledger invariants, wallet-service's double-entry
//!   ledger against the orders and the PSP's payouts, the PSP's record against
//!   order-service's and order-service's reconciliation (`just chaos`; a small one runs in
//!   `just test`).
//! - [`scale`]: three instances of the order, wallet and hot-catalog services on a 3-node NATS
//!   cluster; work sharing, outbox shard rebalancing, a NATS node lost (`just scale`).
//!
//! [`stack`] starts and kills the processes; [`workload`], [`journey`], [`cancel`] and
//! [`drive`] are the shoppers, [`payouts`] the sellers; [`chaos_faults`] and [`amnesia`] the faults; [`invariants`],
//! [`ledger_checks`], [`money`], [`psp_check`], [`client_checks`], [`hot_check`] and [`poison`] are the checks.

pub mod amnesia;
pub mod args;
pub mod auth_check;
pub mod bench;
pub mod bus_check;
pub mod cancel;
pub mod ceilings;
pub mod chaos;
pub mod chaos_faults;
pub mod client;
pub mod client_checks;
pub mod drive;
pub mod hot_check;
pub mod identity;
pub mod inherited;
pub mod invariants;
pub mod journey;
pub mod lags;
pub mod ledger;
pub mod ledger_checks;
pub mod ledger_psp_checks;
pub mod money;
pub mod open_loop;
pub mod payouts;
pub mod pg_profile;
pub mod pg_statements;
pub mod poison;
pub mod procs;
pub mod progress;
pub mod psp_check;
pub mod report;
pub mod report_open;
pub mod reviews;
pub mod scale;
pub mod settle;
pub mod stack;
pub mod stats;
pub mod summary;
pub mod timeline;
pub mod workload;
