//! Group commit: the deliveries a consumer is handling at once are applied in one Postgres
//! transaction, each inside its own savepoint, and committed together — one commit (one WAL
//! flush) for the group instead of one per message.
//!
//! Failure isolation: a delivery whose work fails is rolled back to its savepoint and answered
//! with its own error (so the runner NAKs or dead-letters that message alone, exactly as if it
//! had been handled by itself); the others still commit, once. If the group's transaction as a
//! whole fails (its `prepare`, a savepoint, or the commit — a *deferred* constraint is only
//! checked there, after every savepoint), nothing of it is kept and each delivery is applied
//! again at once in a transaction of its own: the one that broke the constraint fails alone,
//! and is dead-lettered exactly once like any poison message; the others commit once. Their
//! `processed_events` claims were rolled back with the group, and a commit whose outcome is
//! unknown (the connection lost during COMMIT) is harmless too: a delivery the group did apply
//! finds its claim taken and does nothing. Acks go out only after the commit (the runner acks
//! when [`Handler::handle`] returns).
//!
//! The runner's `concurrency` bounds how many deliveries wait here at once, so it is also the
//! largest group. With no [`Lanes::linger`] a lane takes what is queued and goes; with one, it
//! waits up to that long after a group's first delivery for more (never past a full group),
//! trading that much latency for fewer commits — the lanes' transactions are what a saturated
//! Postgres spends its time committing (docs/benchmarks.md, stop 18).
//!
//! The group's transaction is the handler's [`GroupHandler::Tx`], begun by its
//! [`GroupHandler::begin`] ([`HandlerTx`] names the two kinds): a plain `sqlx::Transaction`
//! for a handler that writes no events (`apply` gets it as a `&mut PgConnection`), or an
//! [`outbox::OutboxTx`] (`outbox.begin(pool)`) for one that does (`apply` gets the
//! `&mut OutboxTx` itself, which `Outbox::append` requires). So only a handler whose groups
//! run in an `OutboxTx` can append, and the group's commit is then `OutboxTx::commit`, which
//! wakes the relay if any delivery appended (one rolled back to its savepoint may cost a spare
//! wake-up, never a missed one).

use std::{future::Future, sync::Arc};

use service_kit::{trace, Shutdown};
use sqlx::{PgConnection, PgPool};
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::{replay, tx_conn::HandlerTx, Delivery, Handler, HandlerError};

mod lanes;
mod run;

use lanes::fill;
pub use lanes::Lanes;
use run::run_group;

/// After shutdown, a lane stops once no delivery arrived for this long.
const DRAIN_IDLE: std::time::Duration = std::time::Duration::from_millis(500);

/// One delivery's work inside a shared transaction.
pub trait GroupHandler: Send + Sync + 'static {
    /// The group's transaction (module docs): `sqlx::Transaction<'static, Postgres>`, or
    /// [`outbox::OutboxTx`] if `apply` appends events.
    type Tx: HandlerTx;

    /// Whether [`Self::apply_batch`] is worth trying for a group.
    const BATCHES: bool = false;

    /// Begins the group's transaction: `pool.begin()`, or `outbox.begin(pool)` for an
    /// [`outbox::OutboxTx`].
    fn begin(&self, pool: &PgPool) -> impl Future<Output = Result<Self::Tx, sqlx::Error>> + Send;

    /// Applies `delivery` on `conn` (inside a savepoint of the group's transaction): a
    /// `&mut PgConnection`, or with an [`outbox::OutboxTx`] that very `&mut OutboxTx`. Must not
    /// commit or roll back. Idempotency (`claim_event`) is the handler's, as for [`Handler`].
    fn apply(
        &self,
        conn: &mut <Self::Tx as HandlerTx>::Conn,
        delivery: &Delivery,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;

    /// Runs first in the transaction of a group of two or more, e.g. to take every row lock
    /// the group needs in one global order so two groups cannot deadlock. An error fails the
    /// whole group.
    fn prepare(
        &self,
        _conn: &mut PgConnection,
        _group: &[Delivery],
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        async { Ok(()) }
    }

    /// Applies a group of two or more at once, in statements that each take every delivery of
    /// it, instead of one savepoint and one round of statements per delivery (what a lane
    /// spends its time on: docs/benchmarks.md, stop 27). Runs after `prepare`, inside a
    /// savepoint of its own. `Ok(true)`: every delivery is applied (each is answered `Ok`, and
    /// `finish` gets them all). `Ok(false)` (declined, e.g. a delivery that needs the careful
    /// path) or an error: whatever it wrote is rolled back to that savepoint and the group
    /// goes one savepoint per delivery as usual, so a poison message still fails alone.
    /// Only called when [`Self::BATCHES`] is true (a handler without it pays no savepoint).
    /// Each item carries the trace of its delivery's handling: run what belongs to one
    /// delivery (an event it appends, above all) in [`BatchItem::in_trace`].
    fn apply_batch(
        &self,
        _conn: &mut <Self::Tx as HandlerTx>::Conn,
        _group: &[BatchItem],
    ) -> impl Future<Output = Result<bool, HandlerError>> + Send {
        async { Ok(false) }
    }

    /// Runs last in the transaction of a group of two or more, after every delivery, with the
    /// ones that were applied (not rolled back to their savepoint), e.g. to take locks that
    /// must be held only briefly, in one global order, for the whole group. An error fails the
    /// whole group (each delivery is then applied alone, without it: [`in_group`] is false).
    fn finish(
        &self,
        _conn: &mut <Self::Tx as HandlerTx>::Conn,
        _applied: &[Delivery],
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        async { Ok(()) }
    }

    /// After a commit that applied at least one delivery.
    fn committed(&self) {}
}

