//! wallet-service: seller wallets and settlement of paid orders.
//!
//! The `wallet-onboarding` consumer creates a wallet per registered seller and announces
//! `wallet.created`; `wallet-settlement` credits sellers for paid orders and announces
//! `wallet.settled`; `wallet-reversal` takes credits back for cancelled lines and announces
//! `wallet.reversed`; `GET /api/wallets/sellers/{sellerNo}` shows balance and ledger.
//! Behind the wallets is a double-entry ledger ([`ledger`], docs/ledger.md): commission per
//! line, a hold before sales become available ([`release`]), statements and a trial balance;
//! the platform accounts' balances are folded in by [`rollup`].

mod admin_api;
mod api;
pub mod credits;
mod examples;
mod examples_ledger;
pub mod fees;
pub mod ids;
pub mod ledger;
mod ledger_api;
mod onboarding;
pub mod payouts;
mod payouts_api;
mod payouts_view;
pub mod release;
mod reversal;
mod reversal_store;
pub mod rollup;
pub mod settings;
mod settlement;
mod settlement_batch;
mod statement;
mod statement_response;
mod store;
pub mod transaction_kind;
mod webhook_api;
mod webhook_payload;

/// A paid line as settlement credits it and [`ledger::sales::post`] posts it (public so that
/// `benches/ledger_entries.rs` can post SALE entries through the same function).
pub use credits::Credit;

use messaging::{ConsumerSpec, Schema, ServiceRuntime};
use service_kit::{App, ServiceConfig, ServiceSpec, StartupError};

pub const SPEC: ServiceSpec = ServiceSpec {
    uses_nats: true,
    uses_redis: true,
    // name, default port, database and node id: deploy/services.table
    ..ServiceSpec::from_table("wallet-service")
};

/// The OpenAPI description of the service.
const DESCRIPTION: &str = "Seller wallets and settlement of paid orders.";

/// What [`build`] serves; [`openapi_spec`] documents this same type, so the two cannot drift.
type Api = (
    api::WalletApi,
    ledger_api::LedgerApi,
    admin_api::AdminLedgerApi,
    payouts_api::PayoutApi,
    webhook_api::WebhookApi,
    messaging::DeadLetterApi,
);

/// The service's OpenAPI document exactly as served at `/openapi.json` (canonical JSON), built
/// from the API types alone: no database, NATS or Redis. `just openapi` exports it to
/// `openapi/wallet-service.json`.
pub fn openapi_spec() -> String {
    service_kit::openapi::spec_json::<Api>(SPEC.name, DESCRIPTION)
}

/// The database: the outbox, the consumers' tables and migrations/wallet-service ([`Schema`]) (public for the benchmarks' scratch databases).
pub static SCHEMA: Schema = Schema {
    outbox: true,
    consumers: true,
    own: &sqlx::migrate!("../../migrations/wallet-service"),
};

/// Connects the backends, applies migrations, starts the outbox relay and the consumers, and
/// serves the API.
pub async fn build(config: ServiceConfig) -> Result<App, StartupError> {
    let settings = settings::LedgerSettings::from_config(&config)?;
    let parked_orders = settings::onboarding_parked_orders(&config)?;
    let payout_settings = payouts::settings::PayoutSettings::from_config(&config)?;
    let rt = ServiceRuntime::start(config, &SCHEMA).await?;
    let outbox = rt.outbox()?;
    rt.consume(
        ConsumerSpec::new(
            onboarding::CONSUMER,
            events::topology::SELLERS,
            vec![<events::SellerRegistered as events::Event>::TYPE],
        ),
        onboarding::CreateWallet {
            pool: rt.pool.clone(),
            ids: rt.infra.ids.clone(),
            outbox: outbox.clone(),
            settings,
            parked_orders,
        },
    )
    .await?;
    // Settlement is the heaviest handler (advisory locks, credit rows and SALE entries with
    // their postings, an outbox row) and mostly waits on Postgres: 16 at once instead of the default 4 took the
    // settlement lag at 100 paid orders/s from 1.7 s to 0.12 s (p50; docs/benchmarks.md).
    let mut settle_spec = ConsumerSpec::new(
        settlement::CONSUMER,
        events::topology::ORDERS,
        vec![<events::PaymentConfirmed as events::Event>::TYPE],
    );
    settle_spec.concurrency = 16;
    // The settlements in flight are committed in groups by `SETTLEMENT_GROUP_LANES` lanes (2 by
    // default; settlement.rs, settlement_batch.rs); with 0 each in its own transaction — see
    // settings.rs for the measurements.
    let settle = messaging::GroupCommit::spawn(
        "wallet-settlement-groups",
        rt.pool.clone(),
        settlement::SettleOrder {
            ids: rt.infra.ids.clone(),
            outbox: outbox.clone(),
            settings,
        },
        rt.lanes(settings.group_lanes, settle_spec.concurrency),
        &rt.shutdown,
    );
    rt.consume(settle_spec, settle).await?;
    rt.consume(
        ConsumerSpec::new(
            reversal::CONSUMER,
            events::topology::ORDERS,
            vec![<events::PaymentCanceled as events::Event>::TYPE],
        ),
        reversal::ReverseCancel {
            pool: rt.pool.clone(),
            ids: rt.infra.ids.clone(),
            outbox,
        },
    )
    .await?;
    release::spawn(
        rt.pool.clone(),
        settings.hold,
        rt.metrics.job_passes("ledger-release"),
        &rt.shutdown,
    );
    rollup::spawn(
        rt.pool.clone(),
        rt.metrics.job_passes("ledger-rollup"),
        &rt.shutdown,
    );
    // Queue tables: every row is deleted soon after it is written (service_kit::vacuum).
    service_kit::vacuum::spawn_vacuum(
        rt.pool.clone(),
        service_kit::vacuum::VacuumSchedule::new(&[
            "ledger_balance_deltas",
            "pending_settlements",
            "pending_reversals",
        ]),
        &rt.shutdown,
    );
    let api = api::WalletApi {
        pool: rt.pool.clone(),
    };
    let ledger_api = ledger_api::LedgerApi {
        pool: rt.pool.clone(),
    };
    let admin = admin_api::AdminLedgerApi {
        pool: rt.pool.clone(),
        admin_token: rt.config.admin_token.clone(),
    };
    let psp = payouts::psp::PspPayouts::new(
        &payout_settings.psp_url,
        &payout_settings.psp_secret_key,
        payout_settings.psp_timeout,
        rt.metrics.counter(
            "psp_credential_errors_total",
            "PSP calls refused because of our merchant credentials",
        ),
    )
    .map_err(|e| StartupError::other("PSP client", e))?;
    let payouts = payouts::Payouts {
        pool: rt.pool.clone(),
        ids: rt.infra.ids.clone(),
        psp,
        settings: std::sync::Arc::new(payout_settings),
        unresolved: rt.metrics.gauge(
            "payouts_unresolved",
            "Payouts still open (not COMPLETED or FAILED) an hour after they were requested",
        ),
    };
    payouts::job::spawn(
        payouts.clone(),
        rt.metrics.job_passes("payout-recovery"),
        &rt.shutdown,
    );
    let payout_api = payouts_api::PayoutApi {
        payouts: payouts.clone(),
        admin_token: rt.config.admin_token.clone(),
    };
    let webhooks = webhook_api::WebhookApi { payouts };
    let dead_letters = rt.bus.dead_letter_api();
    let api: Api = (api, ledger_api, admin, payout_api, webhooks, dead_letters);
    rt.serve(api, DESCRIPTION).await
}
