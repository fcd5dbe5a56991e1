//! Snowflake ids: 64-bit, time-ordered, unique per node without coordination.
//!
//! ```text
//!  63  62                                   22 21          12 11           0
//! ┌───┬──────────────────────────────────────┬──────────────┬──────────────┐
//! │ 0 │ ms since 2024-01-01T00:00:00Z (41 b) │ node id (10) │ sequence (12)│
//! └───┴──────────────────────────────────────┴──────────────┴──────────────┘
//! ```
//!
//! The sign bit stays clear, so ids are positive `i64`s and fit a Postgres `BIGINT`. Sorting
//! ids sorts them by creation time (to the millisecond), which keeps B-tree inserts at the
//! right edge of the index. One node issues at most 4,096 ids per millisecond
//! ([`IDS_PER_SECOND_LIMIT`]); beyond that [`Snowflake::next_id`] waits for the next one.
//!
//! Uniqueness rests on two things the caller provides: a node id that no other running
//! generator has, and a clock that does not jump back by more than the tolerance. A small step
//! back is waited out; a large one is an error, never a duplicate. That guard lives in memory:
//! a process restarted while its clock is behind the previous run's last id is not protected.
//!
//! ```
//! let ids = snowflake::Snowflake::new(7)?;
//! let id = ids.next_id()?;
//! let parts = snowflake::decode(id)?;
//! assert_eq!(parts.node_id, 7);
//! # Ok::<(), snowflake::SnowflakeError>(())
//! ```

mod clock;
mod error;
mod generator;
mod layout;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::SnowflakeError;
pub use generator::{Snowflake, DEFAULT_BACKWARDS_TOLERANCE_MS};
pub use layout::{
    decode, SnowflakeParts, EPOCH_UNIX_MS, IDS_PER_SECOND_LIMIT, MAX_NODE_ID, MAX_SEQUENCE,
    MAX_TIMESTAMP_MS, NODE_ID_BITS, SEQUENCE_BITS, TIMESTAMP_BITS,
};
