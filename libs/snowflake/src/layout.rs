//! Bit layout of an id and its decoding.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::SnowflakeError;

/// 2024-01-01T00:00:00Z in milliseconds since the Unix epoch.
///
/// A recent epoch buys range: 41 bits of milliseconds last until 2093 from here, against 2039
/// had the Unix epoch been used.
pub const EPOCH_UNIX_MS: u64 = 1_704_067_200_000;

pub const TIMESTAMP_BITS: u32 = 41;
pub const NODE_ID_BITS: u32 = 10;
pub const SEQUENCE_BITS: u32 = 12;

pub const MAX_TIMESTAMP_MS: u64 = (1 << TIMESTAMP_BITS) - 1;
pub const MAX_NODE_ID: u16 = (1 << NODE_ID_BITS) - 1;
pub const MAX_SEQUENCE: u16 = (1 << SEQUENCE_BITS) - 1;

/// Ids one node can issue per second; a node asking for more waits for the next millisecond.
pub const IDS_PER_SECOND_LIMIT: u64 = 1000 << SEQUENCE_BITS;

pub(crate) const NODE_ID_SHIFT: u32 = SEQUENCE_BITS;
pub(crate) const TIMESTAMP_SHIFT: u32 = SEQUENCE_BITS + NODE_ID_BITS;

/// The three fields of an id, with the timestamp given against both epochs so callers need no
/// date library to use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SnowflakeParts {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub unix_ms: u64,
    /// Milliseconds since [`EPOCH_UNIX_MS`] (2024-01-01T00:00:00Z): the raw 41-bit field.
    pub since_epoch_ms: u64,
    pub node_id: u16,
    pub sequence: u16,
}

impl SnowflakeParts {
    /// When the id was issued, to the millisecond.
    pub fn system_time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.unix_ms)
    }
}

/// Splits an id into its fields. Negative numbers are refused: no generator produces them, so
/// one reaching this point is corrupt or forged, and decoding it would invent a timestamp.
pub fn decode(id: i64) -> Result<SnowflakeParts, SnowflakeError> {
    let Ok(raw) = u64::try_from(id) else {
        return Err(SnowflakeError::InvalidId { id });
    };
    let since_epoch_ms = raw >> TIMESTAMP_SHIFT;
    Ok(SnowflakeParts {
        unix_ms: since_epoch_ms + EPOCH_UNIX_MS,
        since_epoch_ms,
        // The masks make both narrowing casts exact.
        node_id: ((raw >> NODE_ID_SHIFT) & u64::from(MAX_NODE_ID)) as u16,
        sequence: (raw & u64::from(MAX_SEQUENCE)) as u16,
    })
}

/// Callers guarantee `since_epoch_ms <= MAX_TIMESTAMP_MS`, which keeps bit 63 clear and the
/// cast lossless.
pub(crate) const fn compose(since_epoch_ms: u64, node_bits: u64, sequence: u64) -> i64 {
    ((since_epoch_ms << TIMESTAMP_SHIFT) | node_bits | sequence) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_sit_at_their_documented_bit_positions() {
        let id = compose(1, 1 << NODE_ID_SHIFT, 1);
        assert_eq!(id, (1 << 22) | (1 << 12) | 1);
        let max = compose(
            MAX_TIMESTAMP_MS,
            u64::from(MAX_NODE_ID) << NODE_ID_SHIFT,
            4095,
        );
        assert_eq!(max, i64::MAX, "all 63 low bits used, sign bit free");
    }

    #[test]
    fn epoch_is_2024_01_01_utc() {
        // 54 years from 1970 to 2024, 13 of them leap years (1972..=2020).
        let days = 54 * 365 + 13;
        assert_eq!(EPOCH_UNIX_MS, days * 86_400_000);
    }

    #[test]
    fn decode_inverts_compose() {
        let id = compose(123_456_789, 777 << NODE_ID_SHIFT, 4095);
        let parts = SnowflakeParts {
            unix_ms: EPOCH_UNIX_MS + 123_456_789,
            since_epoch_ms: 123_456_789,
            node_id: 777,
            sequence: 4095,
        };
        assert_eq!(decode(id), Ok(parts));
    }

    #[test]
    fn negative_ids_are_refused() {
        assert_eq!(decode(-5), Err(SnowflakeError::InvalidId { id: -5 }));
    }
}
