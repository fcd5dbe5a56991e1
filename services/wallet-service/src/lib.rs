//! wallet-service: seller wallets and settlement of paid orders.
//!
//! The `wallet-onboarding` consumer creates a wallet per registered seller and announces
//! `wallet.created`; `wallet-settlement` credits sellers for paid orders and announces
//! `wallet.settled`; `GET /api/wallets/sellers/{sellerNo}` shows balance and ledger.

mod api;
mod onboarding;
mod settlement;
mod store;

use messaging::{spawn_consumer, ConsumerSpec, EventBus};
use outbox::{OutboxRelay, OutboxWriter, RelayConfig};
use service_kit::{
    App, Infra, Metrics, ServiceConfig, ServiceParts, ServiceSpec, Shutdown, StartupError,
};
use sqlx::migrate::Migrator;

pub const SPEC: ServiceSpec = ServiceSpec {
    name: "wallet-service",
    default_port: 8082,
    database: Some("paymsa_wallet"),
    default_node_id: 3,
    uses_nats: true,
    uses_redis: true,
};

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/wallet-service");

/// Connects the service's backends, applies its migrations, starts the outbox relay and the
/// consumers, and serves the API.
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
        vec![onboarding::CONSUMER, settlement::CONSUMER],
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
            onboarding::CONSUMER,
            events::topology::SELLERS,
            vec![<events::SellerRegistered as events::Event>::TYPE],
        ),
        onboarding::CreateWallet {
            pool: pool.clone(),
            ids: infra.ids.clone(),
            outbox: outbox.clone(),
            nudge: nudge.clone(),
        },
        &metrics,
        &shutdown,
    )
    .await?;
    spawn_consumer(
        bus.js.clone(),
        &bus.topology,
        ConsumerSpec::new(
            settlement::CONSUMER,
            events::topology::ORDERS,
            vec![<events::PaymentConfirmed as events::Event>::TYPE],
        ),
        settlement::SettleOrder {
            pool: pool.clone(),
            ids: infra.ids.clone(),
            outbox,
            nudge,
        },
        &metrics,
        &shutdown,
    )
    .await?;
    let parts = ServiceParts {
        api: (api::WalletApi { pool }, bus.dead_letter_api()),
        pages: None,
        description: "Seller wallets and settlement of paid orders.",
    };
    Ok(App::serve(&config, &infra, metrics, shutdown, parts).await?)
}
