//! order-service: checkout, payment confirmation with the PSP, and recovery of unknown outcomes.
//!
//! `POST /api/checkouts` prices the member's products at the catalog and stores one payment
//! event with a payment order per line. `POST /api/payments/confirm` checks the amount, moves
//! the lines to EXECUTING, calls the PSP with `Idempotency-Key = orderId`, and commits the
//! outcome with its history and event (`order.payment.confirmed` / `.failed`) through the
//! outbox. A recovery job re-drives UNKNOWN and stale EXECUTING payments; the
//! `order-wallet-completion` consumer records settlement. the storefront (`/`, products, cart,
//! `POST /checkout`, `/success`, `/fail`, my orders, seller wallet) is [`pages`]. `POST /api/payments/{orderId}/cancel` refunds ([`cancels`]); a reconciliation
//! job compares the PSP's transactions with our orders and re-drives unsettled ones
//! ([`reconcile`], [`redrive`], [`jobs`]). The outcome rules are in docs/payments.md.

mod access;
mod admin;
mod api;
mod attempt;
mod cancels;
mod catalog;
pub mod checkout;
mod confirm_error;
mod details;
mod examples;
mod final_orders;
mod input;
mod jobs;
mod pages;
mod payments;
mod prices;
mod psp;
mod reconcile;
pub mod recovery;
mod redrive;
mod settings;
mod status;
mod store;
mod wallet_completion;
mod webhooks;

use std::time::Duration;

use messaging::{ConsumerSpec, Schema, ServiceRuntime};
use service_kit::{App, ServiceConfig, ServiceSpec, StartupError};

pub use settings::OrderSettings;

pub const SPEC: ServiceSpec = ServiceSpec {
    uses_nats: true,
    uses_redis: true,
    // name, default port, database and node id: deploy/services.table
    ..ServiceSpec::from_table("order-service")
};

/// The OpenAPI description of the service.
const DESCRIPTION: &str =
    "Checkout, payment confirmation with the PSP and recovery of unknown outcomes.";

/// What [`build`] serves; [`openapi_spec`] documents this same type, so the two cannot drift.
type Api = (
    api::OrderApi,
    cancels::api::CancelApi,
    webhooks::WebhookApi,
    admin::PaymentsAdminApi,
    pages::Pages,
    messaging::DeadLetterApi,
);

/// The service's OpenAPI document exactly as served at `/openapi.json` (canonical JSON), built
/// from the API types alone: no database, NATS or Redis. `just openapi` exports it to
/// `openapi/order-service.json`.
pub fn openapi_spec() -> String {
    service_kit::openapi::spec_json::<Api>(SPEC.name, DESCRIPTION)
}

/// The database: the outbox, the consumers' tables and migrations/order-service ([`Schema`]).
static SCHEMA: Schema = Schema {
    outbox: true,
    consumers: true,
    own: &sqlx::migrate!("../../migrations/order-service"),
};

