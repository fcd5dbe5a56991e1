//! Which relay instance publishes which shards (docs/architecture.md §5, "Relay sharding").
//!
//! Instances of one service heartbeat into a Redis sorted set (score = last heartbeat in ms,
//! taken from the Redis clock so skewed hosts do not evict each other). Members silent longer
//! than the eviction period are removed on every heartbeat. Instance `i` of `N`, sorted by
//! member id, owns shards `floor(i·S/N) ..= floor((i+1)·S/N) − 1`: contiguous, disjoint, and
//! together all `S` shards for any `N` (with `N > S` some instances own none).
//!
//! Scores come only from the Redis clock, so a score in the future was not written by a
//! heartbeat (a member added by hand, or by someone who wants to own shards and never publish
//! them): such members are evicted like silent ones. An instance that cannot reach Redis gives
//! up its shards before the others can evict it (see [`ShardCoordinator::run`]).
//!
//! Ownership keeps one publisher per shard (so a shard's events leave in commit order); it is
//! not what prevents double publishing. During churn two instances may briefly both own a
//! shard; row claims (`store::claim_due`) and the `Nats-Msg-Id` dedupe cover that window.

use std::{
    ops::Range,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use redis::{aio::ConnectionManager, RedisError};
use service_kit::Shutdown;
use tokio::sync::watch;

use crate::store::ShardTarget;

/// Heartbeat, evict (silent members and members whose heartbeat lies in the future) and list
/// the members in one round trip, atomically.
const HEARTBEAT_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 10)
return redis.call('ZRANGE', KEYS[1], 0, -1)
";

/// Shards `floor(i·S/N) .. floor((i+1)·S/N)` of instance `index` among `instances`.
pub fn owned_range(index: usize, instances: usize, shards: u16) -> Range<u16> {
    if instances == 0 || index >= instances {
        return 0..0;
    }
    let bound = |i: usize| (i * usize::from(shards) / instances) as u16;
    bound(index)..bound(index + 1)
}

/// What one instance publishes: a shard range, open upwards for the owner of the last shard
/// so that rows written with a larger shard count than the relay's are never stranded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ownership {
    range: (u16, u16),
    open_ended: bool,
}

impl Ownership {
    pub fn none() -> Self {
        Self {
            range: (0, 0),
            open_ended: false,
        }
    }

    fn of(index: usize, instances: usize, shards: u16) -> Self {
        let range = owned_range(index, instances, shards);
        Self {
            open_ended: !range.is_empty() && range.end == shards,
            range: (range.start, range.end),
        }
    }

    pub fn shards(&self) -> Vec<i16> {
        (self.range.0..self.range.1).map(|s| s as i16).collect()
    }

    /// What the publisher claims from: each owned shard, plus the rows beyond the shard count
    /// for the owner of the last shard.
    pub fn targets(&self) -> Vec<ShardTarget> {
        let (first, end) = self.range;
        let mut targets: Vec<ShardTarget> =
            (first..end).map(|s| ShardTarget::Shard(s as i16)).collect();
        if self.open_ended {
            targets.push(ShardTarget::Beyond(end as i16));
        }
        targets
    }
}

/// One relay instance's membership in its service's shard group.
#[derive(Clone)]
pub struct ShardCoordinator {
    inner: Arc<Inner>,
}

struct Inner {
    redis: ConnectionManager,
    key: String,
    member: String,
    shards: u16,
    heartbeat: Duration,
    eviction: Duration,
    script: redis::Script,
    ownership: watch::Sender<Ownership>,
    last_success: Mutex<Instant>,
}

impl ShardCoordinator {
    /// A new member (random id) of the group stored at `key`; it owns nothing until its first
    /// heartbeat. `shards` is clamped to `1..=i16::MAX` (the column is a smallint).
    pub fn new(
        redis: ConnectionManager,
        key: impl Into<String>,
        shards: u16,
        heartbeat: Duration,
        eviction: Duration,
    ) -> Self {
        let (ownership, _) = watch::channel(Ownership::none());
        Self {
            inner: Arc::new(Inner {
                redis,
                key: key.into(),
                member: uuid::Uuid::new_v4().simple().to_string(),
                shards: shards.clamp(1, i16::MAX as u16),
                heartbeat,
                eviction,
                script: redis::Script::new(HEARTBEAT_SCRIPT),
                ownership,
                last_success: Mutex::new(Instant::now()),
            }),
        }
    }

    /// `paymsa:outbox:{service}:{scope}:instances`; the relay uses its database name as the
    /// scope, so exactly the relays sharing one outbox table share shards.
    pub fn key(service: &str, scope: &str) -> String {
        format!("paymsa:outbox:{service}:{scope}:instances")
    }

    pub fn member(&self) -> &str {
        &self.inner.member
    }

    /// The shards owned as of the last heartbeat (empty before the first one).
    pub async fn owned_shards(&self) -> Vec<i16> {
        self.inner.ownership.borrow().shards()
    }

    pub(crate) fn watch(&self) -> watch::Receiver<Ownership> {
        self.inner.ownership.subscribe()
    }

