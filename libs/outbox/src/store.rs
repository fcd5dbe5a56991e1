//! The queries on the `outbox` table (libs/outbox/migrations).
//!
//! Rows move INIT → SUCCESS on a publish ack, or INIT/FAILURE → FAILURE on a failed publish
//! (retried later). A relay claims a batch with `for update skip locked` in a transaction it
//! holds while publishing and commits together with the outcome: no other relay takes those
//! rows meanwhile, and if the relay dies its connection drops, the locks go with it and the
//! rows are due again at once. The transaction lasts one publish window (milliseconds; at
//! most the ack timeout when the broker hangs).

use std::time::Duration;

use serde_json::{Map, Value};
use sqlx::{types::Json, PgConnection, PgPool};

/// One row about to be inserted by [`crate::OutboxWriter`].
pub(crate) struct NewRow<'a> {
    pub id: i64,
    pub idempotency_key: &'a str,
    pub subject: &'a str,
    pub event_type: &'a str,
    pub shard_key: i16,
}

/// Inserts a row due at its insert time (`clock_timestamp()`, not the column default `now()`,
/// which is the transaction's start): an aggregate's events are appended after its row lock
/// is taken, so insert time orders them as they committed, and the relay reads them in that
/// order.
pub(crate) async fn insert<P: serde::Serialize>(
    conn: &mut PgConnection,
    row: NewRow<'_>,
    payload: &P,
    headers: &Map<String, Value>,
) -> Result<(), sqlx::Error> {
    // `as _`: the JSON columns take any serializable value, not only `serde_json::Value`.
    sqlx::query!(
        "insert into outbox \
             (id, idempotency_key, subject, event_type, payload, headers, shard_key, next_attempt_at) \
         values ($1, $2, $3, $4, $5, $6, $7, clock_timestamp())",
        row.id,
        row.idempotency_key,
        row.subject,
        row.event_type,
        Json(payload) as _,
        Json(headers) as _,
        row.shard_key,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A claimed row, ready to publish.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ClaimedRow {
    pub id: i64,
    pub idempotency_key: String,
    pub subject: String,
    /// The envelope as JSON text, rendered by Postgres (no parse/serialize round trip here).
    pub payload: String,
    pub headers: Json<Map<String, Value>>,
}

/// Which rows one claim looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShardTarget {
    /// One shard, read in `(next_attempt_at, id)` order straight off `outbox_pending_idx`, so
    /// a claim costs the batch, not the backlog.
    Shard(i16),
    /// `shard_key >= from`: rows written with more shards than the relay knows (writer and
    /// relay configured differently). Taken by the owner of the last shard so they are never
    /// stranded; normally empty.
    Beyond(i16),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct ClaimFilter {
    pub target: ShardTarget,
    /// Only rows created at least this long ago (the sweep leaves fresh rows to the nudge).
    pub min_age: Duration,
    pub limit: u32,
}

/// Settings of the claiming transaction:
/// - it may sit idle (publishing) at most `limit`: a relay that stalls mid-batch loses its
///   session and its row locks instead of holding them forever;
/// - its commit does not wait for the WAL flush: losing the last marks in a database crash
///   only re-publishes those rows, which JetStream drops as duplicates.
pub(crate) async fn configure_claim(
    conn: &mut PgConnection,
    limit: Duration,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "select set_config('idle_in_transaction_session_timeout', $1, true) as idle_timeout, \
                set_config('synchronous_commit', 'off', true) as synchronous_commit",
        limit.as_millis().max(1).to_string(),
    )
    .fetch_one(conn)
    .await?;
    Ok(())
}

/// Locks up to `limit` unpublished, due rows, earliest due first, skipping rows another
/// relay holds. Call inside the transaction that records the outcome.
///
/// Fresh rows are due from their insert time (see [`insert`]), so within a shard they come in
/// insert order; a row that failed moves behind by its backoff.
pub(crate) async fn claim_due(
    conn: &mut PgConnection,
    filter: ClaimFilter,
) -> Result<Vec<ClaimedRow>, sqlx::Error> {
    // Pick and lock the ids first, then read the payloads of just those rows. One statement
    // per target, written out, each with its own plan (the `Shard` one reads
    // `outbox_pending_idx` in order). Checked at run time, not by `query_as!`: the macro's
    // query cannot be told not to keep a prepared plan, and these must be planned at every
    // call (the outbox tests run both forms). Planned at every call, as are
    // the other statements of a relay batch (`persistent(false)`): a prepared statement's
    // generic plan made while the outbox is small is a sequential scan, and it stays one
    // until an ANALYZE, which where autovacuum is off (this machine's Postgres) only the
    // services' own queue-table vacuum runs, now and then (libs/service-kit/src/vacuum.rs).
    // `just bench e2e`'s 10-minute run (docs/benchmarks.md, stop 15) saw this claim and
    // `mark_published` become the statements most often running, their cost growing with
    // the table: 19 ms and 14 ms a batch at 60,000 rows against well under 1 ms by the index.
    let min_age = filter.min_age.as_secs_f64();
    let limit = i64::from(filter.limit);
    match filter.target {
        ShardTarget::Shard(shard) => {
            sqlx::query_as::<_, ClaimedRow>(
                "select id, idempotency_key, subject, payload::text as payload, headers
                   from outbox
                   where id = any(array(
                       select id from outbox
                       where shard_key = $1
                         and status <> 'SUCCESS'
                         and next_attempt_at <= now()
                         and created_at <= now() - make_interval(secs => $2)
                       order by next_attempt_at, id
                       limit $3
                       for update skip locked))
                   order by next_attempt_at, id",
            )
            .bind(shard)
            .bind(min_age)
            .bind(limit)
            .persistent(false)
            .fetch_all(conn)
            .await
        }
        ShardTarget::Beyond(from) => {
            sqlx::query_as::<_, ClaimedRow>(
                "select id, idempotency_key, subject, payload::text as payload, headers
                   from outbox
                   where id = any(array(
                       select id from outbox
                       where shard_key >= $1
                         and status <> 'SUCCESS'
                         and next_attempt_at <= now()
                         and created_at <= now() - make_interval(secs => $2)
                       order by next_attempt_at, id
                       limit $3
                       for update skip locked))
                   order by next_attempt_at, id",
            )
            .bind(from)
            .bind(min_age)
            .bind(limit)
            .persistent(false)
            .fetch_all(conn)
            .await
        }
    }
}

/// A row JetStream acknowledged and the stream sequence its message has.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Acked {
    pub id: i64,
    pub seq: i64,
}

