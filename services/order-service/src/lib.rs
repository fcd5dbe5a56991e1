//! order-service: Checkout, payment confirmation with the PSP and recovery of unknown outcomes.
//!
//! A library hosting the service (`build` → [`App`]) so tests run it in-process on port 0;
//! `main.rs` only calls [`service_kit::run_main`].

use service_kit::{
    App, Infra, Metrics, ServiceConfig, ServiceParts, ServiceSpec, Shutdown, StartupError,
};
use sqlx::migrate::Migrator;

pub const SPEC: ServiceSpec = ServiceSpec {
    name: "order-service",
    default_port: 8080,
    database: Some("paymsa_order"),
    default_node_id: 1,
    uses_nats: true,
    uses_redis: true,
};

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/order-service");

/// Connects the service's backends, applies its migrations and starts serving.
pub async fn build(config: ServiceConfig) -> Result<App, StartupError> {
    let infra = Infra::connect(&config, Some(&MIGRATOR)).await?;
    let metrics = Metrics::new(config.service);
    let parts = ServiceParts {
        api: (),
        pages: None,
        description:
            "Checkout, payment confirmation with the PSP and recovery of unknown outcomes.",
    };
    Ok(App::serve(&config, &infra, metrics, Shutdown::new(), parts).await?)
}