tokio::task_local! {
    static GROUPED: ();
}

/// True while [`GroupHandler::apply`] runs for one delivery of a group of two or more, whose
/// [`GroupHandler::finish`] runs after the last of them; false for a delivery applied alone.
pub fn in_group() -> bool {
    GROUPED.try_with(|_| ()).is_ok()
}

/// One delivery of a batch ([`GroupHandler::apply_batch`]) and the trace of its handling.
#[derive(Clone)]
pub struct BatchItem {
    pub delivery: Delivery,
    trace: Option<trace::TraceContext>,
}

impl BatchItem {
    /// Runs `work` in this delivery's trace, as [`GroupHandler::apply`] runs: an event appended
    /// there continues the trace of the message that caused it.
    pub async fn in_trace<F: Future>(&self, work: F) -> F::Output {
        match self.trace {
            Some(ctx) => trace::scope(ctx, work).await,
            None => work.await,
        }
    }
}

type Job = (
    Delivery,
    Option<trace::TraceContext>,
    oneshot::Sender<Result<(), HandlerError>>,
);

/// A [`Handler`] that hands each delivery to `lanes` group-committing workers, or with no
/// lanes runs each delivery in a transaction of its own (the same code path, a group of one).
pub struct GroupCommit<H> {
    jobs: Option<mpsc::Sender<Job>>,
    pool: PgPool,
    handler: Arc<H>,
}

impl<H: GroupHandler> GroupCommit<H> {
    /// Starts the workers of `lanes` (each one transaction at a time); they stop with
    /// `shutdown` once the queue is drained.
    pub fn spawn(
        name: &'static str,
        pool: PgPool,
        handler: H,
        lanes: Lanes,
        shutdown: &Shutdown,
    ) -> Self {
        let handler = Arc::new(handler);
        let Lanes {
            lanes,
            max_group,
            linger,
        } = lanes;
        let max_group = max_group.max(1);
        if lanes == 0 {
            return Self {
                jobs: None,
                pool,
                handler,
            };
        }
        let (jobs, queue) = mpsc::channel::<Job>(max_group * lanes * 2);
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..lanes {
            let (pool, handler, queue) = (pool.clone(), handler.clone(), queue.clone());
            let stop = shutdown.clone();
            shutdown.spawn(name, async move {
                loop {
                    let group = {
                        let mut queue = queue.lock().await;
                        // On shutdown the consumer stops pulling and finishes what it has: keep
                        // serving it until the queue stays empty for a moment.
                        let first = if stop.is_triggered() {
                            match tokio::time::timeout(DRAIN_IDLE, queue.recv()).await {
                                Ok(Some(job)) => job,
                                _ => break,
                            }
                        } else {
                            tokio::select! {
                                job = queue.recv() => match job {
                                    Some(job) => job,
                                    None => break, // every sender (the consumer) is gone
                                },
                                _ = stop.triggered() => continue,
                            }
                        };
                        let lingering = !linger.is_zero() && !stop.is_triggered();
                        fill(
                            &mut queue,
                            first,
                            max_group,
                            lingering.then_some(linger),
                            &stop,
                        )
                        .await
                    };
                    run_group(&pool, handler.as_ref(), group).await;
                }
            });
        }
        Self {
            jobs: Some(jobs),
            pool,
            handler,
        }
    }
}

impl<H: GroupHandler> Handler for GroupCommit<H> {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let (answer, result) = oneshot::channel();
        let job = (delivery.clone(), trace::current(), answer);
        match &self.jobs {
            // A dead-letter replay runs in the API's task, which its outcome probe is local
            // to (replay.rs): applied there as a group of one, never on a lane.
            Some(_) if replay::replaying() => {
                run_group(&self.pool, self.handler.as_ref(), vec![job]).await
            }
            Some(jobs) => jobs
                .send(job)
                .await
                .map_err(|_| HandlerError::retry("shutting down"))?,
            None => run_group(&self.pool, self.handler.as_ref(), vec![job]).await,
        }
        result
            .await
            .unwrap_or_else(|_| Err(HandlerError::retry("group worker stopped")))
    }
}
