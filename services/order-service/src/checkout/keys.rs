//! A checkout's `Idempotency-Key`, stored with its answer in the checkout's own transaction
//! (migrations/order-service/20261121000004_checkout_idempotency.sql).
//!
//! The key row is inserted last, already COMPLETED with the answer, so the key, the order and
//! the answer commit together or not at all: a request that dies mid-way leaves nothing, and
//! its retry simply checks out. A concurrent request with the same key waits on the primary
//! key until the first commits (then it rolls its own order back and replays the first's
//! answer) or rolls back (then it goes ahead). Before, the key was claimed as IN_FLIGHT in a
//! transaction of its own, a second commit per checkout, and a killed request's claim had to
//! expire before the key could be used again.
//!
//! IN_FLIGHT rows are only written by older versions of this service (a rolling upgrade runs
//! both); they keep their meaning: 409 while fresh, taken over after [`CLAIM_LEASE_SECS`].

use sqlx::PgConnection;

use super::{CheckoutError, CheckoutResult, RequestHash};

/// How long an older version's IN_FLIGHT claim holds before a retry may take it over: a
/// claim this old belongs to a process that died mid-request.
pub const CLAIM_LEASE_SECS: f64 = 30.0;

/// Stores `key` with the checkout's answer in the caller's transaction. `false` when the key
/// is already someone's (its answer is then read with [`stored_answer`] after a rollback).
pub async fn store_answer(
    conn: &mut PgConnection,
    key: &str,
    hash: &RequestHash,
    result: &CheckoutResult,
) -> Result<bool, CheckoutError> {
    let body = serde_json::to_value(result).unwrap_or_default();
    let inserted = sqlx::query_scalar!(
        r#"insert into checkout_idempotency_keys
             (idempotency_key, request_hash, status, response_status, response_body)
           values ($1, $2, 'COMPLETED', 201, $3)
           on conflict (idempotency_key) do nothing
           returning 1 as "one!""#,
        key,
        hash.current,
        body,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if inserted.is_some() {
        return Ok(true);
    }
    // An older version's claim of the same request, abandoned: this checkout is its answer.
    let taken_over = sqlx::query_scalar!(
        r#"update checkout_idempotency_keys
              set status = 'COMPLETED', response_status = 201, response_body = $3
            where idempotency_key = $1 and request_hash = any($2) and status = 'IN_FLIGHT'
              and updated_at < now() - make_interval(secs => $4)
           returning 1 as "one!""#,
        key,
        &[hash.current.clone(), hash.legacy.clone()][..],
        body,
        CLAIM_LEASE_SECS,
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(taken_over.is_some())
}

/// What a used key answers: the stored answer of the same request, else
/// [`CheckoutError::KeyReused`] (another request's key) or [`CheckoutError::KeyInFlight`] (an
/// older version's claim still running). `None` when the key is not stored at all (its
/// holder rolled back meanwhile): the caller may check out again.
pub async fn stored_answer(
    conn: &mut PgConnection,
    key: &str,
    hash: &RequestHash,
) -> Result<Option<CheckoutResult>, CheckoutError> {
    let Some(stored) = sqlx::query!(
        "select request_hash, status, response_body from checkout_idempotency_keys
          where idempotency_key = $1",
        key,
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    if !hash.matches(&stored.request_hash) {
        return Err(CheckoutError::KeyReused);
    }
    match (
        stored.status.as_str(),
        stored
            .response_body
            .and_then(|b| serde_json::from_value(b).ok()),
    ) {
        ("COMPLETED", Some(result)) => Ok(Some(result)),
        _ => Err(CheckoutError::KeyInFlight),
    }
}