/// Marks acked rows SUCCESS with their stream sequences, in one statement.
pub(crate) async fn mark_published(
    conn: &mut PgConnection,
    acked: &[Acked],
) -> Result<u64, sqlx::Error> {
    if acked.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = acked.iter().map(|a| a.id).collect();
    let seqs: Vec<i64> = acked.iter().map(|a| a.seq).collect();
    let done = sqlx::query!(
        "update outbox o set status = 'SUCCESS', published_at = now(), last_error = null,
                stream_seq = a.seq
           from unnest($1::bigint[], $2::bigint[]) as a(id, seq)
          where o.id = a.id",
        &ids,
        &seqs,
    )
    .persistent(false) // planned per call: see claim_due
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// After a batch is marked: if an ack names the sequence of another published row, or one at
/// or below the highest sequence the purger deleted (`outbox_purged_seq`: those rows are gone,
/// so no held row can say it), the stream lost everything from that sequence on (sequences
/// never repeat, and idempotency keys are unique, so even a duplicate's sequence belongs to
/// its own row only; a duplicate is answered within JetStream's two-minute window, with a
/// sequence far above rows purged after an hour). Those rows go back to INIT to be published
/// again, and the purged mark drops below the sequence, so the stream's new sequences do not
/// look lost again; returns how many. A row another instance published meanwhile with a
/// higher sequence is re-sent too, and JetStream drops it as a duplicate.
pub(crate) async fn requeue_lost(
    conn: &mut PgConnection,
    acked: &[Acked],
) -> Result<u64, sqlx::Error> {
    if acked.is_empty() {
        return Ok(0);
    }
    // Duplicates count too: if the transaction that first saw the reuse did not commit, the
    // re-sent rows come back as duplicates carrying the reused sequences.
    let ids: Vec<i64> = acked.iter().map(|a| a.id).collect();
    let seqs: Vec<i64> = acked.iter().map(|a| a.seq).collect();
    // Two statements, each with one plan whatever the table's statistics say. As one statement
    // (the check a CTE of the update) its generic plan, made while the table was nearly empty,
    // scanned every published row and re-ran the check for each: quadratic in the table,
    // statements of 3–12 s and most of the database's CPU under load (docs/benchmarks.md,
    // stop 14). The check is an index probe per acked sequence; the update runs only when it
    // finds something, which is never in normal operation.
    // Planned at every call (`persistent(false)`): a prepared statement's generic plan is made
    // once, and when that is while the outbox is still small (a new or purged table), it is a
    // sequential scan with a hash join, kept however large the table grows before the next
    // ANALYZE — 6.5 ms for 30,000 rows against 0.15 ms through the index, and the statement
    // most often running in the order database in stop 15's first bench (docs/benchmarks.md).
    let from_seq = sqlx::query_scalar!(
        "select least(
             (select min(f.seq) from unnest($1::bigint[], $2::bigint[]) as f(id, seq)
                join outbox o on o.stream_seq = f.seq and o.id <> f.id
               where o.status = 'SUCCESS'),
             (select min(f.seq) from unnest($2::bigint[]) as f(seq), outbox_purged_seq m
               where f.seq <= m.purged_through))",
        &ids,
        &seqs,
    )
    .persistent(false)
    .fetch_one(&mut *conn)
    .await?;
    let Some(from_seq) = from_seq else {
        return Ok(0);
    };
    let requeued = sqlx::query!(
        "update outbox
            set status = 'INIT', next_attempt_at = now(), stream_seq = null,
                last_error = 'the stream lost it: its sequence went to another event'
          where status = 'SUCCESS' and stream_seq >= $1 and id <> all($2)",
        from_seq,
        &ids,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "update outbox_purged_seq set purged_through = least(purged_through, $1::bigint - 1)",
        from_seq,
    )
    .execute(conn)
    .await?;
    Ok(requeued.rows_affected())
}

