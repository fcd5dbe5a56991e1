//! What the admin API answers: ids as strings, camelCase, payload as base64 and as text.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use poem_openapi::{types::Base64, Object};
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
    pub headers: BTreeMap<String, Vec<String>>,
    /// The message body, exactly as stored.
    pub payload: Base64<Vec<u8>>,
    /// The body as text when it is UTF-8 (it usually is JSON).
    #[oai(nullable)]
    pub payload_text: Option<String>,
    /// False when the message had left its stream before it was captured.
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

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct ReplayResult {
    /// The message id the replay was published with (the original one would be dropped as a
    /// duplicate).
    pub msg_id: String,
    pub stream: String,
    pub stream_seq: u64,
    /// True if JetStream had already seen this message id (a replay repeated within the
    /// duplicate window).
    pub duplicate: bool,
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
            headers: d.headers.0,
            payload_text: String::from_utf8(d.payload.clone()).ok(),
            payload: Base64(d.payload),
        }
    }
}
