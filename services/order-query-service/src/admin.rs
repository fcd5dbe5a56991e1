//! `POST /admin/rebuild`: drop the read model and replay it from the streams.
//!
//! The business streams keep events by age (Limits retention, `max_age`), and the durables
//! start at the first message (`DeliverPolicy::All`). So deleting the durables makes the
//! consumer runners re-create them and replay everything the streams still hold; the
//! projection is idempotent and order-safe, so the replay ends in the same read model (minus
//! orders whose events have aged out of the streams).
//!
//! One transaction takes the projection gate exclusively, empties the read model, forgets the
//! processed records, deletes the durables and only then commits: a replayed delivery waits for
//! the commit (on the gate or on the processed record being deleted), so none is skipped as a
//! duplicate of an effect that was just wiped. A failed delete rolls everything back.

use async_nats::jetstream::{self, ErrorCode};
use events::{StreamDef, Topology};
use poem_openapi::{payload::Json, ApiResponse, Object, OpenApi, Tags};
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

#[OpenApi(tag = "AdminTag::ReadModel")]
impl AdminApi {
    /// Rebuild the read model from the event streams (admin token).
    ///
    /// Answers once the model is empty and the replay has begun; orders reappear as the
    /// consumers catch up.
    #[oai(
        path = "/admin/rebuild",
        method = "post",
        operation_id = "rebuild_read_model"
    )]
    async fn rebuild(&self, auth: AdminAuth) -> Result<Rebuild, ApiError> {
        self.authorize(&auth)?;
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
