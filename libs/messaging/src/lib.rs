//! messaging: how paymsa services use NATS JetStream (docs/architecture.md §4–§5), written once.
//!
//! - [`provision`] creates or updates the business streams (Limits retention, file storage,
//!   `max_age`, 2-minute duplicate window) and the `DLQ` stream of dead-letter advisories.
//! - [`spawn_consumer`] runs a durable pull consumer: batched pulls, bounded concurrency,
//!   explicit acks, and retry delays applied by the client (NAK with delay) because a
//!   server-side `backoff` list replaces `ack_wait` and a plain NAK ignores it. A handler says
//!   [`HandlerError::Retry`] (transient) or [`HandlerError::Reject`] (hopeless, terminated at once).
//! - [`apply_once`] makes a handler idempotent: a `(consumer, eventId)` row in
//!   `processed_events` commits in the same transaction as the handler's effect.
//! - [`GroupCommit`] applies the deliveries a consumer handles at once in one transaction,
//!   a savepoint each, so a busy consumer pays one commit per group, not per message.
//! - [`dead_letters`] stores every message that exhausted its deliveries or was terminated
//!   (resolved from the server's advisories) and serves list / inspect / replay to operators.
//!   A replay runs the stored message through the failed consumer's own handler, in process
//!   ([`Replayers`]); nothing is republished, so no other consumer of the subject sees it.
//! - [`EventBus`] bundles the start-up of a consuming service: provision, consumers (each
//!   registering its dead-letter handling), the dead-letter worker, and the API to mount.
//!
//! - [`retention`] trims `processed_events` and resolved dead letters on a schedule (and
//!   offers the batched age purge to services for their own tables).
//!
//! - [`access`] lists who may publish and consume what; it renders the NATS users and
//!   permissions (deploy/nats/auth.conf, docs/identity.md "The bus").
//!
//! Retry delays (1 s, 2 s) are measured in `tests/consumer.rs`; throughput in
//! `benches/consumer_throughput.rs`. The SQL tables (`processed_events`, `dead_letters`) are
//! this crate's own ([`MIGRATOR`]).

pub mod access;
mod bus;
mod consumer;
pub mod dead_letters;
mod error;
mod group_commit;
mod idempotency;
mod metrics;
mod provision;
mod replay;
pub mod retention;
mod runner;
mod runtime;
mod schema;
mod tx_conn;

pub use bus::EventBus;
pub use consumer::{spawn_consumer, ConsumerSpec, Delivery, Handler, REDRIVE_MARK};
pub use dead_letters::{spawn_dead_letter_worker, DeadLetterApi};
pub use error::{ConsumerError, HandlerError, ProvisionError};
pub use group_commit::{in_group, BatchItem, GroupCommit, GroupHandler, Lanes};
pub use idempotency::{
    apply_once, apply_once_with_outbox, claim_event, claim_events, claim_fresh, Applied,
};
pub use provision::{provision, provision_with, ProvisionOptions};
pub use replay::{note_duplicate, ReplayError, Replayed, Replayers, REPLAY_OF};
pub use runtime::ServiceRuntime;
pub use schema::Schema;
pub use tx_conn::{HandlerTx, TxConn};

/// The `processed_events` and `dead_letters` tables (`libs/messaging/migrations`), for every
/// service that consumes events: it lists this among its migrators, before its own
/// (`service_kit::db::migrate`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
