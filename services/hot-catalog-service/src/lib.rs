//! hot-catalog-service: the hot-products ranking from likes, reviews and purchases.
//!
//! - [`score`]: the model (docs/architecture.md §6). Each like, review and paid order line contributes its
//!   weight, halving per half-life since it happened; scores are stored relative to an epoch
//!   so the ranking never needs rescoring, and unlike / review delete subtract exactly what
//!   was added. Weights and half-life come from [`settings`].
//! - [`ranking`]: the Redis side — a sorted set per NATS namespace, updated by a Lua script
//!   that dedupes the event and applies its contributions in one atomic step.
//! - [`consumers`]: durables `hot-catalog-likes`, `hot-catalog-reviews`, `hot-catalog-orders`
//!   (scores; purchases and their cancels through [`purchases`]) and `hot-catalog-products` (the detail cache of [`details`], in Postgres).
//! - [`api`]: `GET /api/hot-products?limit=` in rank order with details. Only products the
//!   catalog announced (a row in `product_details`) are shown: likes and reviews are accepted
//!   for any product number, and those of products the catalog never had are scored but kept
//!   out of the answer (skipped at read time, scanning at most [`api::MAX_SCAN`] entries deep).
//! - [`clock`]: where "now" comes from; [`build_with_clock`] lets tests move it.
//!
//! A library hosting the service (`build` → [`App`]) so tests run it in-process on port 0;
//! `main.rs` only calls [`service_kit::run_main`].

pub mod api;
pub mod clock;
pub mod consumers;
pub mod details;
mod examples;
pub mod parked;
pub mod purchases;
pub mod purged;
pub mod ranking;
pub mod score;
pub mod settings;

use std::sync::Arc;

use messaging::{Schema, ServiceRuntime};
use service_kit::{App, ServiceConfig, ServiceSpec, StartupError};

pub use clock::{Clock, ManualClock, SystemClock};
pub use ranking::Ranking;
pub use score::{ScoreModel, Weights};

pub const SPEC: ServiceSpec = ServiceSpec {
    uses_nats: true,
    uses_redis: true,
    // name, default port, database and node id: deploy/services.table
    ..ServiceSpec::from_table("hot-catalog-service")
};

/// The OpenAPI description of the service.
const DESCRIPTION: &str = "Hot-products ranking from likes, reviews and purchases.";

/// What [`build`] serves; [`openapi_spec`] documents this same type, so the two cannot drift.
type Api = (api::HotProductsApi, messaging::DeadLetterApi);

/// The service's OpenAPI document exactly as served at `/openapi.json` (canonical JSON), built
/// from the API types alone: no database, NATS or Redis. `just openapi` exports it to
/// `openapi/hot-catalog-service.json`.
pub fn openapi_spec() -> String {
    service_kit::openapi::spec_json::<Api>(SPEC.name, DESCRIPTION)
}

/// The database: the consumers' tables and migrations/hot-catalog-service ([`Schema`]).
static SCHEMA: Schema = Schema {
    outbox: false,
    consumers: true,
    own: &sqlx::migrate!("../../migrations/hot-catalog-service"),
};

/// Connects the service's backends, applies its migrations, starts the consumers and serves.
pub async fn build(config: ServiceConfig) -> Result<App, StartupError> {
    build_with_clock(config, Arc::new(SystemClock)).await
}

/// [`build`] with another clock, e.g. a [`ManualClock`] to read the ranking at chosen times.
pub async fn build_with_clock(
    config: ServiceConfig,
    clock: Arc<dyn Clock>,
) -> Result<App, StartupError> {
    let model = settings::score_model(&config)?;
    let rt = ServiceRuntime::start(config, &SCHEMA).await?;
    let ranking = Ranking::new(
        rt.infra.redis_connection()?,
        &rt.config.nats_namespace,
        model,
    );
    consumers::spawn_all(&rt, &ranking, &clock).await?;
    let api = api::HotProductsApi {
        ranking,
        pool: rt.pool.clone(),
        clock,
    };
    let dead_letters = rt.bus.dead_letter_api();
    let api: Api = (api, dead_letters);
    rt.serve(api, DESCRIPTION).await
}
