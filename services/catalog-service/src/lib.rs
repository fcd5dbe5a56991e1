//! catalog-service: products of active sellers.
//!
//! Products are created only for sellers the catalog has seen activated (`seller.activated`,
//! consumer `catalog-active-sellers`); every change emits `catalog.product.created/updated`
//! through the outbox, carrying the row version so consumers ignore stale updates.

mod access;
mod active_sellers;
mod api;
mod creations;
mod examples;
mod listing;
mod store;
mod validation;

use messaging::{ConsumerSpec, Schema, ServiceRuntime};
use service_kit::{App, ServiceConfig, ServiceSpec, StartupError};

pub const SPEC: ServiceSpec = ServiceSpec {
    uses_nats: true,
    uses_redis: true,
    // name, default port, database and node id: deploy/services.table
    ..ServiceSpec::from_table("catalog-service")
};

/// The OpenAPI description of the service.
const DESCRIPTION: &str = "Products of active sellers.";

/// What [`build`] serves; [`openapi_spec`] documents this same type, so the two cannot drift.
type Api = (
    api::CatalogApi,
    listing::ListingApi,
    messaging::DeadLetterApi,
);

/// The service's OpenAPI document exactly as served at `/openapi.json` (canonical JSON), built
/// from the API types alone: no database, NATS or Redis. `just openapi` exports it to
/// `openapi/catalog-service.json`.
pub fn openapi_spec() -> String {
    service_kit::openapi::spec_json::<Api>(SPEC.name, DESCRIPTION)
}

/// The database: the outbox, the consumers' tables and migrations/catalog-service ([`Schema`]).
static SCHEMA: Schema = Schema {
    outbox: true,
    consumers: true,
    own: &sqlx::migrate!("../../migrations/catalog-service"),
};

/// Connects the backends, applies migrations, starts the outbox relay and the active-seller
/// consumer, and serves the API.
pub async fn build(config: ServiceConfig) -> Result<App, StartupError> {
    let rt = ServiceRuntime::start(config, &SCHEMA).await?;
    let outbox = rt.outbox()?;
    rt.consume(
        ConsumerSpec::new(
            active_sellers::CONSUMER,
            events::topology::SELLERS,
            vec![<events::SellerActivated as events::Event>::TYPE],
        ),
        active_sellers::RecordActiveSeller {
            pool: rt.pool.clone(),
        },
    )
    .await?;
    let api = api::CatalogApi {
        pool: rt.pool.clone(),
        ids: rt.infra.ids.clone(),
        outbox,
    };
    let listing = listing::ListingApi {
        pool: rt.pool.clone(),
    };
    let dead_letters = rt.bus.dead_letter_api();
    let api: Api = (api, listing, dead_letters);
    rt.serve(api, DESCRIPTION).await
}
