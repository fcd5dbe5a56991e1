//! catalog-review-service: product reviews and their per-product aggregates (docs/architecture.md §3, §6).
//!
//! A review is validated (title 1–100, content 1–3000 characters, rating ONE..FIVE; every bad
//! field reported at once), stored, counted into `product_review_counts` (count and star sum
//! under an optimistic lock on `version`) and announced as `review.product.created`, all in one
//! transaction. Delete is owner-only and idempotent: a soft delete that happens once, uncounts
//! exactly what was counted, and announces `review.product.deleted` with the same rating and
//! creation time. A lost optimistic lock re-runs the whole attempt in a fresh transaction, a
//! bounded number of times.
//!
//! Who may review: with `REVIEW_REQUIRES_PURCHASE` (on by default in jwt mode, off in open
//! mode so the seed's calls work as written) only a member who bought the product, and only
//! once while that review lives. Purchases come from `order.payment.confirmed` through the
//! durable `review-purchases` (`purchases`), so reviewing never calls order-service; a
//! purchase refunded in full (`order.payment.canceled`, durable `review-refunds`) is no longer
//! one, and the review written on it is withdrawn (`refunds`).
//!
//! Files: `api` (HTTP), `input` (request and validation), `reviews` (one attempt and the
//! retry policy), `purchases` (the consumer and the purchase check), `refunds` (the cancels'
//! consumer), `store` (review SQL).

mod api;
mod examples;
mod input;
mod purchases;
mod refunds;
mod reviews;
mod store;

use messaging::{Schema, ServiceRuntime};
use service_kit::{auth::AuthMode, App, ConfigError, ServiceConfig, ServiceSpec, StartupError};

pub use api::{ProductReviews, Review};
pub use input::StarRatingType;

pub const SPEC: ServiceSpec = ServiceSpec {
    uses_nats: true,
    uses_redis: true,
    // name, default port, database and node id: deploy/services.table
    ..ServiceSpec::from_table("catalog-review-service")
};

/// The OpenAPI description of the service.
const DESCRIPTION: &str = "Product reviews and their per-product aggregates.";

/// What [`build`] serves; [`openapi_spec`] documents this same type, so the two cannot drift.
type Api = (api::ReviewApi, messaging::DeadLetterApi);

/// The service's OpenAPI document exactly as served at `/openapi.json` (canonical JSON), built
/// from the API types alone: no database, NATS or Redis. `just openapi` exports it to
/// `openapi/catalog-review-service.json`.
pub fn openapi_spec() -> String {
    service_kit::openapi::spec_json::<Api>(SPEC.name, DESCRIPTION)
}

/// The database: the outbox, the consumers' tables and migrations/catalog-review-service ([`Schema`]).
static SCHEMA: Schema = Schema {
    outbox: true,
    consumers: true,
    own: &sqlx::migrate!("../../migrations/catalog-review-service"),
};

/// `REVIEW_REQUIRES_PURCHASE` (`true`/`false`); unset, it follows the auth mode: required
/// where members are identified (jwt), not where anyone may act as anyone (open).
fn purchase_required(config: &ServiceConfig) -> Result<bool, ConfigError> {
    match config.extra_var("REVIEW_REQUIRES_PURCHASE").as_deref() {
        None => Ok(config.auth.mode == AuthMode::Jwt),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(ConfigError::new(
            "REVIEW_REQUIRES_PURCHASE",
            format!("must be true or false (got {other:?})"),
        )),
    }
}

/// Connects the backends, applies migrations, starts the outbox relay and the purchase
/// consumer, and serves the API.
pub async fn build(config: ServiceConfig) -> Result<App, StartupError> {
    let purchase_required = purchase_required(&config)?;
    let rt = ServiceRuntime::start(config, &SCHEMA).await?;
    purchases::spawn(&rt).await?;
    let outbox = rt.outbox()?;
    refunds::spawn(&rt, outbox.clone(), purchase_required).await?;
    let api = api::ReviewApi {
        pool: rt.pool.clone(),
        ids: rt.infra.ids.clone(),
        outbox,
        purchase_required,
    };
    let api: Api = (api, rt.bus.dead_letter_api());
    rt.serve(api, DESCRIPTION).await
}
