//! [`OutboxNudge`], the relay's wake-up, and which shards it is for. A commit that appended
//! events in shards 1 and 3 wakes the relay for those two only, so a nudged pass claims from
//! the shards that have new rows instead of from every owned one: with the default 4 shards,
//! most claims of a nudged pass used to find nothing and roll back (docs/benchmarks.md,
//! "Reconciliation in bulk, a nudge per shard"). The sweep still looks at every shard
//! (crate::relay), so a retry that came due in a quiet shard waits at most a sweep interval.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

use tokio::sync::Notify;

use crate::store::ShardTarget;

/// Wakes the relay right after a commit, so events leave at once instead of at the next
/// sweep. Nudges coalesce while the relay is busy. Services do not call it themselves: an
/// [`crate::OutboxTx`] nudges after committing the events appended in it, for the shards it
/// appended in.
#[derive(Clone)]
pub struct OutboxNudge {
    pub(crate) wake: Arc<Notify>,
    pub(crate) dirty: DirtyShards,
}

impl OutboxNudge {
    /// Call after the transaction that appended events has committed (not before: the relay
    /// would not see the rows yet, and they would wait for the sweep). Wakes the relay for
    /// every shard.
    pub fn nudge(&self) {
        self.nudge_shards(ShardMask::ALL);
    }

    /// Wakes the relay for `shards` only.
    pub(crate) fn nudge_shards(&self, shards: ShardMask) {
        self.dirty.mark(shards);
        self.wake.notify_one();
    }
}

/// A set of shards, one bit each; shards 63 and above share the last bit (a relay with more
/// than 63 shards then claims from all of those on a nudge for any of them: a spare claim,
/// never a missed one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ShardMask(u64);

impl ShardMask {
    pub const ALL: Self = Self(u64::MAX);

    fn bit(shard: i16) -> u32 {
        shard.clamp(0, 63) as u32
    }

    pub fn of(shard: i16) -> Self {
        Self(1 << Self::bit(shard))
    }

    pub fn with(self, shard: i16) -> Self {
        Self(self.0 | Self::of(shard).0)
    }

    /// Adds what a claim from `target` reads (a `Beyond` target: every shard from its first).
    pub fn with_target(self, target: ShardTarget) -> Self {
        match target {
            ShardTarget::Shard(s) => self.with(s),
            ShardTarget::Beyond(from) => Self(self.0 | (u64::MAX << Self::bit(from))),
        }
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether a claim from `target` may find rows of these shards.
    pub fn covers(self, target: ShardTarget) -> bool {
        match target {
            ShardTarget::Shard(s) => self.0 & Self::of(s).0 != 0,
            // Every shard from `from` on.
            ShardTarget::Beyond(from) => self.0 >> Self::bit(from) != 0,
        }
    }
}

/// The shards nudged since the relay last looked, shared by the nudges and the publisher.
#[derive(Debug, Clone, Default)]
pub(crate) struct DirtyShards(Arc<AtomicU64>);

impl DirtyShards {
    pub fn mark(&self, shards: ShardMask) {
        self.0.fetch_or(shards.0, Ordering::AcqRel);
    }

    /// The shards marked since the last take, clearing them.
    pub fn take(&self) -> ShardMask {
        ShardMask(self.0.swap(0, Ordering::AcqRel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mask_covers_its_shards_and_the_targets_beyond_them() {
        let mask = ShardMask::default().with(1).with(3);
        assert!(mask.covers(ShardTarget::Shard(1)) && mask.covers(ShardTarget::Shard(3)));
        assert!(!mask.covers(ShardTarget::Shard(0)) && !mask.covers(ShardTarget::Shard(2)));
        assert!(mask.covers(ShardTarget::Beyond(3)) && !mask.covers(ShardTarget::Beyond(4)));
        // Shards from 63 on share a bit.
        let high = ShardMask::of(200);
        assert!(high.covers(ShardTarget::Shard(63)) && high.covers(ShardTarget::Beyond(100)));
        assert!(ShardMask::ALL.covers(ShardTarget::Shard(0)));
        assert!(ShardMask::default().is_empty());
        let beyond = ShardMask::default().with_target(ShardTarget::Beyond(4));
        assert!(beyond.covers(ShardTarget::Beyond(4)) && beyond.covers(ShardTarget::Shard(9)));
        assert!(!beyond.covers(ShardTarget::Shard(3)));
    }

    #[test]
    fn taking_clears_what_was_marked() {
        let dirty = DirtyShards::default();
        dirty.mark(ShardMask::of(2));
        dirty.mark(ShardMask::of(0));
        assert_eq!(dirty.take(), ShardMask::of(0).with(2));
        assert!(dirty.take().is_empty());
    }
}
