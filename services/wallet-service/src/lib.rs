//! wallet-service: seller wallets and settlement of paid orders.
//!
//! The `wallet-onboarding` consumer creates a wallet per registered seller and announces
//! `wallet.created`; `wallet-settlement` credits sellers for paid orders and announces
//! `wallet.settled`; `GET /api/wallets/sellers/{sellerNo}` shows balance and ledger.

mod api;
mod onboarding;
mod settlement;
mod store;

use messaging::{ConsumerSpec, ServiceRuntime};
use service_kit::{App, ServiceConfig, ServiceSpec, StartupError};
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

/// Connects the backends, applies migrations, starts the outbox relay and the consumers, and
/// serves the API.
pub async fn build(config: ServiceConfig) -> Result<App, StartupError> {
    let consumers = vec![onboarding::CONSUMER, settlement::CONSUMER];
    let rt = ServiceRuntime::start(config, &MIGRATOR, consumers).await?;
    let outbox = rt.outbox()?;
    rt.consume(
        ConsumerSpec::new(
            onboarding::CONSUMER,
            events::topology::SELLERS,
            vec![<events::SellerRegistered as events::Event>::TYPE],
        ),
        onboarding::CreateWallet {
            pool: rt.pool.clone(),
            ids: rt.infra.ids.clone(),
            outbox: outbox.writer.clone(),
            nudge: outbox.nudge.clone(),
        },
    )
    .await?;
    rt.consume(
        ConsumerSpec::new(
            settlement::CONSUMER,
            events::topology::ORDERS,
            vec![<events::PaymentConfirmed as events::Event>::TYPE],
        ),
        settlement::SettleOrder {
            pool: rt.pool.clone(),
            ids: rt.infra.ids.clone(),
            outbox: outbox.writer,
            nudge: outbox.nudge,
        },
    )
    .await?;
    let api = api::WalletApi {
        pool: rt.pool.clone(),
    };
    let dead_letters = rt.bus.dead_letter_api();
    rt.serve(
        (api, dead_letters),
        "Seller wallets and settlement of paid orders.",
    )
    .await
}
