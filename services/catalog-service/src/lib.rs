//! catalog-service: products of active sellers.
//!
//! Products are created only for sellers the catalog has seen activated (`seller.activated`,
//! consumer `catalog-active-sellers`); every change emits `catalog.product.created/updated`
//! through the outbox, carrying the row version so consumers ignore stale updates.

mod active_sellers;
mod api;
mod store;

use messaging::{ConsumerSpec, ServiceRuntime};
use service_kit::{App, ServiceConfig, ServiceSpec, StartupError};
use sqlx::migrate::Migrator;

pub const SPEC: ServiceSpec = ServiceSpec {
    name: "catalog-service",
    default_port: 8081,
    database: Some("paymsa_catalog"),
    default_node_id: 2,
    uses_nats: true,
    uses_redis: true,
};

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/catalog-service");

/// Connects the backends, applies migrations, starts the outbox relay and the active-seller
/// consumer, and serves the API.
pub async fn build(config: ServiceConfig) -> Result<App, StartupError> {
    let rt = ServiceRuntime::start(config, &MIGRATOR, vec![active_sellers::CONSUMER]).await?;
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
        outbox: outbox.writer,
        nudge: outbox.nudge,
    };
    let dead_letters = rt.bus.dead_letter_api();
    rt.serve((api, dead_letters), "Products of active sellers.")
        .await
}
