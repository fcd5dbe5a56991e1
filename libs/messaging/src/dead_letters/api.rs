//! The operator's view of dead letters: list, inspect, replay. A service mounts
//! [`DeadLetterApi`] next to its own API; every operation needs the admin bearer token.

use std::collections::BTreeMap;

use async_nats::{jetstream::Context, HeaderMap, HeaderName, HeaderValue};
use chrono::{DateTime, Utc};
use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    OpenApi, Tags,
};
use service_kit::{admin::AdminAuth, ApiError};
use sqlx::PgPool;

use super::{
    store,
    views::{DeadLetterDetail, DeadLetterItem, DeadLetterPage, ReplayResult},
};

#[derive(Tags)]
enum DeadLetterTag {
    /// Messages the consumers of this service gave up on, for inspection and replay.
    DeadLetters,
}

const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

/// The dead-letter admin API of one service.
pub struct DeadLetterApi {
    pool: PgPool,
    js: Context,
    admin_token: Option<String>,
}

impl DeadLetterApi {
    /// `admin_token` is the service's `config.admin_token`; without one every call is refused.
    pub fn new(pool: PgPool, js: Context, admin_token: Option<String>) -> Self {
        Self {
            pool,
            js,
            admin_token,
        }
    }

    fn authorize(&self, auth: &AdminAuth) -> Result<(), ApiError> {
        service_kit::admin::authorize(self.admin_token.as_deref(), auth)
    }
}

fn parse_id(raw: &str) -> Result<i64, ApiError> {
    raw.trim()
        .parse()
        .map_err(|_| ApiError::bad_request("INVALID_ID", format!("not a dead-letter id: {raw:?}")))
}

fn encode_cursor(at: DateTime<Utc>, id: i64) -> String {
    format!("{}_{}", at.timestamp_micros(), id)
}

fn decode_cursor(raw: &str) -> Result<(DateTime<Utc>, i64), ApiError> {
    let invalid = || ApiError::bad_request("INVALID_CURSOR", "cursor is not one this API issued");
    let (micros, id) = raw.split_once('_').ok_or_else(invalid)?;
    let at = micros
        .parse()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(invalid)?;
    Ok((at, id.parse().map_err(|_| invalid())?))
}

/// The original headers minus the server-interpreted `Nats-*` ones (message id, expectations,
/// TTL, rollup), which would make the replay a duplicate or fail it.
fn replay_headers(stored: &BTreeMap<String, Vec<String>>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, values) in stored {
        if name.to_ascii_lowercase().starts_with("nats-") {
            continue;
        }
        let Ok(header) = HeaderName::try_from(name.as_str()) else {
            continue;
        };
        for value in values {
            if let Ok(value) = value.parse::<HeaderValue>() {
                headers.append(header.clone(), value);
            }
        }
    }
    headers
}

