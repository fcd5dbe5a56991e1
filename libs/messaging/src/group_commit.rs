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

use std::{future::Future, sync::Arc, time::Duration};

use service_kit::{trace, Shutdown};
use sqlx::{PgConnection, PgPool};
use tokio::{
    sync::{mpsc, oneshot, Mutex},
    time::Instant,
};

use crate::{replay, tx_conn::HandlerTx, Delivery, Handler, HandlerError};

/// After shutdown, a lane stops once no delivery arrived for this long.
const DRAIN_IDLE: std::time::Duration = std::time::Duration::from_millis(500);

/// One delivery's work inside a shared transaction.
pub trait GroupHandler: Send + Sync + 'static {
    /// The group's transaction (module docs): `sqlx::Transaction<'static, Postgres>`, or
    /// [`outbox::OutboxTx`] if `apply` appends events.
    type Tx: HandlerTx;

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

type Job = (
    Delivery,
    Option<trace::TraceContext>,
    oneshot::Sender<Result<(), HandlerError>>,
);

/// How a [`GroupCommit`] groups: `lanes` workers, each committing up to `max_group` deliveries
/// at once, waiting up to `linger` after a group's first delivery for the rest of it.
#[derive(Debug, Clone, Copy)]
pub struct Lanes {
    /// 0: no workers, every delivery commits alone in the consumer's own task.
    pub lanes: usize,
    pub max_group: usize,
    /// `GROUP_COMMIT_LINGER_MS` ([`crate::ServiceRuntime::lanes`]); zero: never waits.
    pub linger: Duration,
}

impl Lanes {
    /// `lanes` workers taking what is queued, without waiting for more.
    pub fn new(lanes: usize, max_group: usize) -> Self {
        Self {
            lanes,
            max_group,
            linger: Duration::ZERO,
        }
    }
}

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
                        fill(&mut queue, first, max_group, lingering.then_some(linger)).await
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

/// A group: `first`, what else is queued, and with `linger` what arrives that long after it,
/// up to `max_group` deliveries. The lane holds the queue meanwhile, so the other lanes wait
/// for the next group rather than splitting this one.
async fn fill(
    queue: &mut mpsc::Receiver<Job>,
    first: Job,
    max_group: usize,
    linger: Option<Duration>,
) -> Vec<Job> {
    let deadline = linger.map(|linger| Instant::now() + linger);
    let mut group = vec![first];
    while group.len() < max_group {
        let job = match (queue.try_recv(), deadline) {
            (Ok(job), _) => job,
            (Err(_), None) => break,
            (Err(_), Some(deadline)) => match tokio::time::timeout_at(deadline, queue.recv()).await
            {
                Ok(Some(job)) => job,
                _ => break,
            },
        };
        group.push(job);
    }
    group
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

async fn run_group<H: GroupHandler>(pool: &PgPool, handler: &H, group: Vec<Job>) {
    match apply_group(pool, handler, &group).await {
        Ok(results) => answer(handler, group, results),
        // The transaction ran and failed (its prepare, a savepoint, the commit): nothing of the
        // group was kept (module docs), so each delivery once more, alone. Not when it could
        // not even begin (no connection): the broker redelivers them later, instead of this
        // lane waiting out the pool once per delivery.
        Err(GroupFailure::Ran(e)) if group.len() > 1 => {
            tracing::warn!(error = %service_kit::error_chain(&e), deliveries = group.len(), "group transaction failed; applying its deliveries one by one");
            for job in group {
                // A delivery whose runner stopped waiting (its handler timeout) is left to
                // its redelivery.
                if job.2.is_closed() {
                    continue;
                }
                let results = match apply_group(pool, handler, std::slice::from_ref(&job)).await {
                    Ok(results) => results,
                    Err(e) => vec![Err(e.into())],
                };
                answer(handler, vec![job], results);
            }
        }
        Err(e) => {
            let e = HandlerError::from(e);
            let results = group.iter().map(|_| Err(e.clone())).collect();
            answer(handler, group, results)
        }
    }
}

/// Why a group's transaction did not commit.
enum GroupFailure {
    /// It could not begin: nothing ran.
    Begin(HandlerError),
    /// It began and then failed as a whole.
    Ran(HandlerError),
}

impl From<GroupFailure> for HandlerError {
    fn from(f: GroupFailure) -> Self {
        match f {
            GroupFailure::Begin(e) | GroupFailure::Ran(e) => e,
        }
    }
}

/// Hands each delivery its result; `committed` once if any of them was applied.
fn answer<H: GroupHandler>(handler: &H, group: Vec<Job>, results: Vec<Result<(), HandlerError>>) {
    let applied = results.iter().any(Result::is_ok);
    for ((_, _, answer), result) in group.into_iter().zip(results) {
        let _ = answer.send(result);
    }
    if applied {
        handler.committed();
    }
}

/// The group's transaction; per-delivery results if it committed.
async fn apply_group<H: GroupHandler>(
    pool: &PgPool,
    handler: &H,
    group: &[Job],
) -> Result<Vec<Result<(), HandlerError>>, GroupFailure> {
    let tx = handler
        .begin(pool)
        .await
        .map_err(|e| GroupFailure::Begin(e.into()))?;
    run_in(tx, handler, group).await.map_err(GroupFailure::Ran)
}

async fn run_in<H: GroupHandler>(
    mut tx: H::Tx,
    handler: &H,
    group: &[Job],
) -> Result<Vec<Result<(), HandlerError>>, HandlerError> {
    let deliveries: Vec<Delivery> = group.iter().map(|(d, ..)| d.clone()).collect();
    // A group of one needs no savepoint (its failure rolls the whole transaction back) and no
    // group-wide locks (a single delivery takes its own locks in its own order).
    let alone = group.len() == 1;
    if !alone {
        handler.prepare(&mut tx, &deliveries).await?;
    }
    let mut results = Vec::with_capacity(group.len());
    for (i, (delivery, ctx, _)) in group.iter().enumerate() {
        if !alone {
            // Savepoint names are identifiers, not parameters, and touch no table: these stay
            // run-time queries (libs/outbox/.sqlx and libs/messaging/.sqlx hold the others).
            sqlx::query(&format!("savepoint d{i}"))
                .execute(&mut *tx)
                .await?;
        }
        let work = async {
            let work = handler.apply(tx.conn(), delivery);
            match ctx {
                Some(ctx) => trace::scope(*ctx, work).await,
                None => work.await,
            }
        };
        let result = if alone {
            work.await
        } else {
            GROUPED.scope((), work).await
        };
        if result.is_err() {
            if alone {
                drop(tx);
                return Ok(vec![result]);
            }
            sqlx::query(&format!("rollback to savepoint d{i}"))
                .execute(&mut *tx)
                .await?;
        }
        results.push(result);
    }
    if !alone {
        let applied: Vec<Delivery> = deliveries
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.is_ok())
            .map(|(d, _)| d.clone())
            .collect();
        if !applied.is_empty() {
            handler.finish(tx.conn(), &applied).await?;
        }
    }
    tx.commit().await?;
    Ok(results)
}
