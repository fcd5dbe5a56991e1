//! The `dead_letters` table (libs/messaging/migrations).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{types::Json, PgConnection, PgExecutor};
use uuid::Uuid;

/// Why the server gave up on a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Every delivery failed (the handler kept answering Retry).
    MaxDeliveries,
    /// The handler rejected it (undecodable, unknown version).
    Terminated,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MaxDeliveries => "MAX_DELIVERIES",
            Self::Terminated => "TERMINATED",
        }
    }
}

/// Headers as stored: name → values (NATS headers may repeat).
pub type StoredHeaders = BTreeMap<String, Vec<String>>;

/// A row as the worker writes it.
#[derive(Debug, Clone)]
pub struct NewDeadLetter {
    pub id: i64,
    pub stream: String,
    pub stream_seq: i64,
    pub consumer: String,
    /// Empty when the message had already left the stream (see `worker`).
    pub subject: String,
    pub reason: Reason,
    pub deliveries: i32,
    pub event_id: Option<Uuid>,
    pub msg_id: Option<String>,
    pub headers: StoredHeaders,
    pub payload: Vec<u8>,
}

/// A whole row.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub id: i64,
    pub stream: String,
    pub stream_seq: i64,
    pub consumer: String,
    pub subject: String,
    pub reason: String,
    pub deliveries: i32,
    pub event_id: Option<Uuid>,
    pub msg_id: Option<String>,
    pub headers: Json<StoredHeaders>,
    pub payload: Vec<u8>,
    pub first_seen_at: DateTime<Utc>,
    pub last_replayed_at: Option<DateTime<Utc>>,
    pub replay_count: i32,
    /// When a replay applied the message (or found it applied); never run again after.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The handler's error of the last failed replay (cleared when one succeeds).
    pub last_error: Option<String>,
}

/// A row without headers and payload, for lists.
#[derive(Debug, Clone)]
pub struct DeadLetterSummary {
    pub id: i64,
    pub stream: String,
    pub stream_seq: i64,
    pub consumer: String,
    pub subject: String,
    pub reason: String,
    pub deliveries: i32,
    pub event_id: Option<Uuid>,
    pub msg_id: Option<String>,
    pub first_seen_at: DateTime<Utc>,
    pub last_replayed_at: Option<DateTime<Utc>>,
    pub replay_count: i32,
    pub resolved_at: Option<DateTime<Utc>>,
}

// The column lists are written out in each query: a checked query is a literal. `headers` needs
// its Rust type named (`jsonb` is `serde_json::Value` by default).

/// Stores a dead letter; `None` if this (stream, sequence, consumer) was stored before (the
/// advisory was delivered again, or a second instance of the service got a copy). A letter
/// of an event the consumer has applied already (its handler committed, and the ack of its
/// last delivery was lost) is stored resolved: there is nothing to replay or look at.
pub async fn insert(
    db: impl PgExecutor<'_>,
    letter: &NewDeadLetter,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "insert into dead_letters
             (id, stream, stream_seq, consumer, subject, reason, deliveries, event_id, msg_id,
              headers, payload, resolved_at, last_error)
         select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
                case when applied then now() end,
                case when applied then 'applied already: the ack of a delivery that had \
                                       committed was lost; nothing to replay' end
           from (select exists (select 1 from processed_events
                                 where consumer = $4 and event_id = $8) as applied) a
         on conflict on constraint dead_letters_message_key do nothing
         returning id",
        letter.id,
        letter.stream,
        letter.stream_seq,
        letter.consumer,
        letter.subject,
        letter.reason.as_str(),
        letter.deliveries,
        letter.event_id,
        letter.msg_id.as_deref(),
        Json(&letter.headers) as _,
        letter.payload,
    )
    .fetch_optional(db)
    .await
}

/// Dead letters not yet resolved by a replay: what an operator still has to look at. Resolved
/// ones stay in the table (30 days, for the record) but no longer count.
pub async fn count_unresolved(db: impl PgExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select count(*) as "count!" from dead_letters where resolved_at is null"#
    )
    .fetch_one(db)
    .await
}