#[OpenApi(tag = "DeadLetterTag::DeadLetters")]
impl DeadLetterApi {
    /// Lists dead letters, newest first.
    #[oai(
        path = "/admin/dead-letters",
        method = "get",
        operation_id = "dead_letters_list"
    )]
    async fn list(
        &self,
        auth: AdminAuth,
        /// Page size, 1–100 (default 20).
        limit: Query<Option<u32>>,
        /// `nextCursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<Json<DeadLetterPage>, ApiError> {
        self.authorize(&auth)?;
        let limit = limit.0.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_request(
                "INVALID_LIMIT",
                format!("limit must be 1..={MAX_LIMIT}"),
            ));
        }
        let before = cursor.0.as_deref().map(decode_cursor).transpose()?;
        // One extra row tells whether there is a next page.
        let mut rows = store::list(&self.pool, before, i64::from(limit) + 1).await?;
        let next_cursor = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last().map(|r| encode_cursor(r.first_seen_at, r.id))
        } else {
            None
        };
        Ok(Json(DeadLetterPage {
            items: rows.into_iter().map(DeadLetterItem::from).collect(),
            next_cursor,
        }))
    }

    /// One dead letter with its headers and payload.
    #[oai(
        path = "/admin/dead-letters/:id",
        method = "get",
        operation_id = "dead_letters_get"
    )]
    async fn get(
        &self,
        auth: AdminAuth,
        id: Path<String>,
    ) -> Result<Json<DeadLetterDetail>, ApiError> {
        self.authorize(&auth)?;
        let id = parse_id(&id.0)?;
        match store::get(&self.pool, id).await? {
            Some(letter) => Ok(Json(letter.into())),
            None => Err(not_found(id)),
        }
    }

    /// Replay a dead letter to its original subject.
    ///
    /// Republishes the message with a new `Nats-Msg-Id` and the same body (same eventId, so
    /// consumers that already applied it skip it). Answers once JetStream has acknowledged
    /// the publish.
    #[oai(
        path = "/admin/dead-letters/:id/replay",
        method = "post",
        operation_id = "dead_letters_replay"
    )]
    async fn replay(
        &self,
        auth: AdminAuth,
        id: Path<String>,
    ) -> Result<Json<ReplayResult>, ApiError> {
        self.authorize(&auth)?;
        let id = parse_id(&id.0)?;
        let mut tx = self.pool.begin().await?;
        let letter = store::get_for_update(&mut tx, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        if letter.subject.is_empty() {
            return Err(ApiError::conflict(
                "DEAD_LETTER_NOT_REPLAYABLE",
                "the message had left its stream before it was captured",
            ));
        }
        let base = letter
            .msg_id
            .clone()
            .unwrap_or_else(|| format!("dead-letter-{id}"));
        let msg_id = format!("{base}-replay-{}", letter.replay_count + 1);
        let mut headers = replay_headers(&letter.headers.0);
        headers.insert(async_nats::header::NATS_MESSAGE_ID, msg_id.as_str());
        headers.insert("Paymsa-Replay-Of", id.to_string());
        let unavailable = |e: String| {
            tracing::error!(id, error = %e, "replay publish failed");
            ApiError::unavailable(
                "NATS_UNAVAILABLE",
                "publishing the replay failed; retry later",
            )
        };
        let ack = self
            .js
            .publish_with_headers(letter.subject.clone(), headers, letter.payload.into())
            .await
            .map_err(|e| unavailable(e.to_string()))?
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let updated = store::mark_replayed(&mut tx, id).await?;
        tx.commit().await?;
        tracing::info!(id, %msg_id, stream_seq = ack.sequence, duplicate = ack.duplicate, "dead letter replayed");
        Ok(Json(ReplayResult {
            msg_id,
            stream: ack.stream,
            stream_seq: ack.sequence,
            duplicate: ack.duplicate,
            dead_letter: updated.into(),
        }))
    }
}

fn not_found(id: i64) -> ApiError {
    ApiError::not_found("DEAD_LETTER_NOT_FOUND", format!("no dead letter {id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_rejected() {
        let at = DateTime::from_timestamp_micros(1_790_000_000_123_456).expect("valid time");
        assert_eq!(decode_cursor(&encode_cursor(at, 42)).ok(), Some((at, 42)));
        assert!(decode_cursor("nope").is_err());
        assert!(decode_cursor("1_x").is_err());
    }

    #[test]
    fn replay_drops_server_headers_and_keeps_the_rest() {
        let stored = BTreeMap::from([
            ("Nats-Msg-Id".to_string(), vec!["a".to_string()]),
            ("Nats-Expected-Stream".to_string(), vec!["S".to_string()]),
            ("traceparent".to_string(), vec!["00-abc-def-01".to_string()]),
        ]);
        let headers = replay_headers(&stored);
        assert_eq!(headers.len(), 1);
        assert_eq!(
            headers.get("traceparent").map(|v| v.as_str()),
            Some("00-abc-def-01")
        );
    }
}
