//! The hot-products score (docs/architecture.md §6) as plain arithmetic, apart from Redis so it is unit-tested.
//!
//! A contribution of weight `w` made at `t` is worth `w · 2^(−(now − t)/h)` at `now` (half-life
//! `h`). The sorted set stores, per product, `S = Σ w · 2^((t − t0)/h)` relative to an epoch
//! `t0`, so `score(now) = S · 2^(−(now − t0)/h)`: every product shares that factor, the ranking
//! order never changes with time, and nothing is rescored periodically. Adding or removing a
//! contribution is one `ZINCRBY`, and removal is exact because an unlike / review delete carries
//! the original time: it subtracts the bit-identical amount that was added.
//!
//! Range: an f64 overflows at 2^1024 and the exponent grows by one per half-life after `t0`, so
//! `t0` cannot stay fixed (with 24 h and `t0` = 2024-01-01 the set would overflow in Oct 2026).
//! The ranking moves `t0` forward by whole half-lives once `now − t0` exceeds
//! [`RENORMALISE_AFTER`] half-lives, scaling every stored value by the same power of two (exact
//! in binary floating point). Exponents then stay below `RENORMALISE_AFTER` plus the accepted
//! future skew (≤ 32 half-lives), i.e. stored values below `w · n · 2^97`. Contributions over
//! ~1,070 half-lives older than `t0` underflow to 0 — long decayed below anything displayed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use events::{LikeChanged, PaymentConfirmed, ReviewChanged};

pub const DEFAULT_HALF_LIFE: Duration = Duration::from_secs(24 * 3600);

/// Half-lives after which the epoch moves forward (and the set is rescaled once).
pub const RENORMALISE_AFTER: i64 = 64;

/// How far ahead of our clock an event time may be: producers' clocks drift a little, but a
/// time far in the future would inflate the exponent (and is a bug upstream).
const MAX_FUTURE_MS: i64 = 24 * 3600 * 1000;
const MAX_FUTURE_HALF_LIVES: i64 = 32;

/// Points per contribution; docs/architecture.md §6 defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    pub like: f64,
    pub review: f64,
    /// Per star of a review's rating (1..=5).
    pub star: f64,
    pub paid_line: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            like: 2.0,
            review: 3.0,
            star: 5.0,
            paid_line: 10.0,
        }
    }
}

/// Whether an event adds a contribution or takes one back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Add,
    Remove,
}

/// One contribution to one product, as the ranking applies it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    pub product_no: i64,
    /// Signed: negative takes back what the matching positive change added.
    pub weight: f64,
    /// When the contribution was made (ms since the Unix epoch); its decay starts there.
    pub at_ms: i64,
    pub likes: i64,
    pub reviews: i64,
    pub stars: i64,
    pub paid_lines: i64,
}

