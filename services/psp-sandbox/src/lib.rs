//! psp-sandbox: a stand-in for the Toss Payments API, for local runs, tests, benchmarks and
//! chaos runs. order-service talks to it exactly as it would talk to Toss.
//!
//! - **Toss API v1** ([`toss_api`]): `POST /v1/payments/confirm` (Basic auth with a
//!   `test_sk_…` key or `PSP_SECRET_KEY`, `Idempotency-Key` replay, `TossPayments-Test-Code`),
//!   `POST /v1/payments/{paymentKey}/cancel` (full or partial refunds, [`cancel`]),
//!   `GET /v1/payments/{paymentKey}`, `GET /v1/payments/orders/{orderId}`, and
//!   `GET /v1/transactions` ([`transactions`]) to reconcile against. Errors are Toss's
//!   `{code, message}` JSON with Toss's statuses ([`codes`] is the one table).
//! - **Toss API v2, payouts** ([`payout_api`], [`payouts`]): `POST /v2/payouts` (a list;
//!   `Idempotency-Key` required; a repeated refPayoutId answers the existing payout),
//!   `GET /v2/payouts/{id}`, `GET /v2/payouts?refPayoutId=`. A payout is REQUESTED, then
//!   settled COMPLETED or FAILED after `SANDBOX_PAYOUT_DELAY_MS` by [`payout_worker`].
//! - **Webhooks** ([`webhooks`], [`webhook_worker`]): `PAYMENT_STATUS_CHANGED`,
//!   `CANCEL_STATUS_CHANGED` and the signed `payout.changed`, written to an outbox table in
//!   the transaction of the change and POSTed after commit, retried on a schedule, at least
//!   once, across restarts; receivers from `SANDBOX_WEBHOOK_URLS` or `PUT /sandbox/webhooks`,
//!   and a delivery log ([`controls_api`]).
//! - **Payment window** ([`window`]): `GET /sandbox/window?orderId&amount&orderName&successUrl
//!   &failUrl` renders the order with Approve/Decline forms that redirect (303) like Toss's
//!   window; `POST /sandbox/approvals` is its Approve as JSON for scripts.
//! - **Faults and statistics** ([`faults`], [`sandbox_api`], [`stats_api`]): latency, sampled
//!   errors and timeouts (seeded, so runs repeat) for confirms and cancels, per-order faults
//!   for the next n confirms and/or cancels, per-refPayoutId payout faults ([`payout_faults`]),
//!   webhook duplicates and delays, counts of calls, charges and refunds so tests can assert
//!   what reached the PSP, and a reset.
//!
//! Payments, refunds, payouts, the webhook outbox, stored Idempotency-Key replies and the
//! transaction log live in the sandbox's own Postgres database (`paymsa_psp`, migrations in
//! `migrations/psp-sandbox`; [`store`], [`idempotency`], [`payout_store`]): a restart — even a SIGKILL in a chaos run — forgets no charge,
//! and check-and-charge is a row lock in one transaction. Fault settings and call counters are
//! test controls and stay in memory ([`state`]; per order only for the last orders called,
//! [`calls`]). No NATS or Redis; `/health/ready` checks the
//! database.
//!
//! Environment (read through `ServiceConfig::extra_var`, validated at start): `PSP_SECRET_KEY`,
//! `SANDBOX_LATENCY_MS`, `SANDBOX_ERROR_RATE`, `SANDBOX_ERROR_CODE`, `SANDBOX_TIMEOUT_RATE`,
//! `SANDBOX_TIMEOUT_MS`, `SANDBOX_APPROVE_BEFORE_TIMEOUT`, `SANDBOX_SEED`,
//! `SANDBOX_PAYOUT_DELAY_MS`, `SANDBOX_WEBHOOK_URLS`, `SANDBOX_WEBHOOK_SECRET`,
//! `SANDBOX_WEBHOOK_RETRY_MS`.

