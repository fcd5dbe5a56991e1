//! wallet-service: Seller wallets and settlement of paid orders.
//!
//! A library hosting the service (`build` → [`App`]) so tests run it in-process on port 0;
//! `main.rs` only calls [`service_kit::run_main`].

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

/// Connects the service's backends, applies its migrations and starts serving.
pub async fn build(config: ServiceConfig) -> Result<App, StartupError> {
    let infra = Infra::connect(&config, Some(&MIGRATOR)).await?;
    let metrics = Metrics::new(config.service);
    let parts = ServiceParts {
        api: (),
        pages: None,
        description: "Seller wallets and settlement of paid orders.",
    };
    Ok(App::serve(&config, &infra, metrics, Shutdown::new(), parts).await?)
}
