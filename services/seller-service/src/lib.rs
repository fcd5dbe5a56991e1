//! seller-service: Seller registration and the onboarding saga.
//!
//! A library hosting the service (`build` → [`App`]) so tests run it in-process on port 0;
//! `main.rs` only calls [`service_kit::run_main`].

use service_kit::{
    App, Infra, Metrics, ServiceConfig, ServiceParts, ServiceSpec, Shutdown, StartupError,
};
use sqlx::migrate::Migrator;

pub const SPEC: ServiceSpec = ServiceSpec {
    name: "seller-service",
    default_port: 8083,
    database: Some("paymsa_seller"),
    default_node_id: 4,
    uses_nats: true,
    uses_redis: true,
};

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/seller-service");

/// Connects the service's backends, applies its migrations and starts serving.
pub async fn build(config: ServiceConfig) -> Result<App, StartupError> {
    let infra = Infra::connect(&config, Some(&MIGRATOR)).await?;
    let metrics = Metrics::new(config.service);
    let parts = ServiceParts {
        api: (),
        pages: None,
        description: "Seller registration and the onboarding saga.",
    };
    Ok(App::serve(&config, &infra, metrics, Shutdown::new(), parts).await?)
}
