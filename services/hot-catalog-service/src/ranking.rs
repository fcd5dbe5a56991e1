//! The ranking in Redis: one sorted set of stored scores (see [`crate::score`] for the model),
//! the epoch they are relative to, and per-product counters, all under a key prefix holding the
//! NATS namespace so parallel tests (and environments sharing a Redis) never share a ranking.
//!
//! Writes go through `lua/apply.lua`, which marks the event seen (`SET NX` with a TTL) and
//! updates scores and counters in the same script — Redis runs a script atomically, so dedupe
//! cannot succeed without the update or the other way round. Reads go through `lua/top.lua`,
//! one consistent snapshot per request. Both scripts declare every key they touch; the prefix
//! is not a hash tag, so a Redis Cluster would need one added (standalone Redis is assumed).

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use redis::{aio::ConnectionManager, AsyncCommands, RedisError, Script};
use uuid::Uuid;

use crate::{
    purchases::{line_ttl_secs, LineOp},
    score::{Change, ScoreModel, RENORMALISE_AFTER},
};

/// Longer than the streams' `max_age` (7 days), so every redelivery of a message the streams
/// still hold finds its marker. Dead letters live longer (the DLQ stream 30 days, see
/// libs/messaging/src/provision.rs; their rows until deleted), which is why a replay
/// runs only through the consumer that gave up on the letter (never republished to the other
/// consumers of its subject, whose markers may be gone) and a letter it resolved is never run
/// again (libs/messaging/src/dead_letters/replay.rs).
pub const SEEN_TTL_SECS: u64 = 8 * 24 * 3600;

static APPLY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/score_lib.lua"),
        include_str!("lua/apply.lua")
    ))
});
static PURCHASES: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/score_lib.lua"),
        include_str!("lua/purchases.lua")
    ))
});
static TOP: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/top.lua")));

/// One ranked product as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub product_no: i64,
    /// Relative to the snapshot's epoch; see [`ScoreModel::decayed`].
    pub stored: f64,
    pub likes: i64,
    pub reviews: i64,
    pub stars: i64,
    pub paid_lines: i64,
}

/// The top of the ranking at one instant, best first.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// `None` until the first event was applied.
    pub epoch_ms: Option<i64>,
    pub entries: Vec<Entry>,
}

#[derive(Clone)]
pub struct Ranking {
    conn: ConnectionManager,
    model: ScoreModel,
    prefix: String,
}

impl Ranking {
    pub fn new(conn: ConnectionManager, namespace: &str, model: ScoreModel) -> Self {
        let prefix = match namespace {
            "" => "hot".to_string(),
            ns => format!("{ns}:hot"),
        };
        Self {
            conn,
            model,
            prefix,
        }
    }

    pub fn model(&self) -> &ScoreModel {
        &self.model
    }

    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    /// The keys every script shares, in the order they declare them.
    fn data_keys(&self) -> [String; 6] {
        ["scores", "epoch", "likes", "reviews", "stars", "paid"].map(|k| self.key(k))
    }

    /// Applies `changes` unless event `event_id` was applied before. `Ok(true)`: applied;
    /// `Ok(false)`: a duplicate, nothing changed. `now` decides whether the epoch moves first.
    pub async fn apply(
        &self,
        event_id: Uuid,
        now: DateTime<Utc>,
        changes: &[Change],
    ) -> Result<bool, RedisError> {
        let mut call = APPLY.prepare_invoke();
        call.key(self.key(&format!("seen:{event_id}")));
        for key in self.data_keys() {
            call.key(key);
        }
        call.arg(SEEN_TTL_SECS)
            .arg(now.timestamp_millis())
            .arg(self.model.half_life_ms())
            .arg(RENORMALISE_AFTER);
        for c in changes {
            call.arg(c.product_no)
                .arg(c.weight)
                .arg(c.at_ms)
                .arg(c.likes)
                .arg(c.reviews)
                .arg(c.stars)
                .arg(c.paid_lines);
        }
        let applied: i64 = call.invoke_async(&mut self.conn.clone()).await?;
        Ok(applied == 1)
    }

