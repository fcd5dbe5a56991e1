//! One group's transaction: every delivery in a savepoint of its own, then `finish` and the
//! commit; a group whose transaction fails as a whole is applied again one by one.

use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use service_kit::trace;
use sqlx::PgPool;

use super::{BatchItem, GroupHandler, Job, GROUPED};
use crate::{tx_conn::HandlerTx, Delivery, HandlerError};

pub(super) async fn run_group<H: GroupHandler>(pool: &PgPool, handler: &H, group: Vec<Job>) {
    match apply_caught(pool, handler, &group).await {
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
                let results = match apply_caught(pool, handler, std::slice::from_ref(&job)).await {
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

/// [`apply_group`], a panic in the handler taken as the group's transaction failing as a whole
/// (dropped, so rolled back): the runner catches a panic of a delivery it handles itself
/// (runner/handle.rs), but a lane runs its groups in a task of its own. Until stop 31 a panic
/// ended the lane: its group's other deliveries were answered "group worker stopped", and
/// once no lane was left every delivery "shutting down", until all were dead-lettered.
async fn apply_caught<H: GroupHandler>(
    pool: &PgPool,
    handler: &H,
    group: &[Job],
) -> Result<Vec<Result<(), HandlerError>>, GroupFailure> {
    AssertUnwindSafe(apply_group(pool, handler, group))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(GroupFailure::Ran(HandlerError::retry("handler panicked"))))
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
        if H::BATCHES && batch(&mut tx, handler, group).await? {
            handler.finish(tx.conn(), &deliveries).await?;
            tx.commit().await?;
            return Ok(deliveries.iter().map(|_| Ok(())).collect());
        }
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

/// [`GroupHandler::apply_batch`] in a savepoint: `true` if it applied the whole group, `false`
/// once what it wrote is rolled back (declined or failed: the caller goes one by one).
async fn batch<H: GroupHandler>(
    tx: &mut H::Tx,
    handler: &H,
    group: &[Job],
) -> Result<bool, HandlerError> {
    let items: Vec<BatchItem> = group
        .iter()
        .map(|(delivery, ctx, _)| BatchItem {
            delivery: delivery.clone(),
            trace: *ctx,
        })
        .collect();
    sqlx::query("savepoint batch").execute(&mut **tx).await?;
    match handler.apply_batch(tx.conn(), &items).await {
        Ok(true) => return Ok(true),
        Ok(false) => {}
        // Not expected (the handler declines what it cannot batch): worth a look, though each
        // delivery is still applied, or failed alone, on the careful path.
        Err(e) => tracing::warn!(
            error = %service_kit::error_chain(&e),
            deliveries = group.len(),
            "batch failed; applying the group one delivery at a time"
        ),
    }
    sqlx::query("rollback to savepoint batch")
        .execute(&mut **tx)
        .await?;
    Ok(false)
}
