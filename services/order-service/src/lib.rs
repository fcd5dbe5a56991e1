//! order-service: checkout, payment confirmation with the PSP, and recovery of unknown outcomes.
//!
//! `POST /api/checkouts` prices the member's products at the catalog and stores one payment
//! event with a payment order per line. `POST /api/payments/confirm` checks the amount, moves
//! the lines to EXECUTING, calls the PSP with `Idempotency-Key = orderId`, and commits the
//! outcome with its history and event (`order.payment.confirmed` / `.failed`) through the
//! outbox. A recovery job re-drives UNKNOWN and stale EXECUTING payments; the
//! `order-wallet-completion` consumer records settlement. `/`, `/success`, `/fail` are the
//! browser flow.

mod api;
mod catalog;
mod checkout;
mod pages;
mod payments;
pub mod recovery;
mod settings;
mod status;
mod store;
mod toss;
mod wallet_completion;

use messaging::{spawn_consumer, ConsumerSpec, EventBus};
use outbox::{OutboxRelay, OutboxWriter, RelayConfig};
use service_kit::{
    App, Infra, Metrics, ServiceConfig, ServiceParts, ServiceSpec, Shutdown, StartupError,
};
use sqlx::migrate::Migrator;

pub use settings::OrderSettings;

pub const SPEC: ServiceSpec = ServiceSpec {
    name: "order-service",
    default_port: 8080,
    database: Some("paymsa_order"),
    default_node_id: 1,
    uses_nats: true,
    uses_redis: true,
};

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/order-service");

/// Connects the backends, applies migrations, starts the outbox relay, the wallet-completion
/// consumer and the recovery job, and serves the API and pages.
pub async fn build(config: ServiceConfig) -> Result<App, StartupError> {
    let settings = OrderSettings::from_config(&config)?;
    let infra = Infra::connect(&config, Some(&MIGRATOR)).await?;
    let metrics = Metrics::new(config.service);
    let shutdown = Shutdown::new();
    let pool = infra.pool()?;
    let bus = EventBus::start(
        &config,
        &infra,
        &metrics,
        &shutdown,
        vec![wallet_completion::CONSUMER],
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
            wallet_completion::CONSUMER,
            events::topology::WALLETS,
            vec![<events::WalletSettled as events::Event>::TYPE],
        ),
        wallet_completion::MarkWalletDone { pool: pool.clone() },
        &metrics,
        &shutdown,
    )
    .await?;
    let toss = toss::TossClient::new(
        &settings.psp_url,
        &settings.psp_secret_key,
        settings.psp_timeout,
    )
    .map_err(StartupError::Other)?;
    let payments = payments::Payments {
        pool,
        ids: infra.ids.clone(),
        outbox,
        nudge,
        toss,
    };
    recovery::spawn(
        payments.clone(),
        recovery::RecoveryConfig {
            interval: settings.recovery_interval,
            stale_after: settings.recovery_stale_after,
            batch: 50,
        },
        &shutdown,
    );
    let catalog = catalog::CatalogClient::new(&settings.catalog_url, settings.catalog_timeout)
        .map_err(StartupError::Other)?;
    let api = api::OrderApi { payments, catalog };
    let pages = pages::Pages {
        api: api.clone(),
        settings: pages::PageSettings {
            public_url: settings.public_url.clone(),
            psp_window_url: settings.psp_window_url.clone(),
            toss_client_key: settings.toss_client_key.clone(),
        },
    };
    let parts = ServiceParts {
        api: (api, pages, bus.dead_letter_api()),
        pages: None,
        description:
            "Checkout, payment confirmation with the PSP and recovery of unknown outcomes.",
    };
    Ok(App::serve(&config, &infra, metrics, shutdown, parts).await?)
}
