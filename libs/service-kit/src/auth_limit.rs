//! Per-caller limits on writes (checkouts, confirms, cancels, payouts, likes, reviews):
//! `RATE_LIMIT_WRITES_PER_MIN` per member, or per client IP for callers without one. A refusal
//! is 429 with `Retry-After`.

use std::{
    num::NonZeroU32,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Forget idle callers every this many checks, so the map does not grow without bound.
const PRUNE_EVERY: u64 = 4096;

pub struct WriteLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
    checks: AtomicU64,
}

impl WriteLimiter {
    /// `None` when the limit is off (0).
    pub fn new(per_minute: u32) -> Option<Self> {
        let per_minute = NonZeroU32::new(per_minute)?;
        Some(Self {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            checks: AtomicU64::new(0),
        })
    }

    /// `Err(wait)` when `key` is over its limit.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&key.to_string())
            .map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }
}

/// `Retry-After` in whole seconds, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_millis().div_ceil(1000) as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_at_zero_and_per_key_otherwise() {
        assert!(WriteLimiter::new(0).is_none());
        let limiter = WriteLimiter::new(2).expect("on");
        assert!(limiter.check("m:1").is_ok());
        assert!(limiter.check("m:1").is_ok());
        let wait = limiter.check("m:1").expect_err("third write in a minute");
        assert!(retry_after_secs(wait) >= 1 && retry_after_secs(wait) <= 30);
        assert!(
            limiter.check("m:2").is_ok(),
            "another member has its own budget"
        );
    }
}
