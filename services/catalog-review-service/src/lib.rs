//! catalog-review-service: product reviews and their per-product aggregates (DESIGN §3, §6).
//!
//! A review is validated (title 1–100, content 1–3000 characters, rating ONE..FIVE; every bad
//! field reported at once), stored, counted into `product_review_counts` (count and star sum
//! under an optimistic lock on `version`) and announced as `review.product.created`, all in one
//! transaction. Delete is owner-only and idempotent: a soft delete that happens once, uncounts
//! exactly what was counted, and announces `review.product.deleted` with the same rating and
//! creation time. A lost optimistic lock re-runs the whole attempt in a fresh transaction, a
//! bounded number of times.
//!
//! Files: `api` (HTTP), `input` (request and validation), `reviews` (one attempt and the
//! retry policy), `store` (all SQL). The service consumes no events; it only produces to the
//! REVIEWS stream.

mod api;
mod examples;
mod input;
mod reviews;
mod store;

use messaging::ServiceRuntime;
use service_kit::{App, ServiceConfig, ServiceSpec, StartupError};
use sqlx::migrate::Migrator;

pub use api::{ProductReviews, Review};
pub use input::StarRatingType;

pub const SPEC: ServiceSpec = ServiceSpec {
    name: "catalog-review-service",
    default_port: 8085,
    database: Some("paymsa_review"),
    default_node_id: 6,
    uses_nats: true,
    uses_redis: true,
};

/// The OpenAPI description of the service.
const DESCRIPTION: &str = "Product reviews and their per-product aggregates.";

/// What [`build`] serves; [`openapi_spec`] documents this same type, so the two cannot drift.
type Api = api::ReviewApi;

/// The service's OpenAPI document exactly as served at `/openapi.json` (canonical JSON), built
/// from the API types alone: no database, NATS or Redis. `just openapi` exports it to
/// `openapi/catalog-review-service.json`.
pub fn openapi_spec() -> String {
    service_kit::openapi::spec_json::<Api>(SPEC.name, DESCRIPTION)
}

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/catalog-review-service");

/// Connects the backends, applies migrations, starts the outbox relay and serves the API. The
/// service consumes nothing, so it has no dead-letter worker or API.
pub async fn build(config: ServiceConfig) -> Result<App, StartupError> {
    let rt = ServiceRuntime::start(config, &MIGRATOR, vec![]).await?;
    let outbox = rt.outbox()?;
    let api = api::ReviewApi {
        pool: rt.pool.clone(),
        ids: rt.infra.ids.clone(),
        outbox: outbox.writer,
        nudge: outbox.nudge,
    };
    let api: Api = api;
    rt.serve(api, DESCRIPTION).await
}
