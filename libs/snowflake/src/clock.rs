//! Time sources. The generator only ever asks "what millisecond is it?", so tests can replace
//! the wall clock with one they step by hand, including backwards.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A wall clock with millisecond resolution.
///
/// It must be wall time rather than a monotonic clock: ids from different processes and
/// restarts are compared by their timestamps, and only wall time is shared between them.
pub trait Clock: Send + Sync {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    fn now_unix_ms(&self) -> u64;
}

/// The operating system's real-time clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix_ms(&self) -> u64 {
        // A clock set before 1970 reads as 0, which the generator then refuses as being
        // before its epoch, so the fault still surfaces.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            })
    }
}

/// A clock that moves only when told to. Clones share the same time, so a test can keep one
/// handle and give another to the generator.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    now_unix_ms: Arc<AtomicU64>,
}

impl ManualClock {
    pub fn new(now_unix_ms: u64) -> Self {
        Self {
            now_unix_ms: Arc::new(AtomicU64::new(now_unix_ms)),
        }
    }

    /// Sets the time; earlier than the current reading is allowed, that is the point.
    pub fn set(&self, now_unix_ms: u64) {
        self.now_unix_ms.store(now_unix_ms, Ordering::SeqCst);
    }

    pub fn advance(&self, by_ms: u64) {
        self.now_unix_ms.fetch_add(by_ms, Ordering::SeqCst);
    }

    pub fn rewind(&self, by_ms: u64) {
        self.now_unix_ms.fetch_sub(by_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_unix_ms(&self) -> u64 {
        self.now_unix_ms.load(Ordering::SeqCst)
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now_unix_ms(&self) -> u64 {
        (**self).now_unix_ms()
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now_unix_ms(&self) -> u64 {
        (**self).now_unix_ms()
    }
}

impl<C: Clock + ?Sized> Clock for Box<C> {
    fn now_unix_ms(&self) -> u64 {
        (**self).now_unix_ms()
    }
}