impl Change {
    fn directed(self, direction: Direction) -> Self {
        match direction {
            Direction::Add => self,
            Direction::Remove => Self {
                weight: -self.weight,
                likes: -self.likes,
                reviews: -self.reviews,
                stars: -self.stars,
                paid_lines: -self.paid_lines,
                ..self
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreModel {
    pub weights: Weights,
    half_life_ms: i64,
}

impl ScoreModel {
    pub fn new(weights: Weights, half_life: Duration) -> Result<Self, String> {
        let half_life_ms = i64::try_from(half_life.as_millis()).unwrap_or(i64::MAX);
        if !(1_000..=10 * 365 * 24 * 3600 * 1000).contains(&half_life_ms) {
            return Err(format!(
                "half-life must be 1 s to 10 years (got {half_life:?})"
            ));
        }
        Ok(Self {
            weights,
            half_life_ms,
        })
    }

    pub fn half_life_ms(&self) -> i64 {
        self.half_life_ms
    }

    pub fn like(&self, like: &LikeChanged, direction: Direction) -> Change {
        Change {
            product_no: like.product_no,
            weight: self.weights.like,
            at_ms: like.liked_at.timestamp_millis(),
            likes: 1,
            reviews: 0,
            stars: 0,
            paid_lines: 0,
        }
        .directed(direction)
    }

    /// A review counts once and per star, as one contribution at its creation time.
    pub fn review(&self, review: &ReviewChanged, direction: Direction) -> Result<Change, String> {
        if !(1..=5).contains(&review.star_rating) {
            return Err(format!(
                "star rating must be 1..=5 (got {})",
                review.star_rating
            ));
        }
        let stars = i64::from(review.star_rating);
        Ok(Change {
            product_no: review.product_no,
            weight: self.weights.review + self.weights.star * stars as f64,
            at_ms: review.created_at.timestamp_millis(),
            likes: 0,
            reviews: 1,
            stars,
            paid_lines: 0,
        }
        .directed(direction))
    }

    /// One contribution per paid order line, at the payment's approval time.
    pub fn paid_lines(&self, payment: &PaymentConfirmed) -> Vec<Change> {
        let at_ms = payment.approved_at.timestamp_millis();
        payment
            .lines
            .iter()
            .map(|line| Change {
                product_no: line.product_no,
                weight: self.weights.paid_line,
                at_ms,
                likes: 0,
                reviews: 0,
                stars: 0,
                paid_lines: 1,
            })
            .collect()
    }

    /// Rejects contributions dated implausibly far after `now` (see [`MAX_FUTURE_MS`]). A take-back
    /// carries the time of an add that passed this check earlier, so it passes too.
    pub fn check_times(&self, changes: &[Change], now: DateTime<Utc>) -> Result<(), String> {
        let limit = MAX_FUTURE_MS.min(MAX_FUTURE_HALF_LIVES.saturating_mul(self.half_life_ms));
        let latest = now.timestamp_millis().saturating_add(limit);
        match changes.iter().find(|c| c.at_ms > latest) {
            Some(c) => Err(format!(
                "event time {} ms is more than {limit} ms ahead of now",
                c.at_ms
            )),
            None => Ok(()),
        }
    }

    /// `w · 2^((t − t0)/h)`: what a contribution adds to the sorted set. The Lua script in
    /// `ranking` computes the same expression; this one documents and tests it.
    pub fn stored(&self, weight: f64, at_ms: i64, epoch_ms: i64) -> f64 {
        weight * 2f64.powf((at_ms - epoch_ms) as f64 / self.half_life_ms as f64)
    }

    /// The score at `now` of a stored value.
    pub fn decayed(&self, stored: f64, epoch_ms: i64, now: DateTime<Utc>) -> f64 {
        let elapsed = now.timestamp_millis().saturating_sub(epoch_ms) as f64;
        stored * 2f64.powf(-elapsed / self.half_life_ms as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn model() -> ScoreModel {
        ScoreModel::new(Weights::default(), DEFAULT_HALF_LIFE).expect("valid")
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
    }

    #[test]
    fn a_fresh_contribution_scores_its_weight_and_halves_per_half_life() {
        let m = model();
        let now = Utc::now();
        let epoch = now.timestamp_millis() - 5 * m.half_life_ms();
        let stored = m.stored(2.0, now.timestamp_millis(), epoch);
        assert!(close(m.decayed(stored, epoch, now), 2.0));
        let later = now + TimeDelta::hours(24);
        assert!(close(m.decayed(stored, epoch, later), 1.0));
        assert!(close(
            m.decayed(stored, epoch, later + TimeDelta::hours(24)),
            0.5
        ));
    }

    #[test]
    fn the_displayed_score_does_not_depend_on_the_epoch() {
        let m = model();
        let now = Utc::now();
        let at = now.timestamp_millis() - 3_600_000;
        let scores: Vec<f64> = [0, 7, 63]
            .iter()
            .map(|k| {
                let epoch = now.timestamp_millis() - k * m.half_life_ms();
                m.decayed(m.stored(10.0, at, epoch), epoch, now)
            })
            .collect();
        assert!(
            close(scores[0], scores[1]) && close(scores[1], scores[2]),
            "{scores:?}"
        );
    }

    #[test]
    fn taking_back_subtracts_exactly_what_was_added() {
        let m = model();
        let epoch = Utc::now().timestamp_millis();
        let like = LikeChanged {
            product_no: 1,
            member_no: 2,
            liked_at: Utc::now() - TimeDelta::minutes(90),
        };
        let add = m.like(&like, Direction::Add);
        let remove = m.like(&like, Direction::Remove);
        assert_eq!(remove.weight, -add.weight);
        assert_eq!(remove.at_ms, add.at_ms);
        assert_eq!((add.likes, remove.likes), (1, -1));
        let before = m.stored(23.0, epoch - 1000, epoch);
        let after = before
            + m.stored(add.weight, add.at_ms, epoch)
            + m.stored(remove.weight, remove.at_ms, epoch);
        assert!(close(after, before), "{after} vs {before}");
    }

    #[test]
    fn events_map_to_default_weights() {
        let m = model();
        let review = ReviewChanged {
            product_review_no: 1,
            product_no: 7,
            member_no: 2,
            star_rating: 4,
            created_at: Utc::now(),
        };
        let change = m.review(&review, Direction::Add).expect("valid");
        assert_eq!((change.weight, change.reviews, change.stars), (23.0, 1, 4));
        let bad = ReviewChanged {
            star_rating: 6,
            ..review
        };
        assert!(m.review(&bad, Direction::Add).is_err());
    }

    #[test]
    fn far_future_event_times_are_refused() {
        let m = model();
        let now = Utc::now();
        let ok = Change {
            product_no: 1,
            weight: 2.0,
            at_ms: (now + TimeDelta::hours(1)).timestamp_millis(),
            likes: 1,
            reviews: 0,
            stars: 0,
            paid_lines: 0,
        };
        assert!(m.check_times(&[ok], now).is_ok());
        let late = Change {
            at_ms: (now + TimeDelta::days(2)).timestamp_millis(),
            ..ok
        };
        assert!(m.check_times(&[ok, late], now).is_err());
    }

    #[test]
    fn half_life_bounds_are_enforced() {
        assert!(ScoreModel::new(Weights::default(), Duration::from_millis(10)).is_err());
        assert!(ScoreModel::new(Weights::default(), Duration::from_secs(1)).is_ok());
    }
}
