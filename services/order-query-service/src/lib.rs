//! order-query-service: Members' order history (CQRS read model).
//!
//! A library hosting the service (`build` → [`App`]) so tests run it in-process on port 0;
//! `main.rs` only calls [`service_kit::run_main`].

use service_kit::{
    App, Infra, Metrics, ServiceConfig, ServiceParts, ServiceSpec, Shutdown, StartupError,
};
use sqlx::migrate::Migrator;

pub const SPEC: ServiceSpec = ServiceSpec {
    name: "order-query-service",
    default_port: 8087,
    database: Some("paymsa_order_query"),
    default_node_id: 8,
    uses_nats: true,
    uses_redis: false,
};

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/order-query-service");

/// Connects the service's backends, applies its migrations and starts serving.
pub async fn build(config: ServiceConfig) -> Result<App, StartupError> {
    let infra = Infra::connect(&config, Some(&MIGRATOR)).await?;
    let metrics = Metrics::new(config.service);
    let parts = ServiceParts {
        api: (),
        pages: None,
        description: "Members' order history (CQRS read model).",
    };
    Ok(App::serve(&config, &infra, metrics, Shutdown::new(), parts).await?)
}
