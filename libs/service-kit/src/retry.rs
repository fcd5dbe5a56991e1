//! The one retry policy for lost optimistic locks (a row's `version` changed under us): each
//! attempt runs in a fresh transaction, waiting 5 ms doubling to 200 ms with jitter so the
//! losers of one round do not collide again, at most 25 retries (a few seconds at worst).
//! Generous on purpose: a popular product or a busy seller's wallet is exactly where many
//! writers meet.

use std::time::Duration;

use backon::ExponentialBuilder;

pub fn optimistic_lock() -> ExponentialBuilder {
    ExponentialBuilder::new()
        .with_min_delay(Duration::from_millis(5))
        .with_max_delay(Duration::from_millis(200))
        .with_factor(2.0)
        .with_max_times(25)
        .with_jitter()
}

/// The same policy as waits between attempts, for loops that run attempts themselves (e.g.
/// when each attempt must first claim an event in its transaction).
pub fn optimistic_lock_delays() -> impl Iterator<Item = Duration> {
    use backon::BackoffBuilder;
    optimistic_lock().build()
}
