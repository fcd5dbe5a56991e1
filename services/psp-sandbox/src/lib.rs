//! psp-sandbox: A Toss-compatible PSP for local runs and tests.
//!
//! A library hosting the service (`build` → [`App`]) so tests run it in-process on port 0;
//! `main.rs` only calls [`service_kit::run_main`].

use service_kit::{
    App, Infra, Metrics, ServiceConfig, ServiceParts, ServiceSpec, Shutdown, StartupError,
};

pub const SPEC: ServiceSpec = ServiceSpec {
    name: "psp-sandbox",
    default_port: 8090,
    database: None,
    default_node_id: 9,
    uses_nats: false,
    uses_redis: false,
};

/// Connects the service's backends, applies its migrations and starts serving.
pub async fn build(config: ServiceConfig) -> Result<App, StartupError> {
    let infra = Infra::connect(&config, None).await?;
    let metrics = Metrics::new(config.service);
    let parts = ServiceParts {
        api: (),
        pages: None,
        description: "A Toss-compatible PSP for local runs and tests.",
    };
    Ok(App::serve(&config, &infra, metrics, Shutdown::new(), parts).await?)
}
