//! catalog-service: products of active sellers.
//!
//! Products are created only for sellers the catalog has seen activated (`seller.activated`,
//! consumer `catalog-active-sellers`); every change emits `catalog.product.created/updated`
//! through the outbox, carrying the row version so consumers ignore stale updates.

mod active_sellers;
mod api;
mod store;

use messaging::{spawn_consumer, ConsumerSpec, EventBus};
use outbox::{OutboxRelay, OutboxWriter, RelayConfig};
use service_kit::{
    App, Infra, Metrics, ServiceConfig, ServiceParts, ServiceSpec, Shutdown, StartupError,
};
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

/// Connects the service's backends, applies its migrations, starts the outbox relay and the
/// active-seller consumer, and serves the API.
pub async fn build(config: ServiceConfig) -> Result<App, StartupError> {
    let infra = Infra::connect(&config, Some(&MIGRATOR)).await?;
    let metrics = Metrics::new(config.service);
    let shutdown = Shutdown::new();
    let pool = infra.pool()?;
    let bus = EventBus::start(
        &config,
        &infra,
        &metrics,
        &shutdown,
        vec![active_sellers::CONSUMER],
    )
    .await?;
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
    spawn_consumer(
        bus.js.clone(),
        &bus.topology,
        ConsumerSpec::new(
            active_sellers::CONSUMER,
            events::topology::SELLERS,
            vec![<events::SellerActivated as events::Event>::TYPE],
        ),
        active_sellers::RecordActiveSeller { pool: pool.clone() },
        &metrics,
        &shutdown,
    )
    .await?;
    let api = api::CatalogApi {
        pool,
        ids: infra.ids.clone(),
        outbox,
        nudge,
    };
    let parts = ServiceParts {
        api: (api, bus.dead_letter_api()),
        pages: None,
        description: "Products of active sellers.",
    };
    Ok(App::serve(&config, &infra, metrics, shutdown, parts).await?)
}