/// Connects the backends, applies migrations, starts the outbox relay, the wallet-completion
/// consumer and the recovery job, and serves the API and pages.
pub async fn build(config: ServiceConfig) -> Result<App, StartupError> {
    let settings = OrderSettings::from_config(&config)?;
    let rt = ServiceRuntime::start(config, &SCHEMA).await?;
    let outbox = rt.outbox()?;
    let completion = ConsumerSpec::new(
        wallet_completion::CONSUMER,
        events::topology::WALLETS,
        vec![
            <events::WalletSettled as events::Event>::TYPE,
            <events::WalletReversed as events::Event>::TYPE,
        ],
    );
    let grouped = messaging::GroupCommit::spawn(
        "order-wallet-completion-groups",
        rt.pool.clone(),
        wallet_completion::MarkWalletDone,
        rt.lanes(wallet_completion::LANES, completion.concurrency),
        &rt.shutdown,
    );
    rt.consume(completion, grouped).await?;
    let prices = ConsumerSpec::new(
        prices::CONSUMER,
        events::topology::CATALOG,
        vec![
            <events::ProductCreated as events::Event>::TYPE,
            <events::ProductUpdated as events::Event>::TYPE,
        ],
    );
    let remember = prices::RememberCatalogPrice {
        pool: rt.pool.clone(),
    };
    rt.consume(prices, remember).await?;
    let psp = psp::PspClient::new(
        &settings.psp_url,
        &settings.psp_secret_key,
        settings.psp_timeout,
    )
    .map_err(|e| StartupError::other("PSP client", e))?
    .with_metrics(&rt.metrics);
    let payments = payments::Payments {
        pool: rt.pool.clone(),
        ids: rt.infra.ids.clone(),
        outbox,
        psp,
        metrics: payments::PaymentMetrics::register(&rt.metrics),
        recovery_interval: settings.recovery_interval,
        recovery_max_backoff: settings.recovery_max_backoff,
        stale_after: settings.recovery_stale_after,
        recovery_wake: Default::default(),
        final_orders: Default::default(),
    };
    jobs::spawn(
        payments.clone(),
        jobs::JobsConfig {
            reconcile_interval: settings.reconcile_interval,
            reconcile_window: settings.reconcile_window,
            reconcile_overlap: settings.reconcile_overlap,
            reconcile_carried_max: settings.reconcile_carried_max,
            redrive_after: settings.redrive_after,
        },
        rt.metrics.job_passes("settlement-redrive"),
        &rt.shutdown,
    );
    spawn_checkout_key_retention(&rt, settings.checkout_key_retention)?;
    recovery::spawn(
        payments.clone(),
        recovery::RecoveryConfig {
            interval: settings.recovery_interval,
            stale_after: settings.recovery_stale_after,
            batch: 50,
        },
        rt.metrics.job_passes("payment-recovery"),
        &rt.shutdown,
    );
    let catalog = catalog::CatalogClient::new(&settings.catalog_url, settings.catalog_timeout)
        .map_err(|e| StartupError::other("catalog client", e))?;
    let cancel_api = cancels::api::CancelApi {
        payments: payments.clone(),
    };
    let webhook_api = webhooks::WebhookApi {
        payments: payments.clone(),
    };
    let admin_api = admin::PaymentsAdminApi {
        payments: payments.clone(),
        admin_token: rt.config.admin_token.clone(),
    };
    let checkouts = checkout::Checkouts {
        payments: payments.clone(),
        catalog,
        price_max_age: settings.catalog_price_max_age,
        price_sources: rt.metrics.counter_vec(
            "order_checkout_prices_total",
            "Where checkouts got their prices: local (catalog_prices) or catalog (GET /api/products)",
            &["source"],
        ),
    };
    let api = api::OrderApi {
        payments,
        checkouts,
    };
    let backends = pages::Backends::new(settings.store_backends.clone(), settings.catalog_timeout)
        .map_err(|e| StartupError::other("the storefront's HTTP client", e))?;
    let pages = pages::pages(pages::PageContext {
        api: api.clone(),
        settings: pages::PageSettings {
            public_url: settings.public_url.clone(),
            psp_window_url: settings.psp_window_url.clone(),
            toss_client_key: settings.toss_client_key.clone(),
        },
        backends,
    });
    let dead_letters = rt.bus.dead_letter_api();
    let api: Api = (api, cancel_api, webhook_api, admin_api, pages, dead_letters);
    rt.serve(api, DESCRIPTION).await
}

/// Deletes checkout Idempotency-Keys older than `keep` (a retry after that is a new checkout,
/// as with Stripe), on the messaging retention schedule (`RETENTION_INTERVAL_SECS`).
fn spawn_checkout_key_retention(rt: &ServiceRuntime, keep: Duration) -> Result<(), StartupError> {
    let interval = messaging::retention::RetentionSettings::from_config(&rt.config)?.interval;
    let pool = rt.pool.clone();
    messaging::retention::spawn_job(
        "checkout-key-retention",
        interval,
        &rt.shutdown,
        move || {
            let pool = pool.clone();
            async move {
                let deleted = messaging::retention::purge_older_than(
                    &pool,
                    "checkout_idempotency_keys",
                    "idempotency_key",
                    "created_at",
                    keep,
                )
                .await?;
                Ok(format!("{deleted} checkout keys deleted"))
            }
        },
    );
    Ok(())
}
