//! The operator's view of dead letters: list, inspect, replay. A service mounts
//! [`DeadLetterApi`] next to its own API; every operation needs the admin bearer token.

use chrono::{DateTime, Utc};
use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    Object, OpenApi, Tags,
};
use service_kit::{admin::AdminAuth, ApiError};
use sqlx::PgPool;

use crate::Replayers;

use super::{
    replay, store,
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
    replayers: Replayers,
    admin_token: Option<String>,
}

impl DeadLetterApi {
    /// `admin_token` is the service's `config.admin_token`; without one every call is refused.
    /// `replayers` holds the handlers of the service's consumers (`EventBus::consume` and
    /// `spawn_consumer` register them); a letter is replayed through its consumer's.
    pub fn new(pool: PgPool, replayers: Replayers, admin_token: Option<String>) -> Self {
        Self {
            pool,
            replayers,
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

    /// Replay a dead letter through the consumer that gave up on it.
    ///
    /// Runs the stored message (payload and headers, plus `Paymsa-Replay-Of: <id>`) through
    /// the handler of the letter's consumer in this service, as a live delivery runs:
    /// processed-events idempotency, one transaction, the consumer's metrics. Nothing is
    /// published, so no other consumer of the subject sees the message. `APPLIED` or
    /// `DUPLICATE` (the consumer had applied the event) resolve the letter;
    /// `ALREADY_RESOLVED` means an earlier replay did and nothing ran. A handler that fails
    /// again answers 422 `DEAD_LETTER_REPLAY_FAILED` with its error, and the letter stays
    /// open with the error as `lastError`. A letter of a consumer that no longer runs here
    /// answers 409 `DEAD_LETTER_CONSUMER_GONE`. Concurrent replays of one letter take turns.
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
        Ok(Json(replay::replay(&self.pool, &self.replayers, id).await?))
    }

    /// Close a dead letter without replaying it.
    ///
    /// For a letter no replay can resolve: its message had left the stream
    /// (`DEAD_LETTER_NOT_REPLAYABLE`), its consumer no longer runs
    /// (`DEAD_LETTER_CONSUMER_GONE`), or its event no longer matters. Nothing runs; the letter
    /// is resolved with `lastError` = `dismissed: <reason>`, and stops counting in
    /// `paymsa_dead_letters_stored` (the `PaymsaDeadLetters` alert). A resolved letter is
    /// answered as it is.
    #[oai(
        path = "/admin/dead-letters/:id/dismiss",
        method = "post",
        operation_id = "dead_letters_dismiss"
    )]
    async fn dismiss(
        &self,
        auth: AdminAuth,
        id: Path<String>,
        body: Json<DismissRequest>,
    ) -> Result<Json<DeadLetterDetail>, ApiError> {
        self.authorize(&auth)?;
        let id = parse_id(&id.0)?;
        let reason = body.0.reason.trim();
        if reason.is_empty() || reason.contains('\0') {
            return Err(ApiError::bad_request(
                "INVALID_REASON",
                "reason must be 1-500 characters, not blank, without NUL",
            ));
        }
        let mut conn = self.pool.acquire().await?;
        match store::dismiss(&mut conn, id, reason).await? {
            Some(letter) => {
                tracing::warn!(id, consumer = %letter.consumer, %reason, "dead letter dismissed");
                Ok(Json(letter.into()))
            }
            None => Err(not_found(id)),
        }
    }
}

/// Why an operator closes a letter without a replay.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields, example)]
pub struct DismissRequest {
    /// Kept with the letter as `lastError` (`dismissed: …`), 1–500 characters.
    #[oai(
        validator(min_length = 1, max_length = 500),
        deserialize_with = "service_kit::strict::json_string"
    )]
    pub reason: String,
}

pub(super) fn not_found(id: i64) -> ApiError {
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
}