    /// Records this member as alive, evicts silent ones and recomputes what it owns.
    pub async fn heartbeat(&self) -> Result<Vec<i16>, RedisError> {
        let inner = &self.inner;
        let mut redis = inner.redis.clone();
        let mut invocation = inner.script.prepare_invoke();
        invocation
            .key(&inner.key)
            .arg(&inner.member)
            .arg(inner.eviction.as_millis() as u64);
        let invocation = invocation.invoke_async::<Vec<String>>(&mut redis);
        let mut members = match tokio::time::timeout(inner.heartbeat, invocation).await {
            Ok(result) => result?,
            Err(_) => {
                return Err(RedisError::from((
                    redis::ErrorKind::Io,
                    "outbox heartbeat timed out",
                )))
            }
        };
        members.sort_unstable();
        let ownership = match members.iter().position(|m| *m == inner.member) {
            Some(index) => Ownership::of(index, members.len(), inner.shards),
            // Evicted between ZADD and ZRANGE cannot happen in one script; be safe anyway.
            None => Ownership::none(),
        };
        if let Ok(mut last) = inner.last_success.lock() {
            *last = Instant::now();
        }
        inner.ownership.send_if_modified(|current| {
            let changed = *current != ownership;
            if changed {
                tracing::info!(
                    key = %inner.key,
                    member = %inner.member,
                    instances = members.len(),
                    shards = ?ownership.shards(),
                    "outbox shard ownership changed"
                );
            }
            *current = ownership;
            changed
        });
        Ok(ownership.shards())
    }

    /// Removes this member so the others take its shards at their next heartbeat instead of
    /// after the eviction period.
    pub async fn leave(&self) -> Result<(), RedisError> {
        let mut redis = self.inner.redis.clone();
        let mut command = redis::cmd("ZREM");
        command.arg(&self.inner.key).arg(&self.inner.member);
        let removed = command.query_async::<i64>(&mut redis);
        match tokio::time::timeout(self.inner.heartbeat, removed).await {
            Ok(result) => result.map(|_| ()),
            Err(_) => Err(RedisError::from((
                redis::ErrorKind::Io,
                "outbox leave timed out",
            ))),
        }
    }

    /// Heartbeats until shutdown, then leaves the group.
    ///
    /// When Redis stays unreachable, this instance cannot know who else is alive, and the
    /// others evict it `eviction` after its last heartbeat and take its shards. So it stops
    /// publishing first: once its last successful heartbeat is `eviction − heartbeat` old (a
    /// failed heartbeat is noticed within one period, the timeout), it owns nothing, so two
    /// instances never own a shard because of an outage. If Redis is down for every instance,
    /// events wait in the outbox until it returns — delayed, never lost (the rows stay INIT).
    pub async fn run(self, shutdown: Shutdown) {
        let mut ticks = tokio::time::interval(self.inner.heartbeat);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let give_up_after = self.inner.eviction.saturating_sub(self.inner.heartbeat);
        loop {
            tokio::select! {
                _ = shutdown.triggered() => break,
                _ = ticks.tick() => {}
            }
            if let Err(e) = self.heartbeat().await {
                let silent_for = self
                    .inner
                    .last_success
                    .lock()
                    .map(|last| last.elapsed())
                    .unwrap_or_default();
                tracing::warn!(error = %e, key = %self.inner.key, "outbox heartbeat failed");
                if silent_for >= give_up_after {
                    self.inner.ownership.send_if_modified(|current| {
                        let changed = *current != Ownership::none();
                        if changed {
                            tracing::warn!(
                                key = %self.inner.key,
                                silent_ms = silent_for.as_millis() as u64,
                                "Redis unreachable: giving up every shard until a heartbeat succeeds"
                            );
                        }
                        *current = Ownership::none();
                        changed
                    });
                }
            }
        }
        if let Err(e) = self.leave().await {
            tracing::warn!(error = %e, key = %self.inner.key, "leaving the outbox shard group failed");
        }
        self.inner.ownership.send_replace(Ownership::none());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shard_has_exactly_one_owner() {
        for shards in 1..=16u16 {
            for instances in 1..=20usize {
                let mut owners = vec![0; usize::from(shards)];
                for index in 0..instances {
                    for shard in owned_range(index, instances, shards) {
                        owners[usize::from(shard)] += 1;
                    }
                }
                assert!(
                    owners.iter().all(|&n| n == 1),
                    "S={shards} N={instances}: {owners:?}"
                );
            }
        }
    }

    #[test]
    fn four_shards_split_as_designed() {
        assert_eq!(owned_range(0, 2, 4), 0..2);
        assert_eq!(owned_range(1, 2, 4), 2..4);
        assert_eq!(owned_range(0, 3, 4), 0..1);
        assert_eq!(owned_range(2, 3, 4), 2..4);
        assert_eq!(owned_range(0, 5, 4), 0..0);
        assert_eq!(owned_range(3, 1, 4), 0..0);
    }

    #[test]
    fn the_last_owner_also_takes_out_of_range_shards() {
        use ShardTarget::{Beyond, Shard};
        assert_eq!(
            Ownership::of(1, 2, 4).targets(),
            vec![Shard(2), Shard(3), Beyond(4)]
        );
        assert_eq!(Ownership::of(0, 2, 4).targets(), vec![Shard(0), Shard(1)]);
        assert_eq!(Ownership::of(0, 5, 4).targets(), vec![]);
        assert_eq!(Ownership::none().targets(), vec![]);
        assert_eq!(Ownership::of(4, 5, 4).shards(), vec![3]);
    }
}
