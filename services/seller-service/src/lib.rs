//! seller-service: seller registration and the onboarding saga.
//!
//! `POST /api/sellers` stores a PENDING seller and `seller.registered` in one transaction;
//! wallet-service creates the wallet and announces `wallet.created`; the `seller-activation`
//! consumer makes the seller ACTIVE and emits `seller.activated` for the catalog.

mod activation;
mod api;
mod store;

use messaging::{spawn_consumer, ConsumerSpec, EventBus};
use outbox::{OutboxRelay, OutboxWriter, RelayConfig};
use service_kit::{
    App, Infra, Metrics, ServiceConfig, ServiceParts, ServiceSpec, Shutdown, StartupError,
};
use sqlx::migrate::Migrator;

pub use api::{RegisterSeller, Seller};

pub const SPEC: ServiceSpec = ServiceSpec {
    name: "seller-service",
    default_port: 8083,
    database: Some("paymsa_seller"),
    default_node_id: 4,
    uses_nats: true,
    uses_redis: true,
};

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/seller-service");

/// Connects the service's backends, applies its migrations, starts the outbox relay and the
/// activation consumer, and serves the API.
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
        vec![activation::CONSUMER],
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
            activation::CONSUMER,
            events::topology::WALLETS,
            vec![<events::WalletCreated as events::Event>::TYPE],
        ),
        activation::ActivateSeller {
            pool: pool.clone(),
            outbox: outbox.clone(),
            nudge: nudge.clone(),
        },
        &metrics,
        &shutdown,
    )
    .await?;
    let api = api::SellerApi {
        pool,
        ids: infra.ids.clone(),
        outbox,
        nudge,
    };
    let parts = ServiceParts {
        api: (api, bus.dead_letter_api()),
        pages: None,
        description: "Seller registration and the onboarding saga.",
    };
    Ok(App::serve(&config, &infra, metrics, shutdown, parts).await?)
}
