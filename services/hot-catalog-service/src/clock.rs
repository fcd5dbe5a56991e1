//! Where "now" comes from. Scores are stored relative to a fixed epoch, so the clock only
//! decides how far the displayed scores have decayed (and when the epoch moves). Injecting it
//! lets tests read one ranking at several points in time; `tokio::time::pause` would not help
//! because it does not move chrono's wall clock.

use std::sync::{
    atomic::{AtomicI64, Ordering},
    Arc,
};

use chrono::{DateTime, TimeDelta, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock; what `build` uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to (millisecond resolution). Cloning shares the time, so a
/// test keeps a handle while the service holds another.
#[derive(Debug, Clone)]
pub struct ManualClock {
    millis: Arc<AtomicI64>,
}

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self {
            millis: Arc::new(AtomicI64::new(at.timestamp_millis())),
        }
    }

    pub fn set(&self, at: DateTime<Utc>) {
        self.millis.store(at.timestamp_millis(), Ordering::SeqCst);
    }

    pub fn advance(&self, by: TimeDelta) {
        self.millis
            .fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        // Only out of range for times chrono cannot represent, which `set` cannot produce.
        DateTime::from_timestamp_millis(self.millis.load(Ordering::SeqCst)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let start = Utc::now();
        let clock = ManualClock::new(start);
        let handle = clock.clone();
        handle.advance(TimeDelta::hours(24));
        assert_eq!(
            clock.now().timestamp_millis(),
            (start + TimeDelta::hours(24)).timestamp_millis()
        );
        handle.set(start);
        assert_eq!(clock.now().timestamp_millis(), start.timestamp_millis());
    }
}
