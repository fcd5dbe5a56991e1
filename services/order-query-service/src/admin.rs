//! `POST /admin/rebuild`: drop the read model and replay it from the streams.
//!
//! The business streams keep events by age (Limits retention, `max_age`), and the durables
//! start at the first message (`DeliverPolicy::All`). So deleting the durables makes the
//! consumer runners re-create them and replay everything the streams still hold; the
//! projection is idempotent and order-safe, so the replay ends in the same read model (minus
//! orders whose events have aged out of the streams). So a rebuild of a read model that holds
//! orders is refused (409 `STREAMS_NO_LONGER_HOLD_HISTORY`) once either stream has dropped a
//! message (its first sequence is above 1: aged out, purged or discarded), unless `force=true`
//! says the orders projected from those may go. Before, it emptied the history of every order
//! older than the streams' week without a word. (Times cannot tell: an event is processed when
//! the consumer gets to it — after an outage or an earlier rebuild, long after it was stored.)
//!
//! One transaction takes the projection gate exclusively, empties the read model, forgets the
//! processed records, deletes the durables and only then commits: a replayed delivery waits for
//! the commit (on the gate or on the processed record being deleted), so none is skipped as a
//! duplicate of an effect that was just wiped. A failed delete rolls everything back.

use async_nats::jetstream::{self, ErrorCode};
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
    /// Why the streams no longer hold every event the read model was built from, if they do
    /// not: the model holds orders and a stream has dropped a message since it was created.
    async fn history_lost(&self) -> Result<Option<String>, ApiError> {
        let mut conn = self.pool.acquire().await?;
        if !store::has_views(&mut conn).await? {
            return Ok(None);
        }
        drop(conn);
        for (stream, _) in &DURABLES {
            let name = self.topology.stream_name(stream);
            let unavailable = |e: String| {
                ApiError::unavailable(
                    "NATS_UNAVAILABLE",
                    format!("reading stream {name} failed ({e}); nothing was changed"),
                )
            };
            let mut handle = self
                .js
                .get_stream(&name)
                .await
                .map_err(|e| unavailable(e.to_string()))?;
            let state = handle
                .info()
                .await
                .map_err(|e| unavailable(e.to_string()))?
                .state
                .clone();
            if state.first_sequence > 1 {
                return Ok(Some(format!(
                    "{name} no longer holds its first {} messages (it holds {} from sequence {}): \
                     a rebuild would lose the orders projected from them",
                    state.first_sequence - 1,
                    state.messages,
                    state.first_sequence
                )));
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
    /// consumers catch up. The streams keep a week: once one has dropped a message, a rebuild
    /// of a model that holds orders is 409 `STREAMS_NO_LONGER_HOLD_HISTORY` and nothing changes;
    /// `force=true` rebuilds all the same, and the orders projected from what the streams
    /// dropped are gone from the model.
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
