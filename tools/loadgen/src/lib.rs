//! The system as separate processes under load, for the claims a test cannot make:
//!
//! - [`bench`]: end-to-end throughput, confirm latency, settlement and projection lag,
//!   per-process peak memory and CPU, next to the machine's raw Postgres and JetStream
//!   ceilings measured in the same run (`just bench e2e`).
//! - [`chaos`]: a seeded fault run (PSP timeouts and errors, declined cards, each service
//!   SIGKILLed once, nats-server restarted, poison events) followed by the ledger invariants
//!   (`just chaos`; a small one runs in `just test`).
//! - [`scale`]: three instances of the order, wallet and hot-catalog services on a 3-node NATS
//!   cluster; work sharing, outbox shard rebalancing, a NATS node lost (`just scale`).
//!
//! [`stack`] starts and kills the processes; [`workload`] and [`drive`] are the shoppers;
//! [`invariants`], [`hot_check`] and [`poison`] are the checks.

pub mod args;
pub mod bench;
pub mod ceilings;
pub mod chaos;
pub mod client;
pub mod drive;
pub mod hot_check;
pub mod invariants;
pub mod lags;
pub mod ledger;
pub mod poison;
pub mod progress;
pub mod report;
pub mod scale;
pub mod settle;
pub mod stack;
pub mod stats;
pub mod summary;
pub mod workload;
