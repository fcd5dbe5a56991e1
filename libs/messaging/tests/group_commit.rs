//! Group commit against real NATS and Postgres: deliveries handled at once share one
//! transaction; a poison delivery in the group is rolled back to its savepoint and
//! dead-lettered exactly once, and the others are applied exactly once — also when the
//! poison breaks a deferred constraint, which fails the group's commit, not its savepoint —
//! and when a batch (`apply_batch`) fails after it wrote: nothing of it is kept.

mod common;

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use common::{eventually, seller_registered, spec, Harness};
use messaging::{
    claim_event, claim_events, BatchItem, Delivery, GroupCommit, GroupHandler, HandlerError, Lanes,
};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

const CONSUMER: &str = "grouped";

/// How the poison fails.
#[derive(Clone, Copy, PartialEq)]
enum Failure {
    /// At its statement: the transaction is aborted, its savepoint saves the group.
    Statement,
    /// Only at the commit (a deferred constraint): the group's commit fails.
    Deferred,
    /// The handler panics inside the group's transaction.
    Panic,
}

struct Effects {
    poison_seller: i64,
    fails: Failure,
    /// Largest group seen, and commits.
    largest: Arc<AtomicUsize>,
    commits: Arc<AtomicUsize>,
}

impl GroupHandler for Effects {
    type Tx = Transaction<'static, Postgres>;

    async fn begin(&self, pool: &PgPool) -> Result<Self::Tx, sqlx::Error> {
        pool.begin().await
    }

    async fn prepare(&self, _: &mut PgConnection, group: &[Delivery]) -> Result<(), HandlerError> {
        self.largest.fetch_max(group.len(), Ordering::Relaxed);
        Ok(())
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery,
    ) -> Result<(), HandlerError> {
        let event = delivery.decode::<events::SellerRegistered>()?;
        if !claim_event(conn, CONSUMER, event.event_id).await? {
            return Ok(());
        }
        sqlx::query("insert into test_effects (event_id) values ($1)")
            .bind(event.event_id)
            .execute(&mut *conn)
            .await?;
        if event.payload.seller_no != self.poison_seller {
            return Ok(());
        }
        match self.fails {
            // Checked at commit, after every savepoint: the group's commit fails.
            Failure::Deferred => {
                for _ in 0..2 {
                    sqlx::query("insert into test_deferred (k) values (1)")
                        .execute(&mut *conn)
                        .await?;
                }
            }
            // A statement error aborts the transaction: only the savepoint saves the group.
            Failure::Statement => {
                sqlx::query("select 1 / 0").execute(&mut *conn).await?;
            }
            Failure::Panic => panic!("test: a handler bug"),
        }
        Ok(())
    }

    fn committed(&self) {
        self.commits.fetch_add(1, Ordering::Relaxed);
    }
}

#[tokio::test]
async fn a_poison_delivery_fails_alone_and_the_rest_of_its_group_commits_once() {
    poison_fails_alone(Failure::Statement, Lanes::new(2, 16)).await;
}

#[tokio::test]
async fn a_deferred_constraint_failing_the_group_commit_still_fails_the_poison_alone() {
    poison_fails_alone(Failure::Deferred, Lanes::new(2, 16)).await;
}

/// A handler that panics fails its delivery alone, as an error would, on the only lane there
/// is. Until stop 31 the panic ended the lane: its group's other deliveries were answered
/// "group worker stopped", and with no lane left every later delivery "shutting down", until
/// all of them were dead-lettered.
#[tokio::test]
async fn a_panicking_delivery_fails_alone_and_its_lane_lives_on() {
    poison_fails_alone(Failure::Panic, Lanes::new(1, 16)).await;
}