pub mod amount;
pub mod approval;
pub mod calls;
pub mod cancel;
pub mod codes;
pub mod confirm;
pub mod controls_api;
pub mod errors;
mod examples;
mod expiry;
pub mod fault_settings;
pub mod faults;
pub mod idempotency;
pub mod payment;
pub mod payout;
pub mod payout_api;
mod payout_examples;
pub mod payout_faults;
pub mod payout_store;
pub mod payout_worker;
pub mod payouts;
pub mod prng;
pub mod sandbox_api;
pub mod settings;
pub mod state;
pub mod stats_api;
pub mod store;
pub mod toss_api;
pub mod transactions;
pub mod webhook_worker;
pub mod webhooks;
pub mod window;

use std::sync::Arc;

use service_kit::{
    App, Infra, Metrics, ServiceConfig, ServiceParts, ServiceSpec, Shutdown, StartupError,
};
use sqlx::migrate::Migrator;

use crate::{
    controls_api::ControlsApi, payout_api::PayoutApi, sandbox_api::SandboxApi, settings::Settings,
    state::Sandbox, stats_api::StatsApi, toss_api::TossApi, transactions::TransactionsApi,
    window::WindowApi,
};

pub const SPEC: ServiceSpec = ServiceSpec {
    uses_nats: false,
    uses_redis: false,
    // name, default port, database and node id: deploy/services.table
    ..ServiceSpec::from_table("psp-sandbox")
};

/// The OpenAPI description of the service.
const DESCRIPTION: &str = "A Toss-Payments-compatible PSP for local runs, tests, benchmarks and \
                           chaos runs: Toss API v1 (confirm, cancel, lookups, transactions), \
                           v2 payouts to sellers, Toss-style webhooks, a payment window, fault \
                           injection and call statistics.";

/// What [`build`] serves; [`openapi_spec`] documents this same type, so the two cannot drift.
type Api = (
    TossApi,
    TransactionsApi,
    PayoutApi,
    WindowApi,
    SandboxApi,
    ControlsApi,
    StatsApi,
);

/// Public so tools can set up a scratch database with the same schema.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/psp-sandbox");

/// The service's OpenAPI document exactly as served at `/openapi.json` (canonical JSON), built
/// from the API types alone. `just openapi` exports it to `openapi/psp-sandbox.json`.
pub fn openapi_spec() -> String {
    service_kit::openapi::spec_json::<Api>(SPEC.name, DESCRIPTION)
}

/// Reads the sandbox settings, connects its database (created and migrated when needed; the
/// kit's `Infra` alone — the sandbox has no NATS consumers or outbox, so no `ServiceRuntime`)
/// and starts serving.
pub async fn build(config: ServiceConfig) -> Result<App, StartupError> {
    let settings = Settings::from_config(&config)?;
    let infra = Infra::connect(&config, &[&MIGRATOR]).await?;
    let sandbox = Arc::new(Sandbox::new(infra.pool()?, settings));
    let metrics = Metrics::new(config.service);
    let api: Api = (
        TossApi {
            sandbox: sandbox.clone(),
        },
        TransactionsApi {
            sandbox: sandbox.clone(),
        },
        PayoutApi {
            sandbox: sandbox.clone(),
        },
        WindowApi {
            sandbox: sandbox.clone(),
        },
        SandboxApi {
            sandbox: sandbox.clone(),
        },
        ControlsApi {
            sandbox: sandbox.clone(),
        },
        StatsApi {
            sandbox: sandbox.clone(),
        },
    );
    // Background work of the sandbox: settling payouts and delivering webhooks, both from
    // tables, so a restart carries on where the last process stopped.
    let shutdown = Shutdown::new();
    shutdown.spawn(
        "payout-settlement",
        payout_worker::run(sandbox.clone(), shutdown.clone()),
    );
    // Every delivery row is updated at least twice: its dead versions are vacuumed here
    // (service_kit::vacuum), not left to an autovacuum that may be off.
    service_kit::vacuum::spawn_vacuum(
        sandbox.pool.clone(),
        service_kit::vacuum::VacuumSchedule::new(&["webhook_deliveries"]),
        &shutdown,
    );
    service_kit::statistics::spawn_analyzer(sandbox.pool.clone(), Default::default(), &shutdown);
    shutdown.spawn(
        "webhook-delivery",
        webhook_worker::run(sandbox, shutdown.clone()),
    );
    let parts = ServiceParts {
        api,
        description: DESCRIPTION,
    };
    Ok(App::serve(&config, &infra, metrics, shutdown, parts).await?)
}
