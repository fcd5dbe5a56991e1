//! seller-service: seller registration and the onboarding saga.
//!
//! `POST /api/sellers` stores a PENDING seller and `seller.registered` in one transaction;
//! wallet-service creates the wallet and announces `wallet.created`; the `seller-activation`
//! consumer makes the seller ACTIVE and emits `seller.activated` for the catalog.

mod activation;
mod api;
mod examples;
mod status;
mod store;

use messaging::{ConsumerSpec, Schema, ServiceRuntime};
use service_kit::{App, ServiceConfig, ServiceSpec, StartupError};

pub use api::{RegisterSeller, Seller};

pub const SPEC: ServiceSpec = ServiceSpec {
    uses_nats: true,
    uses_redis: true,
    // name, default port, database and node id: deploy/services.table
    ..ServiceSpec::from_table("seller-service")
};

/// The OpenAPI description of the service.
const DESCRIPTION: &str = "Seller registration and the onboarding saga.";

/// What [`build`] serves; [`openapi_spec`] documents this same type, so the two cannot drift.
type Api = (api::SellerApi, messaging::DeadLetterApi);

/// The service's OpenAPI document exactly as served at `/openapi.json` (canonical JSON), built
/// from the API types alone: no database, NATS or Redis. `just openapi` exports it to
/// `openapi/seller-service.json`.
pub fn openapi_spec() -> String {
    service_kit::openapi::spec_json::<Api>(SPEC.name, DESCRIPTION)
}

/// The database: the outbox, the consumers' tables and migrations/seller-service ([`Schema`]).
static SCHEMA: Schema = Schema {
    outbox: true,
    consumers: true,
    own: &sqlx::migrate!("../../migrations/seller-service"),
};

/// Connects the backends, applies migrations, starts the outbox relay and the activation
/// consumer, and serves the API.
pub async fn build(config: ServiceConfig) -> Result<App, StartupError> {
    let rt = ServiceRuntime::start(config, &SCHEMA).await?;
    let outbox = rt.outbox()?;
    rt.consume(
        ConsumerSpec::new(
            activation::CONSUMER,
            events::topology::WALLETS,
            vec![<events::WalletCreated as events::Event>::TYPE],
        ),
        activation::ActivateSeller {
            pool: rt.pool.clone(),
            outbox: outbox.clone(),
        },
    )
    .await?;
    let api = api::SellerApi {
        pool: rt.pool.clone(),
        ids: rt.infra.ids.clone(),
        outbox,
    };
    let dead_letters = rt.bus.dead_letter_api();
    let api: Api = (api, dead_letters);
    rt.serve(api, DESCRIPTION).await
}
