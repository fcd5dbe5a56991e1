//! catalog-review-service: Product reviews and their counts.
//!
//! A library hosting the service (`build` → [`App`]) so tests run it in-process on port 0;
//! `main.rs` only calls [`service_kit::run_main`].

use service_kit::{
    App, Infra, Metrics, ServiceConfig, ServiceParts, ServiceSpec, Shutdown, StartupError,
};
use sqlx::migrate::Migrator;

pub const SPEC: ServiceSpec = ServiceSpec {
    name: "catalog-review-service",
    default_port: 8085,
    database: Some("paymsa_review"),
    default_node_id: 6,
    uses_nats: true,
    uses_redis: true,
};

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/catalog-review-service");

/// Connects the service's backends, applies its migrations and starts serving.
pub async fn build(config: ServiceConfig) -> Result<App, StartupError> {
    let infra = Infra::connect(&config, Some(&MIGRATOR)).await?;
    let metrics = Metrics::new(config.service);
    let parts = ServiceParts {
        api: (),
        pages: None,
        description: "Product reviews and their counts.",
    };
    Ok(App::serve(&config, &infra, metrics, Shutdown::new(), parts).await?)
}
