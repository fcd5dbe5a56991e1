//! `POST /admin/rebuild`: drop the read model and replay it from the streams.
//!
//! The business streams keep events by age (Limits retention, `max_age`), and the durables
//! start at the first message (`DeliverPolicy::All`). So deleting the durables makes the
//! consumer runners re-create them and replay everything the streams still hold; the
//! projection is idempotent and order-safe, so the replay ends in the same read model (minus
//! orders whose events have aged out of the streams). So a rebuild first checks that the
//! streams still hold the oldest events the read model was built from (the oldest processed
//! record of each consumer, kept 45 days, against the stream's first message, kept 7 days):
//! when they do not, it is refused (409 `STREAMS_NO_LONGER_HOLD_HISTORY`) unless `force=true`
//! says the older orders may go — it emptied the history of every order older than a week.
//!
//! One transaction takes the projection gate exclusively, empties the read model, forgets the
//! processed records, deletes the durables and only then commits: a replayed delivery waits for
//! the commit (on the gate or on the processed record being deleted), so none is skipped as a
//! duplicate of an effect that was just wiped. A failed delete rolls everything back.

use async_nats::jetstream::{self, ErrorCode};
use chrono::{DateTime, TimeDelta, Utc};
use events::{StreamDef, Topology};
use poem_openapi::{param::Query, payload::Json, ApiResponse, Object, OpenApi, Tags};
use service_kit::{admin::AdminAuth, ApiError};
use sqlx::PgPool;

use crate::{projection, store};

#[derive(Tags)]
enum AdminTag {
    /// Operating the read model.
    ReadModel,
}

/// The durables a rebuild resets, with their streams.
const DURABLES: [(StreamDef, &str); 2] = [
    (events::topology::ORDERS, projection::ORDER_CONSUMER),
    (events::topology::WALLETS, projection::WALLET_CONSUMER),
];

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct RebuildStarted {
    /// Order views dropped; the replay brings them back asynchronously.
    pub dropped_views: i64,
    /// The durables deleted; their runners re-create them from the start of the streams.
    pub consumers: Vec<String>,
}

#[derive(ApiResponse)]
enum Rebuild {
    /// The read model was emptied and the replay has started.
    #[oai(status = 202)]
    Accepted(Json<RebuildStarted>),
}

pub struct AdminApi {
    pub pool: PgPool,
    pub js: jetstream::Context,
    pub topology: Topology,
    pub admin_token: Option<String>,
}

impl AdminApi {
    fn authorize(&self, auth: &AdminAuth) -> Result<(), ApiError> {
        service_kit::admin::authorize(self.admin_token.as_deref(), auth)
    }

    async fn delete_durable(&self, stream: &StreamDef, durable: &str) -> Result<(), ApiError> {
        let stream = self.topology.stream_name(stream);
        match self.js.delete_consumer_from_stream(durable, &stream).await {
            Ok(_) => Ok(()),
            Err(e) => match e.kind() {
                // Already gone (a runner between re-creations): nothing to reset.
                jetstream::stream::ConsumerErrorKind::JetStream(js)
                    if js.error_code() == ErrorCode::CONSUMER_NOT_FOUND =>
                {
                    Ok(())
                }
                _ => Err(ApiError::unavailable(
                    "NATS_UNAVAILABLE",
                    format!(
                        "deleting consumer {durable} on {stream} failed ({e}); nothing was changed"
                    ),
                )),
            },
        }
    }
}

impl AdminApi {
    /// Why the streams no longer hold the events the read model was built from, if they do not:
    /// a consumer processed an event stored before the stream's first message (a minute allowed
    /// for the broker's and the database's clocks), or the stream holds nothing at all.
    async fn history_lost(&self) -> Result<Option<String>, ApiError> {
        let unavailable = |what: String| ApiError::unavailable("NATS_UNAVAILABLE", what);
        for (stream, durable) in &DURABLES {
            let mut conn = self.pool.acquire().await?;
            let Some(processed) = store::first_processed(&mut conn, durable).await? else {
                continue;
            };
            drop(conn);
            let name = self.topology.stream_name(stream);
            let mut handle = self
                .js
                .get_stream(&name)
                .await
                .map_err(|e| unavailable(format!("reading stream {name} failed ({e})")))?;
            let state = handle
                .info()
                .await
                .map_err(|e| unavailable(format!("reading stream {name} failed ({e})")))?
                .state
                .clone();
            let first_held = (state.messages > 0)
                .then(|| {
                    DateTime::<Utc>::from_timestamp(
                        state.first_timestamp.unix_timestamp(),
                        state.first_timestamp.nanosecond(),
                    )
                })
                .flatten();
            match first_held {
                Some(first) if processed + TimeDelta::minutes(1) >= first => {}
                Some(first) => {
                    return Ok(Some(format!(
                        "{name} holds events from {first} on, and {durable} processed events \
                         from {processed}: a rebuild would lose every order older than {first}"
                    )))
                }
                None => {
                    return Ok(Some(format!(
                        "{name} holds no events, and {durable} processed events from \
                         {processed}: a rebuild would lose them all"
                    )))
                }
            }
        }
        Ok(None)
    }
}

#[OpenApi(tag = "AdminTag::ReadModel")]
impl AdminApi {
    /// Rebuild the read model from the event streams (admin token).
    ///
    /// Answers once the model is empty and the replay has begun; orders reappear as the
    /// consumers catch up. The streams keep a week: when they no longer hold the oldest events
    /// the model was built from, 409 `STREAMS_NO_LONGER_HOLD_HISTORY` and nothing changes;
    /// `force=true` rebuilds all the same, and the older orders are gone from the model.
    #[oai(
        path = "/admin/rebuild",
        method = "post",
        operation_id = "rebuild_read_model"
    )]
    async fn rebuild(
        &self,
        auth: AdminAuth,
        /// Rebuild even when the streams no longer hold every event the model was built from.
        force: Query<Option<bool>>,
    ) -> Result<Rebuild, ApiError> {
        self.authorize(&auth)?;
        if force.0 != Some(true) {
            if let Some(why) = self.history_lost().await? {
                return Err(ApiError::conflict("STREAMS_NO_LONGER_HOLD_HISTORY", why));
            }
        }
        let consumers: Vec<&str> = DURABLES.iter().map(|(_, d)| *d).collect();
        let mut tx = self.pool.begin().await?;
        let dropped_views = store::reset_read_model(&mut tx, &consumers).await?;
        for (stream, durable) in &DURABLES {
            // Returning early drops `tx`, which rolls the reset back.
            self.delete_durable(stream, durable).await?;
        }
        tx.commit().await?;
        tracing::warn!(dropped_views, "read model dropped; replaying the streams");
        Ok(Rebuild::Accepted(Json(RebuildStarted {
            dropped_views,
            consumers: consumers.into_iter().map(String::from).collect(),
        })))
    }
}
