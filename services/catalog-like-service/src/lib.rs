//! catalog-like-service: members' likes of products and the per-product counts (docs/architecture.md §3, §6).
//!
//! A like inserts `(product, member)` once (the primary key makes a repeat a no-op answered
//! with 200), bumps `product_like_counts` under an optimistic lock on `version`, and appends
//! `like.product.liked` to the outbox, all in one transaction; an unlike does the reverse and
//! carries the original like's time so hot-catalog can remove exactly what it added. A lost
//! optimistic lock re-runs the whole attempt in a fresh transaction, a bounded number of times.
//!
//! Files: `api` (HTTP), `likes` (one attempt and the retry policy), `store` (all SQL).
//! The service consumes no events; it only produces to the LIKES stream.

mod api;
mod examples;
mod likes;
mod store;

use messaging::{Schema, ServiceRuntime};
use service_kit::{App, ServiceConfig, ServiceSpec, StartupError};

pub use api::{LikeStatus, ProductLikeCount};

pub const SPEC: ServiceSpec = ServiceSpec {
    uses_nats: true,
    uses_redis: true,
    // name, default port, database and node id: deploy/services.table
    ..ServiceSpec::from_table("catalog-like-service")
};

/// The OpenAPI description of the service.
const DESCRIPTION: &str = "Members' likes of products and the per-product like counts.";

/// What [`build`] serves; [`openapi_spec`] documents this same type, so the two cannot drift.
type Api = api::LikeApi;

/// The service's OpenAPI document exactly as served at `/openapi.json` (canonical JSON), built
/// from the API types alone: no database, NATS or Redis. `just openapi` exports it to
/// `openapi/catalog-like-service.json`.
pub fn openapi_spec() -> String {
    service_kit::openapi::spec_json::<Api>(SPEC.name, DESCRIPTION)
}

/// The database: the outbox and migrations/catalog-like-service ([`Schema`]).
static SCHEMA: Schema = Schema {
    outbox: true,
    consumers: false,
    own: &sqlx::migrate!("../../migrations/catalog-like-service"),
};

/// Connects the backends, applies migrations, starts the outbox relay and serves the API. The
/// service consumes nothing, so it has no dead-letter worker or API.
pub async fn build(config: ServiceConfig) -> Result<App, StartupError> {
    let rt = ServiceRuntime::start(config, &SCHEMA).await?;
    let outbox = rt.outbox()?;
    let api = api::LikeApi {
        pool: rt.pool.clone(),
        outbox,
    };
    let api: Api = api;
    rt.serve(api, DESCRIPTION).await
}
