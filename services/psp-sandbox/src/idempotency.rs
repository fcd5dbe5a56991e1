//! Toss's `Idempotency-Key` for confirm and cancel, kept in the database so a stored answer
//! outlives a restart. A request claims its key (IN_FLIGHT) before it does anything: in the
//! transaction of its change, or, when a latency fault makes it wait first, in a commit of its
//! own ([`admit`]). Its outcome is stored — or the claim removed — in the same transaction as
//! the change it reports, so "charged" and "the answer that says so" commit together or not at
//! all.

use std::{sync::Arc, time::Duration};

use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::{codes, errors::TossResponse, faults::Operation, state::Sandbox};

/// A claim older than this is abandoned (its process died mid-request) and may be taken over.
/// Longer than the longest a claim is legitimately held: the latency fault (at most 60 s) plus
/// one database transaction; injected timeouts are slept after the claim is settled.
const ABANDONED_AFTER_SECS: f64 = 90.0;

/// How a confirm or cancel ends.
pub struct Outcome {
    pub reply: TossResponse,
    /// Stored for the Idempotency-Key: replies that state the payment's outcome (charged,
    /// declined, refunded). Errors that left the payment untouched are not stored, so a retry
    /// with the same key is evaluated afresh — unless `SANDBOX_IDEMPOTENCY_KEEPS_ERRORS` asks
    /// for every answer to be kept (settings.rs).
    pub keep: bool,
    /// Held this long before answering (an injected timeout), after the outcome is recorded.
    pub delay: Option<Duration>,
}

/// An answer that changed nothing (not stored, not delayed).
pub fn answer(reply: TossResponse) -> Outcome {
    Outcome {
        reply,
        keep: false,
        delay: None,
    }
}

/// A storage failure, answered as Toss answers its own: 500, retryable, nothing charged by
/// this request (its transaction was rolled back).
pub fn internal(err: &sqlx::Error) -> TossResponse {
    if unstorable_text(err) {
        return TossResponse::code(
            codes::INVALID_REQUEST,
            "잘못된 요청입니다. (NUL or invalid UTF-8 in a value)",
        );
    }
    tracing::error!(error = %err, "psp-sandbox database error");
    TossResponse::code(
        codes::FAILED_INTERNAL_SYSTEM_PROCESSING,
        "내부 시스템 처리 작업이 실패했습니다. (sandbox: database error)",
    )
}

fn scope(operation: Operation) -> &'static str {
    match operation {
        Operation::Cancel => "cancel",
        Operation::Confirm | Operation::Any | Operation::Lookup => "confirm",
    }
}

/// Owns a claimed key until its outcome is stored; if the request future is dropped first
/// (the client hung up during the latency sleep) or the transaction failed, the claim is
/// removed, never left "in flight" until it counts as abandoned.
pub struct KeyClaim {
    pool: PgPool,
    operation: &'static str,
    key: Option<String>,
    /// The claim is a row of the request's own transaction (see [`admit`]): a rollback removes
    /// it, so there is nothing to release on drop.
    in_tx: bool,
    /// Store error answers too (`SANDBOX_IDEMPOTENCY_KEEPS_ERRORS`).
    keeps_errors: bool,
}

