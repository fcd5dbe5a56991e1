use crate::layout::{MAX_NODE_ID, MAX_TIMESTAMP_MS};

/// Everything that can stop an id from being issued or decoded.
///
/// None of these is retried inside the generator: each one means that issuing an id could
/// break uniqueness or ordering, so the caller gets to decide (typically: answer 503 and alert).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnowflakeError {
    #[error("snowflake node id {node_id} is out of range 0..={MAX_NODE_ID}")]
    InvalidNodeId { node_id: u16 },

    #[error(
        "clock moved backwards by {by_ms} ms, more than the tolerance; \
         refusing to issue ids that could repeat"
    )]
    ClockMovedBackwards { by_ms: u64 },

    #[error(
        "clock reads {unix_ms} ms since the Unix epoch, \
         before the snowflake epoch 2024-01-01T00:00:00Z"
    )]
    ClockBeforeEpoch { unix_ms: u64 },

    #[error(
        "clock reads {since_epoch_ms} ms since 2024-01-01, past the 41-bit limit \
         {MAX_TIMESTAMP_MS} ms (year 2093)"
    )]
    TimestampOverflow { since_epoch_ms: u64 },

    #[error("{id} is not a snowflake id: snowflake ids are positive")]
    InvalidId { id: i64 },
}