    /// Applies purchases and refunds of paid order lines (see [`crate::purchases`]); returns
    /// how many of `ops` changed something (0: all were repeats).
    pub async fn apply_purchases(
        &self,
        now: DateTime<Utc>,
        ops: &[LineOp],
    ) -> Result<u64, RedisError> {
        let mut call = PURCHASES.prepare_invoke();
        for key in self.data_keys() {
            call.key(key);
        }
        call.arg(line_ttl_secs(&self.model))
            .arg(now.timestamp_millis())
            .arg(self.model.half_life_ms())
            .arg(RENORMALISE_AFTER);
        for op in ops {
            match *op {
                LineOp::Buy {
                    payment_order_no,
                    product_no,
                    at_ms,
                    weight,
                } => {
                    call.key(self.key(&format!("line:{payment_order_no}")));
                    call.arg("buy").arg(product_no).arg(at_ms).arg(weight);
                    call.arg("-").arg("-");
                }
                LineOp::Refund {
                    payment_order_no,
                    product_no,
                    cancel_no,
                    refunded,
                    line_amount,
                } => {
                    call.key(self.key(&format!("line:{payment_order_no}")));
                    call.arg("refund").arg(product_no).arg(cancel_no);
                    call.arg(refunded).arg(line_amount).arg("-");
                }
            }
        }
        call.invoke_async(&mut self.conn.clone()).await
    }

    /// The best `limit` products, best first (ties: higher product number first, Redis' order).
    pub async fn top(&self, limit: usize) -> Result<Snapshot, RedisError> {
        let mut call = TOP.prepare_invoke();
        for key in self.data_keys() {
            call.key(key);
        }
        call.arg(limit);
        let raw: Vec<String> = call.invoke_async(&mut self.conn.clone()).await?;
        Ok(parse_top(&raw))
    }

    /// How many products are ranked.
    pub async fn count(&self) -> Result<u64, RedisError> {
        self.conn.clone().zcard(self.key("scores")).await
    }

    /// Deletes this namespace's ranking (tests and benchmarks clean up with it). Seen markers
    /// are left to expire.
    pub async fn purge(&self) -> Result<(), RedisError> {
        let keys = self.data_keys().to_vec();
        self.conn.clone().del(keys).await
    }
}

fn parse_top(raw: &[String]) -> Snapshot {
    let Some((epoch, rows)) = raw.split_first() else {
        return Snapshot::default();
    };
    let count = |s: &str| s.parse::<i64>().unwrap_or(0);
    let entries = rows
        .chunks_exact(6)
        .filter_map(|row| {
            let parsed = row[0].parse::<i64>().ok().zip(row[1].parse::<f64>().ok());
            if parsed.is_none() {
                // Only this service writes these keys; a foreign member is logged, not served.
                tracing::warn!(member = %row[0], score = %row[1], "unparsable ranking entry skipped");
            }
            let (product_no, stored) = parsed?;
            Some(Entry {
                product_no,
                stored,
                likes: count(&row[2]),
                reviews: count(&row[3]),
                stars: count(&row[4]),
                paid_lines: count(&row[5]),
            })
        })
        .collect();
    Snapshot {
        epoch_ms: epoch.parse().ok(),
        entries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_parse_in_order_and_skip_garbage() {
        let raw: Vec<String> = [
            "1700000000000",
            "7",
            "23.5",
            "1",
            "1",
            "4",
            "0",
            "x",
            "1",
            "0",
            "0",
            "0",
            "0",
            "3",
            "2",
            "0",
            "0",
            "0",
            "1",
        ]
        .map(String::from)
        .to_vec();
        let snap = parse_top(&raw);
        assert_eq!(snap.epoch_ms, Some(1_700_000_000_000));
        let order: Vec<i64> = snap.entries.iter().map(|e| e.product_no).collect();
        assert_eq!(order, vec![7, 3]);
        assert_eq!(snap.entries[0].stars, 4);
        assert_eq!(parse_top(&["".to_string()]).epoch_ms, None);
    }
}