/// Newest first; `before` is the keyset cursor `(first_seen_at, id)` of the last row seen.
pub async fn list(
    db: impl PgExecutor<'_>,
    before: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> Result<Vec<DeadLetterSummary>, sqlx::Error> {
    let (at, id) = before.unzip();
    sqlx::query_as!(
        DeadLetterSummary,
        "select id, stream, stream_seq, consumer, subject, reason, deliveries, event_id, msg_id,
                first_seen_at, last_replayed_at, replay_count, resolved_at
         from dead_letters
         where $1::timestamptz is null or (first_seen_at, id) < ($1, $2)
         order by first_seen_at desc, id desc
         limit $3",
        at,
        id,
        limit,
    )
    .fetch_all(db)
    .await
}

pub async fn get(db: impl PgExecutor<'_>, id: i64) -> Result<Option<DeadLetter>, sqlx::Error> {
    sqlx::query_as!(
        DeadLetter,
        r#"select id, stream, stream_seq, consumer, subject, reason, deliveries, event_id, msg_id,
                headers as "headers: Json<StoredHeaders>", payload, first_seen_at,
                last_replayed_at, replay_count, resolved_at, last_error
           from dead_letters where id = $1"#,
        id,
    )
    .fetch_optional(db)
    .await
}

/// Reads a row and locks it until the transaction ends. A replay holds the lock while the
/// handler runs, so concurrent replays of one letter take turns and only the first applies
/// (the next finds it resolved).
pub async fn get_for_update(
    conn: &mut PgConnection,
    id: i64,
) -> Result<Option<DeadLetter>, sqlx::Error> {
    sqlx::query_as!(
        DeadLetter,
        r#"select id, stream, stream_seq, consumer, subject, reason, deliveries, event_id, msg_id,
                headers as "headers: Json<StoredHeaders>", payload, first_seen_at,
                last_replayed_at, replay_count, resolved_at, last_error
           from dead_letters where id = $1 for update"#,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// A replay that applied the message, or found it applied: resolved, error cleared.
pub async fn mark_resolved(conn: &mut PgConnection, id: i64) -> Result<DeadLetter, sqlx::Error> {
    sqlx::query_as!(
        DeadLetter,
        r#"update dead_letters
           set replay_count = replay_count + 1, last_replayed_at = now(),
               resolved_at = coalesce(resolved_at, now()), last_error = null
           where id = $1
           returning id, stream, stream_seq, consumer, subject, reason, deliveries, event_id, msg_id,
                headers as "headers: Json<StoredHeaders>", payload, first_seen_at,
                last_replayed_at, replay_count, resolved_at, last_error"#,
        id,
    )
    .fetch_one(conn)
    .await
}

/// An operator closes a letter that no replay can resolve (its message left the stream, its
/// consumer is gone, or the event is obsolete): resolved, with the reason in `last_error`.
/// `None` when there is no such letter; a resolved one is answered as it is.
pub async fn dismiss(
    conn: &mut PgConnection,
    id: i64,
    reason: &str,
) -> Result<Option<DeadLetter>, sqlx::Error> {
    sqlx::query_as!(
        DeadLetter,
        r#"update dead_letters
           set resolved_at = coalesce(resolved_at, now()),
               last_error = case when resolved_at is null then 'dismissed: ' || $2
                                 else last_error end
           where id = $1
           returning id, stream, stream_seq, consumer, subject, reason, deliveries, event_id, msg_id,
                headers as "headers: Json<StoredHeaders>", payload, first_seen_at,
                last_replayed_at, replay_count, resolved_at, last_error"#,
        id,
        reason,
    )
    .fetch_optional(conn)
    .await
}

/// A replay whose handler failed again: the letter stays open, with the error.
pub async fn mark_failed(
    conn: &mut PgConnection,
    id: i64,
    error: &str,
) -> Result<DeadLetter, sqlx::Error> {
    sqlx::query_as!(
        DeadLetter,
        r#"update dead_letters
           set replay_count = replay_count + 1, last_replayed_at = now(), last_error = $2
           where id = $1
           returning id, stream, stream_seq, consumer, subject, reason, deliveries, event_id, msg_id,
                headers as "headers: Json<StoredHeaders>", payload, first_seen_at,
                last_replayed_at, replay_count, resolved_at, last_error"#,
        id,
        error,
    )
    .fetch_one(conn)
    .await
}
