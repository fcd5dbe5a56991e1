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
//!
//! Keys are the member's own ([`MemberKey`]): until stop 24 they were one namespace for all
//! members, so a key one member had used refused another member's checkout (422, and an
//! answer to "has anyone used this key?"), as clients that number their keys (`order-1`) do.

use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use super::{CheckoutError, CheckoutResult, RequestHash};

/// A checkout's `Idempotency-Key` as stored: the member's number and the key's SHA-256, a
/// fixed 86 characters within the column's 255 (`m{member}:{hex}` of a 255-character key
/// would not fit) that keeps no client text. `legacy` is the key as older versions stored it,
/// bare: their rows answer their retries for the 24 h they are kept, when the request hash (it
/// covers the member) matches. Drop it a day after every instance runs this version.
pub struct MemberKey<'a> {
    pub scoped: String,
    pub legacy: &'a str,
}

impl<'a> MemberKey<'a> {
    pub fn new(member_no: i64, key: &'a str) -> Self {
        Self {
            scoped: format!("m{member_no}:{:x}", Sha256::digest(key.as_bytes())),
            legacy: key,
        }
    }
}

/// How long an older version's IN_FLIGHT claim holds before a retry may take it over: a
/// claim this old belongs to a process that died mid-request.
pub const CLAIM_LEASE_SECS: f64 = 30.0;

/// Stores `key` with the checkout's answer in the caller's transaction. `false` when the key
/// is already someone's (its answer is then read with [`stored_answer`] after a rollback).
pub async fn store_answer(
    conn: &mut PgConnection,
    key: &MemberKey<'_>,
    hash: &RequestHash,
    result: &CheckoutResult,
) -> Result<bool, CheckoutError> {
    let body = serde_json::to_value(result).unwrap_or_default();
    let hashes = [hash.current.clone(), hash.legacy.clone()];
    // Not over an older version's row of the same request: that one holds the answer.
    let inserted = sqlx::query_scalar!(
        r#"insert into checkout_idempotency_keys
             (idempotency_key, request_hash, status, response_status, response_body)
           select $1, $2, 'COMPLETED', 201, $3
            where not exists (select 1 from checkout_idempotency_keys
                               where idempotency_key = $4 and request_hash = any($5))
           on conflict (idempotency_key) do nothing
           returning 1 as "one!""#,
        key.scoped,
        hash.current,
        body,
        key.legacy,
        &hashes[..],
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
        key.legacy,
        &hashes[..],
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
/// holder rolled back meanwhile): the caller may check out again. Another member's bare key
/// from an older version is not this member's: its hash does not match, and it is ignored.
pub async fn stored_answer(
    conn: &mut PgConnection,
    key: &MemberKey<'_>,
    hash: &RequestHash,
) -> Result<Option<CheckoutResult>, CheckoutError> {
    let hashes = [hash.current.clone(), hash.legacy.clone()];
    let Some(stored) = sqlx::query!(
        r#"select request_hash, status, response_body from checkout_idempotency_keys
            where idempotency_key = $1
               or (idempotency_key = $2 and request_hash = any($3))
            order by idempotency_key = $1 desc
            limit 1"#,
        key.scoped,
        key.legacy,
        &hashes[..],
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
