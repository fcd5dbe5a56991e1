//! catalog-like-service: members' likes of products and the per-product counts (DESIGN §3, §6).
//!
//! A like inserts `(product, member)` once (the primary key makes a repeat a no-op answered
//! with 200), bumps `product_like_counts` under an optimistic lock on `version`, and appends
//! `like.product.liked` to the outbox, all in one transaction; an unlike does the reverse and
//! carries the original like's time so hot-catalog can remove exactly what it added. A lost
//! optimistic lock re-runs the whole attempt in a fresh transaction, a bounded number of times.
//!
//! Files: `api` (HTTP), `likes` (one attempt and the retry policy), `store` (all SQL).
//! The service consumes no events; it only produces to the LIKES stream.

mod api;
mod likes;
mod store;

use messaging::EventBus;
use outbox::{OutboxRelay, OutboxWriter, RelayConfig};
use service_kit::{
    App, Infra, Metrics, ServiceConfig, ServiceParts, ServiceSpec, Shutdown, StartupError,
};
use sqlx::migrate::Migrator;

pub use api::{LikeStatus, ProductLikeCount};

pub const SPEC: ServiceSpec = ServiceSpec {
    name: "catalog-like-service",
    default_port: 8086,
    database: Some("paymsa_like"),
    default_node_id: 7,
    uses_nats: true,
    uses_redis: true,
};

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/catalog-like-service");

/// Connects the service's backends, applies its migrations, provisions the streams, starts the
/// outbox relay and serves the API.
pub async fn build(config: ServiceConfig) -> Result<App, StartupError> {
    let infra = Infra::connect(&config, Some(&MIGRATOR)).await?;
    let metrics = Metrics::new(config.service);
    let shutdown = Shutdown::new();
    let pool = infra.pool()?;
    // No consumers: no dead-letter worker (and no dead-letter API, whose tables this
    // service's database does not have).
    let bus = EventBus::start(&config, &infra, &metrics, &shutdown, vec![]).await?;
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
    let api = api::LikeApi {
        pool,
        outbox,
        nudge,
    };
    let parts = ServiceParts {
        api,
        pages: None,
        description: "Members' likes of products and the per-product like counts.",
    };
    Ok(App::serve(&config, &infra, metrics, shutdown, parts).await?)
}
