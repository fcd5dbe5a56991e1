//! What the admin API answers: ids as strings, camelCase, payload as base64 and as text.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use poem_openapi::{types::Base64, Enum, Object};
use uuid::Uuid;

use super::store::{DeadLetter, DeadLetterSummary};

/// One dead letter in a list (no headers or payload).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct DeadLetterItem {
    /// Snowflake id, as a string.
    pub id: String,
    pub stream: String,
    pub stream_seq: i64,
    /// The durable that gave up on the message.
    pub consumer: String,
    pub subject: String,
    /// `MAX_DELIVERIES` or `TERMINATED`.
    pub reason: String,
    pub deliveries: i32,
    #[oai(nullable)]
    pub event_id: Option<Uuid>,
    #[oai(nullable)]
    pub msg_id: Option<String>,
    pub first_seen_at: DateTime<Utc>,
    #[oai(nullable)]
    pub last_replayed_at: Option<DateTime<Utc>>,
    pub replay_count: i32,
    /// When a replay applied the message (or found it applied); `null` while open.
    #[oai(nullable)]
    pub resolved_at: Option<DateTime<Utc>>,
}

/// One dead letter with the original message.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct DeadLetterDetail {
    pub id: String,
    pub stream: String,
    pub stream_seq: i64,
    pub consumer: String,
    pub subject: String,
    pub reason: String,
    pub deliveries: i32,
    #[oai(nullable)]
    pub event_id: Option<Uuid>,
    #[oai(nullable)]
    pub msg_id: Option<String>,
    pub first_seen_at: DateTime<Utc>,
    #[oai(nullable)]
    pub last_replayed_at: Option<DateTime<Utc>>,
    pub replay_count: i32,
    #[oai(nullable)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// The consumer's error on the last failed replay; `null` if none failed or one succeeded.
    #[oai(nullable)]
    pub last_error: Option<String>,
    pub headers: BTreeMap<String, Vec<String>>,
    /// The message body, exactly as stored.
    pub payload: Base64<Vec<u8>>,
    /// The body as text when it is UTF-8 (it usually is JSON).
    #[oai(nullable)]
    pub payload_text: Option<String>,
    /// False when the message had left its stream before it was captured (nothing to run).
    pub replayable: bool,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct DeadLetterPage {
    pub items: Vec<DeadLetterItem>,
    /// Pass as `cursor` for the next (older) page; `null` on the last page.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

/// What a replay found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReplayOutcome {
    /// The consumer's handler applied the message; the letter is resolved.
    Applied,
    /// The handler ran and found the event applied before (processed-events); nothing
    /// changed; the letter is resolved.
    Duplicate,
    /// An earlier replay resolved the letter; the handler was not run again.
    AlreadyResolved,
}

/// The answer to a replay that did not fail (a failure is a 422 problem, the letter open).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct ReplayResult {
    pub outcome: ReplayOutcome,
    /// The consumer whose handler ran: the one that had given up on the message, and no other.
    pub consumer: String,
    pub dead_letter: DeadLetterDetail,
}

impl From<DeadLetterSummary> for DeadLetterItem {
    fn from(d: DeadLetterSummary) -> Self {
        Self {
            id: d.id.to_string(),
            stream: d.stream,
            stream_seq: d.stream_seq,
            consumer: d.consumer,
            subject: d.subject,
            reason: d.reason,
            deliveries: d.deliveries,
            event_id: d.event_id,
            msg_id: d.msg_id,
            first_seen_at: d.first_seen_at,
            last_replayed_at: d.last_replayed_at,
            replay_count: d.replay_count,
            resolved_at: d.resolved_at,
        }
    }
}

impl From<DeadLetter> for DeadLetterDetail {
    fn from(d: DeadLetter) -> Self {
        Self {
            id: d.id.to_string(),
            replayable: !d.subject.is_empty(),
            stream: d.stream,
            stream_seq: d.stream_seq,
            consumer: d.consumer,
            subject: d.subject,
            reason: d.reason,
            deliveries: d.deliveries,
            event_id: d.event_id,
            msg_id: d.msg_id,
            first_seen_at: d.first_seen_at,
            last_replayed_at: d.last_replayed_at,
            replay_count: d.replay_count,
            resolved_at: d.resolved_at,
            last_error: d.last_error,
            headers: d.headers.0,
            payload_text: String::from_utf8(d.payload.clone()).ok(),
            payload: Base64(d.payload),
        }
    }
}