/// What a confirm or cancel may do, given its Idempotency-Key.
pub enum Admitted {
    /// Go ahead, in this transaction; [`KeyClaim::commit`] stores the outcome and commits.
    Go(KeyClaim, Transaction<'static, Postgres>),
    /// Answer this at once: the stored reply of an earlier request with the key, a request
    /// with the key in flight, or a storage failure.
    Answer(TossResponse),
}

enum Claim {
    Taken,
    Busy,
    Replay(TossResponse),
}

/// Claims the request's key (if it has one), waits out the latency fault, and opens the
/// transaction of the change.
///
/// Without a latency fault the key is claimed inside that transaction: one commit per confirm
/// instead of two (docs/benchmarks.md, stop 22). The uncommitted row is invisible to a
/// duplicate, so the claim also takes a transaction-scoped advisory lock on the key, which a
/// duplicate only tries: taken, it is answered IDEMPOTENT_REQUEST_PROCESSING (409) at once, as
/// Toss answers a request whose key is still being processed, and as with a claim committed
/// first. With a latency fault the claim commits first, then the request waits.
pub async fn admit(sandbox: &Arc<Sandbox>, operation: Operation, key: Option<&str>) -> Admitted {
    match try_admit(sandbox, scope(operation), key).await {
        Ok(admitted) => admitted,
        Err(err) => Admitted::Answer(internal(&err)),
    }
}

async fn try_admit(
    sandbox: &Arc<Sandbox>,
    operation: &'static str,
    key: Option<&str>,
) -> Result<Admitted, sqlx::Error> {
    let mut claim = KeyClaim {
        pool: sandbox.pool.clone(),
        operation,
        key: None,
        in_tx: false,
        keeps_errors: sandbox.settings.idempotency_keeps_errors,
    };
    let ttl = sandbox.settings.idempotency_ttl;
    let claimed = match key {
        None => Claim::Taken,
        Some(key) if sandbox.memory().faults.latency().is_zero() => {
            let mut tx = sandbox.pool.begin().await?;
            let claimed = match in_flight_elsewhere(&mut tx, operation, key).await? {
                true => Claim::Busy,
                false => claim_on(&mut tx, operation, key, ttl).await?,
            };
            if let Claim::Taken = claimed {
                claim.key = Some(key.to_string());
                claim.in_tx = true;
                return Ok(Admitted::Go(claim, tx));
            }
            claimed
        }
        Some(key) => {
            let mut conn = sandbox.pool.acquire().await?;
            let claimed = claim_on(&mut conn, operation, key, ttl).await?;
            if let Claim::Taken = claimed {
                claim.key = Some(key.to_string());
            }
            claimed
        }
    };
    match claimed {
        Claim::Taken => {
            sandbox.latency().await;
            Ok(Admitted::Go(claim, sandbox.pool.begin().await?))
        }
        Claim::Busy => Ok(Admitted::Answer(TossResponse::error(codes::get(
            codes::IDEMPOTENT_REQUEST_PROCESSING,
        )))),
        Claim::Replay(reply) => Ok(Admitted::Answer(reply)),
    }
}

/// Whether another transaction holds `key` for `operation`; if not, this one does until it
/// ends. Keys are hashed to the lock's two 32-bit halves: two keys that collide answer each
/// other's duplicates 409 while both run, which a client retries.
async fn in_flight_elsewhere(
    conn: &mut PgConnection,
    operation: &str,
    key: &str,
) -> Result<bool, sqlx::Error> {
    let locked = sqlx::query_scalar!(
        r#"select pg_try_advisory_xact_lock(hashtext($1), hashtext($2)) as "locked!""#,
        operation,
        key,
    )
    .fetch_one(conn)
    .await?;
    Ok(!locked)
}

/// Claims `key` for `operation` on `conn` (in a transaction or not), or says why the request
/// must not run.
async fn claim_on(
    conn: &mut PgConnection,
    operation: &str,
    key: &str,
    ttl: Duration,
) -> Result<Claim, sqlx::Error> {
    // Twice: the row seen as a conflict may be deleted (released) before it is read.
    for _ in 0..2 {
        // An abandoned claim is taken over, and so is an answer kept longer than the TTL
        // (Toss keeps them 15 days): the key is then new again.
        let claimed = sqlx::query!(
            "insert into idempotency_keys (operation, idempotency_key) values ($1, $2)
             on conflict (operation, idempotency_key) do update
                set claimed_at = now(), status = 'IN_FLIGHT', response_status = null,
                    response_body = null
              where (idempotency_keys.status = 'IN_FLIGHT'
                     and idempotency_keys.claimed_at < now() - make_interval(secs => $3))
                 or (idempotency_keys.status = 'COMPLETED'
                     and idempotency_keys.claimed_at < now() - make_interval(secs => $4))",
            operation,
            key,
            ABANDONED_AFTER_SECS,
            ttl.as_secs_f64(),
        )
        .execute(&mut *conn)
        .await?;
        if claimed.rows_affected() == 1 {
            return Ok(Claim::Taken);
        }
        let row = sqlx::query!(
            "select status, response_status, response_body from idempotency_keys
              where operation = $1 and idempotency_key = $2",
            operation,
            key,
        )
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { continue };
        if row.status == "IN_FLIGHT" {
            return Ok(Claim::Busy);
        }
        // A COMPLETED key has both (idempotency_keys_completed_check).
        let (Some(code), Some(body)) = (row.response_status, row.response_body) else {
            return Err(sqlx::Error::Decode(
                "idempotency_keys: a completed key without its reply".into(),
            ));
        };
        let reply = u16::try_from(code)
            .ok()
            .and_then(|code| TossResponse::from_stored(code, body))
            .ok_or_else(|| sqlx::Error::Decode("idempotency_keys: unreadable reply".into()))?;
        return Ok(Claim::Replay(reply));
    }
    Ok(Claim::Busy)
}

impl KeyClaim {
    /// Stores the outcome for the key (or removes the claim) inside the transaction of the
    /// change, then commits; only after the commit is the claim no longer this guard's.
    pub async fn commit(
        &mut self,
        mut tx: Transaction<'static, Postgres>,
        outcome: &Outcome,
    ) -> Result<(), sqlx::Error> {
        if let Some(key) = &self.key {
            settle(
                &mut tx,
                self.operation,
                key,
                (outcome.keep || self.keeps_errors).then_some(&outcome.reply),
            )
            .await?;
        }
        tx.commit().await?;
        self.key = None;
        Ok(())
    }
}

async fn settle(
    conn: &mut PgConnection,
    operation: &str,
    key: &str,
    reply: Option<&TossResponse>,
) -> Result<(), sqlx::Error> {
    match reply {
        Some(reply) => {
            let (status, body) = reply.to_stored();
            sqlx::query!(
                "update idempotency_keys set status = 'COMPLETED', response_status = $3,
                                             response_body = $4
                  where operation = $1 and idempotency_key = $2",
                operation,
                key,
                i32::from(status),
                body,
            )
            .execute(conn)
            .await?
        }
        None => {
            sqlx::query!(
                "delete from idempotency_keys
                  where operation = $1 and idempotency_key = $2 and status = 'IN_FLIGHT'",
                operation,
                key,
            )
            .execute(conn)
            .await?
        }
    };
    Ok(())
}

impl Drop for KeyClaim {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        if self.in_tx {
            return;
        }
        let (pool, operation) = (self.pool.clone(), self.operation);
        // Drop cannot wait; the release runs on the runtime. Without one (never in the
        // server) the claim is simply left to be taken over once it counts as abandoned.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Ok(mut conn) = pool.acquire().await {
                    let _ = settle(&mut conn, operation, &key, None).await;
                }
            });
        }
    }
}

/// Text Postgres cannot store (a NUL character in a key or an id): the request is wrong, not
/// the sandbox — Toss answers INVALID_REQUEST for malformed values.
pub fn unstorable_text(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| code == "22021" || code == "22P05")
}
