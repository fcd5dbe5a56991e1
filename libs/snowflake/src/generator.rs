//! The id generator: one atomic word of state, claimed with compare-and-swap.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::layout::{
    compose, EPOCH_UNIX_MS, MAX_NODE_ID, MAX_SEQUENCE, MAX_TIMESTAMP_MS, NODE_ID_SHIFT,
    SEQUENCE_BITS,
};
use crate::SnowflakeError;

/// How far the clock may step back before [`Snowflake::next_id`] fails instead of waiting.
///
/// NTP slews offsets under 128 ms (the clock never goes backwards then) and steps larger ones,
/// so a backwards step seen here is usually either tiny (cross-core skew, a VM hiccup) or big.
/// 50 ms covers the tiny kind while bounding how long a request can stall on it; anything
/// bigger is better surfaced to an operator than hidden behind a long sleep.
pub const DEFAULT_BACKWARDS_TOLERANCE_MS: u64 = 50;

const SEQUENCE_MASK: u64 = MAX_SEQUENCE as u64;

/// A thread-safe id generator for one node. Create one per process (per node id) and share it
/// by reference or `Arc`: two generators with the same node id would issue the same ids.
pub struct Snowflake<C: Clock = SystemClock> {
    /// `(ms since EPOCH_UNIX_MS) << 12 | sequence` of the last id issued. Packing both into
    /// one word lets a thread claim an id with a single compare-and-swap, with no lock to be
    /// descheduled while holding.
    state: AtomicU64,
    node_bits: u64,
    node_id: u16,
    backwards_tolerance_ms: u64,
    clock: C,
}

impl Snowflake<SystemClock> {
    /// A generator on the system clock with the default backwards tolerance.
    pub fn new(node_id: u16) -> Result<Self, SnowflakeError> {
        Self::with_clock(node_id, SystemClock)
    }
}

impl<C: Clock> Snowflake<C> {
    pub fn with_clock(node_id: u16, clock: C) -> Result<Self, SnowflakeError> {
        if node_id > MAX_NODE_ID {
            return Err(SnowflakeError::InvalidNodeId { node_id });
        }
        Ok(Self {
            state: AtomicU64::new(0),
            node_bits: u64::from(node_id) << NODE_ID_SHIFT,
            node_id,
            backwards_tolerance_ms: DEFAULT_BACKWARDS_TOLERANCE_MS,
            clock,
        })
    }

    /// Replaces [`DEFAULT_BACKWARDS_TOLERANCE_MS`]. Zero makes every backwards step an error.
    #[must_use]
    pub fn with_backwards_tolerance_ms(mut self, tolerance_ms: u64) -> Self {
        self.backwards_tolerance_ms = tolerance_ms;
        self
    }

    pub fn node_id(&self) -> u16 {
        self.node_id
    }

    pub fn backwards_tolerance_ms(&self) -> u64 {
        self.backwards_tolerance_ms
    }

    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Issues the next id: unique for this node, and greater than every id this generator has
    /// issued before (across all threads).
    ///
    /// Blocks when 4,096 ids have been issued in the current millisecond (until the next one)
    /// and when the clock has stepped back by at most the tolerance (until it catches up).
    /// Fails with [`SnowflakeError::ClockMovedBackwards`] on a larger step back, and keeps
    /// failing until the clock is within the tolerance again: an error is recoverable, a
    /// duplicate id is not.
    pub fn next_id(&self) -> Result<i64, SnowflakeError> {
        // The state is loaded before the clock is read. In the other order a thread descheduled
        // between the two reads could find a timestamp that another thread took later than its
        // own stale reading, and mistake that for the clock going backwards.
        let mut current = self.state.load(Ordering::Acquire);
        loop {
            let now_ms = self.now_since_epoch_ms()?;
            let last_ms = current >> SEQUENCE_BITS;
            let next = if now_ms > last_ms {
                now_ms << SEQUENCE_BITS
            } else if now_ms == last_ms && current & SEQUENCE_MASK < SEQUENCE_MASK {
                current + 1
            } else {
                // Either this millisecond's sequence is used up or the clock is behind the last
                // id. Issuing anyway would mean borrowing future timestamps; waiting keeps every
                // id's timestamp equal to a real clock reading.
                let behind_ms = last_ms - now_ms;
                if behind_ms > self.backwards_tolerance_ms {
                    return Err(SnowflakeError::ClockMovedBackwards { by_ms: behind_ms });
                }
                wait_for_clock(behind_ms);
                current = self.state.load(Ordering::Acquire);
                continue;
            };
            match self.state.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    return Ok(compose(
                        next >> SEQUENCE_BITS,
                        self.node_bits,
                        next & SEQUENCE_MASK,
                    ))
                }
                Err(actual) => current = actual,
            }
        }
    }

    fn now_since_epoch_ms(&self) -> Result<u64, SnowflakeError> {
        let unix_ms = self.clock.now_unix_ms();
        let since_epoch_ms = unix_ms
            .checked_sub(EPOCH_UNIX_MS)
            .ok_or(SnowflakeError::ClockBeforeEpoch { unix_ms })?;
        if since_epoch_ms > MAX_TIMESTAMP_MS {
            return Err(SnowflakeError::TimestampOverflow { since_epoch_ms });
        }
        Ok(since_epoch_ms)
    }
}

/// Waits a little before the clock is read again. Within a millisecond of the target a sleep
/// would overshoot (timer slack is ~50 µs or more), so the thread only yields, which also lets
/// the other generating threads run on a busy machine; further away it sleeps instead of
/// burning a core for up to the whole tolerance.
fn wait_for_clock(behind_ms: u64) {
    if behind_ms >= 2 {
        thread::sleep(Duration::from_millis(1));
    } else {
        thread::yield_now();
    }
}

impl<C: Clock> fmt::Debug for Snowflake<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.load(Ordering::Relaxed);
        f.debug_struct("Snowflake")
            .field("node_id", &self.node_id)
            .field("backwards_tolerance_ms", &self.backwards_tolerance_ms)
            .field("last_since_epoch_ms", &(state >> SEQUENCE_BITS))
            .field("last_sequence", &(state & SEQUENCE_MASK))
            .finish_non_exhaustive()
    }
}
