//! order-query-service: members' order history, a CQRS read model (docs/architecture.md §6 "Order query").
//!
//! - [`projection`]: two durable consumers feed the model from events only:
//!   `order-query-projection` (ORDERS: `order.payment.confirmed`, `order.payment.failed`,
//!   `order.payment.canceled`) and
//!   `order-query-wallet` (WALLETS: `wallet.settled`). Idempotent (`apply_once`) and order-safe
//!   (PAID beats FAILED, newer beats older, a settlement may come before its order).
//! - [`store`]: the SQL: one `order_views` row per payment event plus `order_view_lines`,
//!   read with keyset pagination over `(member_no, created_at desc, payment_event_no desc)`;
//!   [`view_writes`]: the writes of paid orders and settlements, shared by one event and a
//!   batch (`projection_batch`).
//! - [`cursor`]: the `(createdDateTime, paymentEventNo)` cursor (epoch ms or ISO-8601) and limit.
//! - [`api`] / `views`: `GET /api/orders/members/{memberNo}` (pages with `nextCursor`) and
//!   `GET /api/orders/payment-events/{paymentEventNo}/members/{memberNo}`.
//! - `admin`: `POST /admin/rebuild` (admin token) drops the model and replays the streams.
//!
//! Rebuilding by hand is the same thing: stop the service, empty `order_views`,
//! `order_view_lines`, `wallet_settlements`, `order_cancels`, `order_cancel_lines` and the two
//! consumers' `processed_events`, delete the two durables (`nats consumer rm ORDERS order-query-projection`, `… WALLETS
//! order-query-wallet`) and start the service: the durables are re-created at the start of
//! the streams (Limits retention with `max_age`, so everything not yet aged out is replayed).
//!
//! A library hosting the service (`build` → [`App`]) so tests run it in-process on port 0;
//! `main.rs` only calls [`service_kit::run_main`]. The keyset benchmark is
//! `benches/keyset_pages.rs`.

mod admin;
mod api;
pub mod cancels;
mod cursor;
mod examples;
pub mod projection;
mod projection_batch;
pub mod store;
pub mod view_writes;
mod views;

use messaging::{ConsumerSpec, GroupCommit, Schema, ServiceRuntime};
use service_kit::{App, ServiceConfig, ServiceSpec, StartupError};

use events::Event;

pub use views::{Order, OrderLine, OrderPage, OrderStatus, PageCursor};

pub const SPEC: ServiceSpec = ServiceSpec {
    uses_nats: true,
    uses_redis: false,
    // name, default port, database and node id: deploy/services.table
    ..ServiceSpec::from_table("order-query-service")
};

/// The OpenAPI description of the service.
const DESCRIPTION: &str = "Members' order history (CQRS read model).";

/// What [`build`] serves; [`openapi_spec`] documents this same type, so the two cannot drift.
type Api = (
    api::OrderQueryApi,
    admin::AdminApi,
    messaging::DeadLetterApi,
);

/// The service's OpenAPI document exactly as served at `/openapi.json` (canonical JSON), built
/// from the API types alone: no database, NATS or Redis. `just openapi` exports it to
/// `openapi/order-query-service.json`.
pub fn openapi_spec() -> String {
    service_kit::openapi::spec_json::<Api>(SPEC.name, DESCRIPTION)
}

/// The database: the consumers' tables and migrations/order-query-service ([`Schema`]) (public for the benchmarks' scratch databases).
pub static SCHEMA: Schema = Schema {
    outbox: false,
    consumers: true,
    own: &sqlx::migrate!("../../migrations/order-query-service"),
};

/// Connects the backends, applies migrations, starts the two projection consumers and serves
/// the API.
pub async fn build(config: ServiceConfig) -> Result<App, StartupError> {
    let rt = ServiceRuntime::start(config, &SCHEMA).await?;
    // Each consumer commits what it handles at once as one group (projection.rs); one lane
    // each, so the projection holds at most two connections of its pool for writing.
    let mut orders = ConsumerSpec::new(
        projection::ORDER_CONSUMER,
        events::topology::ORDERS,
        vec![
            events::PaymentConfirmed::TYPE,
            events::PaymentFailed::TYPE,
            events::PaymentCanceled::TYPE,
        ],
    );
    // Up to 16 events per group: the group, not the handler, is what costs a commit.
    orders.concurrency = 16;
    let grouped = GroupCommit::spawn(
        "order-projection-groups",
        rt.pool.clone(),
        projection::OrderProjection,
        rt.lanes(1, orders.concurrency),
        &rt.shutdown,
    );
    rt.consume(orders, grouped).await?;
    let wallets = ConsumerSpec::new(
        projection::WALLET_CONSUMER,
        events::topology::WALLETS,
        vec![events::WalletSettled::TYPE],
    );
    let grouped = GroupCommit::spawn(
        "wallet-projection-groups",
        rt.pool.clone(),
        projection::WalletProjection,
        rt.lanes(1, wallets.concurrency),
        &rt.shutdown,
    );
    rt.consume(wallets, grouped).await?;
    let admin = admin::AdminApi {
        pool: rt.pool.clone(),
        js: rt.bus.js.clone(),
        topology: rt.bus.topology.clone(),
        admin_token: rt.config.admin_token.clone(),
    };
    let api = api::OrderQueryApi {
        pool: rt.pool.clone(),
    };
    let dead_letters = rt.bus.dead_letter_api();
    let api: Api = (api, admin, dead_letters);
    rt.serve(api, DESCRIPTION).await
}
