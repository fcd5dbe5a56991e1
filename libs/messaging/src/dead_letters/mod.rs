//! Dead letters (docs/architecture.md §5): nothing is dropped silently.
//!
//! The `DLQ` stream captures the server's MAX_DELIVERIES and MSG_TERMINATED advisories. Each
//! service runs one [`worker`] that consumes the advisories of *its own* consumers, resolves
//! each to the original message by stream sequence (business streams use Limits retention, so
//! the message is still there) and stores it in its `dead_letters` table ([`store`]). The
//! [`api`] lets an operator list, inspect and replay them; a replay runs the message through
//! the failed consumer's own handler in this process (`replay.rs`), never through NATS.

pub mod api;
mod examples;
mod replay;
pub mod store;
pub mod views;
pub mod worker;

pub use api::DeadLetterApi;
pub use store::{DeadLetter, DeadLetterSummary, Reason};
pub use worker::spawn_dead_letter_worker;
