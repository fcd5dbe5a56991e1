//! One attempt at a like or an unlike inside the caller's transaction: the like row, the count
//! (optimistic lock on `version`) and the event are written together or not at all, so the
//! count always equals the number of like rows and every change is announced exactly once.
//!
//! A lost optimistic lock is [`WriteError::VersionConflict`]: the caller rolls back and runs
//! the whole attempt again in a fresh transaction ([`service_kit::retry::optimistic_lock`]). The reference retried
//! inside the failed transaction and re-counted; here nothing of a lost attempt survives.

use std::time::Duration;

use chrono::{DateTime, Utc};
use events::{Envelope, LikeChanged, ProductLiked, ProductUnliked};
use outbox::{Outbox, OutboxTx};
use service_kit::{error::from_db_error, ApiError};
use sqlx::PgConnection;

use crate::store;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the like count changed concurrently")]
    VersionConflict,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl WriteError {
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::VersionConflict)
    }
}

impl From<WriteError> for ApiError {
    fn from(err: WriteError) -> Self {
        match err {
            // Only after every retry lost: the client may simply repeat the request.
            WriteError::VersionConflict => ApiError::conflict(
                "CONCURRENT_UPDATE",
                "the like count kept changing concurrently; retry",
            ),
            WriteError::Db(e) => from_db_error(e, &[]),
        }
    }
}

/// Traces each lost optimistic lock, so contention shows in the logs before it becomes 409s.
pub fn log_retry(err: &WriteError, delay: Duration) {
    tracing::debug!(error = %err, ?delay, "like count changed concurrently; retrying");
}

/// What a like or unlike did, with the count as this transaction leaves it.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// Whether a row (and the count) changed; `false` for a repeat like or an unlike of
    /// nothing, which emit no event.
    pub changed: bool,
    /// The like's time: of the current like, or (after an unlike) of the removed one.
    pub liked_at: Option<DateTime<Utc>>,
    pub like_count: i64,
}

pub async fn like(
    conn: &mut OutboxTx,
    outbox: &Outbox,
    product_no: i64,
    member_no: i64,
) -> Result<Outcome, WriteError> {
    let Some(liked_at) = store::insert_like(conn, product_no, member_no).await? else {
        // Already liked: nothing to count and nothing to announce.
        return Ok(Outcome {
            changed: false,
            liked_at: store::find_like(conn, product_no, member_no).await?,
            like_count: current_count(conn, product_no).await?,
        });
    };
    let like_count = adjust_count(conn, product_no, 1).await?;
    let event = Envelope::new(ProductLiked(LikeChanged {
        product_no,
        member_no,
        liked_at,
    }));
    outbox.append(conn, product_no, &event, &[]).await?;
    Ok(Outcome {
        changed: true,
        liked_at: Some(liked_at),
        like_count,
    })
}

pub async fn unlike(
    conn: &mut OutboxTx,
    outbox: &Outbox,
    product_no: i64,
    member_no: i64,
) -> Result<Outcome, WriteError> {
    let Some(liked_at) = store::delete_like(conn, product_no, member_no).await? else {
        // Not liked (never, or already unliked): a no-op, so the count cannot go below zero.
        return Ok(Outcome {
            changed: false,
            liked_at: None,
            like_count: current_count(conn, product_no).await?,
        });
    };
    let like_count = adjust_count(conn, product_no, -1).await?;
    // The original like time, so hot-catalog removes exactly the decayed score it added.
    let event = Envelope::new(ProductUnliked(LikeChanged {
        product_no,
        member_no,
        liked_at,
    }));
    outbox.append(conn, product_no, &event, &[]).await?;
    Ok(Outcome {
        changed: true,
        liked_at: Some(liked_at),
        like_count,
    })
}

pub async fn current_count(conn: &mut PgConnection, product_no: i64) -> Result<i64, sqlx::Error> {
    Ok(store::find_count(conn, product_no)
        .await?
        .map_or(0, |c| c.like_count))
}

/// Read the version, update against it; a concurrent winner aborts this attempt.
async fn adjust_count(
    conn: &mut PgConnection,
    product_no: i64,
    delta: i64,
) -> Result<i64, WriteError> {
    store::ensure_count_row(conn, product_no).await?;
    let current = store::find_count(conn, product_no)
        .await?
        .ok_or(WriteError::VersionConflict)?;
    store::add_to_count(conn, product_no, current.version, delta)
        .await?
        .ok_or(WriteError::VersionConflict)
}
