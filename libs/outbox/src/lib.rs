//! outbox: the transactional outbox of docs/architecture.md §5.
//!
//! A handler appends its events through its [`Outbox`] handle in the same transaction as the
//! state change. That transaction must be an [`OutboxTx`] (the handle's [`Outbox::begin`];
//! `append` takes nothing else), whose [`OutboxTx::commit`] wakes the relay ([`OutboxNudge`])
//! right after the commit.
//! The relay ([`OutboxRelay::spawn`]) then publishes the rows to JetStream with `Nats-Msg-Id` =
//! the row's idempotency key and marks a row SUCCESS only once JetStream has acknowledged it;
//! a failed publish is retried with exponential backoff, and a periodic sweep covers nudges
//! lost to a crash. Because the
//! stream drops a re-published `Nats-Msg-Id`, every way the relay can repeat itself (crash
//! after publish, lost ack, churn between instances) still stores each event once.
//!
//! Several instances of a service split the shards through a Redis heartbeat group
//! ([`ShardCoordinator`]); published rows are purged after a retention period.
//!
//! Files: `handle` (the handle services hold), `tx` (its transaction), `nudge` (the wake-up
//! and which shards it is for), `writer` (append, also the tests' and benches' way to write
//! rows without a nudge), `relay` (the publisher loop; it also starts the purger and the
//! table's vacuum, service_kit::vacuum), `publisher` (publish window), `shards` (ownership),
//! `purger`, `store` (all SQL), `metrics`, `config`. The `outbox`
//! table is this crate's own ([`MIGRATOR`]).

mod config;
mod handle;
mod metrics;
mod nudge;
mod publisher;
mod purger;
mod relay;
mod shards;
mod store;
mod tx;
mod writer;

pub use config::RelayConfig;
pub use handle::Outbox;
pub use nudge::OutboxNudge;
pub use purger::purge_published;
pub use relay::OutboxRelay;
pub use shards::{owned_range, ShardCoordinator};
pub use tx::OutboxTx;
pub use writer::{shard_key, OutboxWriter};

/// The `outbox` table (`libs/outbox/migrations`), for every service that appends events: it
/// lists this among its migrators, after `service_kit::db::MIGRATOR` and before its own
/// (`service_kit::db::migrate`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