async fn poison_fails_alone(fails: Failure, lanes: Lanes) {
    let h = Harness::start().await;
    sqlx::query("create table test_deferred (k int unique deferrable initially deferred)")
        .execute(&h.pool)
        .await
        .expect("test table");
    let (largest, commits) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut consumer = spec(CONSUMER);
    consumer.concurrency = 16;
    consumer.retry_delays = vec![Duration::from_millis(100)];
    let handler = GroupCommit::spawn(
        "test-groups",
        h.pool.clone(),
        Effects {
            poison_seller: 7,
            fails,
            largest: largest.clone(),
            commits: commits.clone(),
        },
        lanes,
        &h.shutdown,
    );
    // Published before the consumer starts, so its first pull finds all of them at once.
    let events: Vec<_> = (0..40).map(seller_registered).collect();
    for e in &events {
        h.publish(e).await;
    }
    h.spawn(consumer, handler).await;
    h.spawn_dead_letters(vec![CONSUMER]).await;

    eventually(
        Duration::from_secs(20),
        "the poison dead-lettered",
        || async { !h.dead_letters().await.is_empty() },
    )
    .await;
    eventually(Duration::from_secs(20), "the others applied", || async {
        let mut n = 0;
        for e in &events {
            n += h.effects(e.event_id).await;
        }
        n == 39
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for e in &events {
        let want = i64::from(e.payload.seller_no != 7);
        assert_eq!(
            h.effects(e.event_id).await,
            want,
            "seller {}",
            e.payload.seller_no
        );
        assert_eq!(h.processed(CONSUMER, e.event_id).await, want);
    }
    let letters = h.dead_letters().await;
    assert_eq!(letters.len(), 1, "the poison alone, once");
    assert_eq!(letters[0].event_id, Some(events[7].event_id));
    assert_eq!(letters[0].deliveries, 3);
    let (largest, commits) = (
        largest.load(Ordering::Relaxed),
        commits.load(Ordering::Relaxed),
    );
    assert!(
        largest > 1,
        "deliveries were grouped (largest group {largest})"
    );
    assert!(commits < 40, "fewer commits than deliveries ({commits})");
    h.cleanup().await;
}

/// With a linger, deliveries that arrive one by one, each after the last was applied, still
/// share a commit: without it each of them would commit alone.
#[tokio::test]
async fn a_lingering_lane_commits_deliveries_that_arrive_apart_together() {
    let h = Harness::start().await;
    let (largest, commits) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut consumer = spec("lingering");
    consumer.concurrency = 16;
    let handler = GroupCommit::spawn(
        "test-lingering-groups",
        h.pool.clone(),
        Effects {
            poison_seller: -1,
            fails: Failure::Statement,
            largest: largest.clone(),
            commits: commits.clone(),
        },
        Lanes {
            linger: Duration::from_secs(2),
            ..Lanes::new(1, 16)
        },
        &h.shutdown,
    );
    h.spawn(consumer, handler).await;
    let events: Vec<_> = (0..5).map(seller_registered).collect();
    for e in &events {
        h.publish(e).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eventually(Duration::from_secs(20), "all applied", || async {
        let mut n = 0;
        for e in &events {
            n += h.effects(e.event_id).await;
        }
        n == 5
    })
    .await;
    let (largest, commits) = (
        largest.load(Ordering::Relaxed),
        commits.load(Ordering::Relaxed),
    );
    assert!(
        largest >= 3,
        "the lane waited for more (largest group {largest})"
    );
    assert!(commits <= 2, "fewer commits than deliveries ({commits})");
    h.cleanup().await;
}

/// Applies a group in one batch that writes every delivery's claim and effect and only then
/// fails if the poison is among them: the batch's writes are rolled back, and the group goes
/// one savepoint per delivery ([`Effects`]).
struct Batching {
    each: Effects,
    /// Batches that applied a whole group, and batches that failed after writing.
    applied: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
}

impl GroupHandler for Batching {
    type Tx = Transaction<'static, Postgres>;
    const BATCHES: bool = true;

    async fn begin(&self, pool: &PgPool) -> Result<Self::Tx, sqlx::Error> {
        pool.begin().await
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery,
    ) -> Result<(), HandlerError> {
        self.each.apply(conn, delivery).await
    }

    async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        group: &[BatchItem],
    ) -> Result<bool, HandlerError> {
        let mut events = Vec::with_capacity(group.len());
        for item in group {
            events.push(item.delivery.decode::<events::SellerRegistered>()?);
        }
        let ids: Vec<uuid::Uuid> = events.iter().map(|e| e.event_id).collect();
        let fresh = claim_events(conn, CONSUMER, &ids).await?;
        sqlx::query("insert into test_effects (event_id) select * from unnest($1::uuid[])")
            .bind(&fresh)
            .execute(&mut *conn)
            .await?;
        if events
            .iter()
            .any(|e| e.payload.seller_no == self.each.poison_seller)
        {
            // An error of the handler's, not of a statement: the transaction is still good,
            // so only the rollback to the batch's savepoint takes these writes back.
            self.failed.fetch_add(1, Ordering::Relaxed);
            return Err(HandlerError::retry("test: a poison in the batch"));
        }
        self.applied.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    fn committed(&self) {
        self.each.committed();
    }
}

#[tokio::test]
async fn a_batch_failing_after_its_writes_keeps_nothing_and_its_group_goes_one_by_one() {
    let h = Harness::start().await;
    let (largest, commits) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (applied, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut consumer = spec(CONSUMER);
    consumer.concurrency = 16;
    consumer.retry_delays = vec![Duration::from_millis(100)];
    let handler = GroupCommit::spawn(
        "test-batches",
        h.pool.clone(),
        Batching {
            each: Effects {
                poison_seller: 7,
                fails: Failure::Statement,
                largest: largest.clone(),
                commits: commits.clone(),
            },
            applied: applied.clone(),
            failed: failed.clone(),
        },
        // Lingering, so the poison's first delivery is in a group (a group of one is no batch).
        Lanes {
            linger: Duration::from_millis(500),
            ..Lanes::new(1, 16)
        },
        &h.shutdown,
    );
    let events: Vec<_> = (0..40).map(seller_registered).collect();
    for e in &events {
        h.publish(e).await;
    }
    h.spawn(consumer, handler).await;
    h.spawn_dead_letters(vec![CONSUMER]).await;

    eventually(
        Duration::from_secs(20),
        "the poison dead-lettered",
        || async { !h.dead_letters().await.is_empty() },
    )
    .await;
    eventually(Duration::from_secs(20), "the others applied", || async {
        let mut n = 0;
        for e in &events {
            n += h.effects(e.event_id).await;
        }
        n == 39
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for e in &events {
        let want = i64::from(e.payload.seller_no != 7);
        let seller = e.payload.seller_no;
        assert_eq!(h.effects(e.event_id).await, want, "seller {seller}");
        assert_eq!(h.processed(CONSUMER, e.event_id).await, want);
    }
    let letters = h.dead_letters().await;
    assert_eq!(letters.len(), 1, "the poison alone, once");
    assert_eq!(letters[0].event_id, Some(events[7].event_id));
    let (applied, failed) = (
        applied.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
    );
    assert!(failed >= 1, "the poison's group failed as a batch");
    assert!(applied >= 1, "groups without the poison were batches");
    h.cleanup().await;
}