/// Exponential retry delay: `base · 2^attempts`, capped at `max`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryBackoff {
    pub base: Duration,
    pub max: Duration,
}

/// Records failed publishes: FAILURE, one more attempt, the error, and the next attempt
/// after the backoff. A row another relay has meanwhile published stays SUCCESS.
pub(crate) async fn mark_failed(
    conn: &mut PgConnection,
    failures: &[(i64, String)],
    backoff: RetryBackoff,
) -> Result<u64, sqlx::Error> {
    if failures.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = failures.iter().map(|(id, _)| *id).collect();
    let errors: Vec<String> = failures.iter().map(|(_, e)| e.clone()).collect();
    let done = sqlx::query!(
        "update outbox set status = 'FAILURE', attempts = outbox.attempts + 1, \
             last_error = failed.error, \
             next_attempt_at = now() + make_interval(secs => \
                 least($4::float8, $3::float8 * power(2.0::float8, least(outbox.attempts, 30)))) \
         from unnest($1::bigint[], $2::text[]) as failed(id, error) \
         where outbox.id = failed.id and outbox.status <> 'SUCCESS'",
        &ids,
        &errors,
        backoff.base.as_secs_f64(),
        backoff.max.as_secs_f64(),
    )
    .persistent(false) // planned per call: see claim_due
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes up to `batch_size` SUCCESS rows published more than `retention` ago; returns how
/// many went. Rows locked by a concurrent purger are skipped, not waited for.
pub(crate) async fn purge_batch(
    pool: &PgPool,
    retention: Duration,
    batch_size: u32,
) -> Result<u64, sqlx::Error> {
    // The sequences deleted are remembered by their highest (`requeue_lost`).
    let deleted = sqlx::query_scalar!(
        r#"with gone as (
             delete from outbox where id in (
                 select id from outbox
                  where status = 'SUCCESS'
                    and published_at < now() - make_interval(secs => $1)
                  limit $2
                    for update skip locked)
             returning stream_seq),
           marked as (
             insert into outbox_purged_seq (purged_through)
             select max(stream_seq) from gone having max(stream_seq) is not null
             on conflict (id) do update
                set purged_through = greatest(outbox_purged_seq.purged_through,
                                              excluded.purged_through))
           select count(*) as "deleted!" from gone"#,
        retention.as_secs_f64(),
        i64::from(batch_size),
    )
    .fetch_one(pool)
    .await?;
    Ok(u64::try_from(deleted).unwrap_or(0))
}

/// Unpublished rows and the age of the oldest, for the backlog gauges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Backlog {
    pub rows: i64,
    pub oldest_age_seconds: f64,
}

pub(crate) async fn backlog(pool: &PgPool) -> Result<Backlog, sqlx::Error> {
    sqlx::query_as!(
        Backlog,
        r#"select count(*) as "rows!",
                  coalesce(extract(epoch from now() - min(created_at))::float8, 0)
                      as "oldest_age_seconds!"
           from outbox where status <> 'SUCCESS'"#,
    )
    .fetch_one(pool)
    .await
}
