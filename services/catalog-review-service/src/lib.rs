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
mod input;
mod reviews;
mod store;

use messaging::EventBus;
use outbox::{OutboxRelay, OutboxWriter, RelayConfig};
use service_kit::{
    App, Infra, Metrics, ServiceConfig, ServiceParts, ServiceSpec, Shutdown, StartupError,
};
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

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/catalog-review-service");

/// Connects the service's backends, applies its migrations, provisions the streams, starts the
/// outbox relay and serves the API.
pub async fn build(config: ServiceConfig) -> Result<App, StartupError> {
    let infra = Infra::connect(&config, Some(&MIGRATOR)).await?;
    let metrics = Metrics::new(config.service);
    let shutdown = Shutdown::new();
    let pool = infra.pool()?;
    // No consumers: no dead-letter worker (and no dead-letter API, whose tables this
    // service's database does not have).
    let bus = EventBus::start(&config, &infra, &metrics, &shutdown, vec![]).await?;
    let relay = RelayConfig::new(config.service);
    let outbox = OutboxWriter::new(infra.ids.clone(), bus.topology.clone(), relay.shards);
    let nudge = OutboxRelay::spawn(
        relay,
        pool.clone(),
        bus.js.clone(),
        infra.redis_connection()?,
        &metrics,
        &shutdown,
    );
    let api = api::ReviewApi {
        pool,
        ids: infra.ids.clone(),
        outbox,
        nudge,
    };
    let parts = ServiceParts {
        api,
        pages: None,
        description: "Product reviews and their per-product aggregates.",
    };
    Ok(App::serve(&config, &infra, metrics, shutdown, parts).await?)
}
