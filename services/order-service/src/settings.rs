//! order-service's own settings (beyond the kit's), validated at start like the rest.

use std::time::Duration;

use service_kit::{
    stack_table::{row, ServiceRow},
    ConfigError, ServiceConfig,
};

#[derive(Debug, Clone)]
pub struct OrderSettings {
    pub catalog_url: String,
    pub catalog_timeout: Duration,
    /// How long a price the catalog vouched for is used at checkout (src/prices.rs).
    pub catalog_price_max_age: Duration,
    /// The services the storefront pages show (src/pages/backends.rs).
    pub store_backends: crate::pages::BackendUrls,
    pub psp_url: String,
    pub psp_secret_key: String,
    pub psp_timeout: Duration,
    pub psp_window_url: String,
    pub public_url: Option<String>,
    pub toss_client_key: Option<String>,
    pub recovery_interval: Duration,
    pub recovery_stale_after: Duration,
    /// The longest wait between two lookups of an unknown payment.
    pub recovery_max_backoff: Duration,
    pub reconcile_interval: Duration,
    pub reconcile_window: Duration,
    pub reconcile_overlap: Duration,
    /// The most unresolved orders a reconciliation run may carry to the next
    /// (`RECONCILE_CARRIED_MAX`); a run with more is not recorded (jobs.rs).
    pub reconcile_carried_max: usize,
    pub redrive_after: Duration,
    /// How long a checkout's Idempotency-Key answers a retry (`CHECKOUT_KEY_RETENTION_MS`,
    /// 24 h as Stripe keeps them); older keys are deleted by the retention job.
    pub checkout_key_retention: Duration,
}

fn url(config: &ServiceConfig, name: &str, default: &str) -> Result<String, ConfigError> {
    let raw = config
        .extra_var(name)
        .unwrap_or_else(|| default.to_string());
    match url::Url::parse(&raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {
            Ok(raw.trim_end_matches('/').to_string())
        }
        _ => Err(ConfigError::new(
            name,
            format!("must be an http(s) URL (got {raw:?})"),
        )),
    }
}

/// A positive whole number of `name`, or `default`.
fn count(config: &ServiceConfig, name: &str, default: usize) -> Result<usize, ConfigError> {
    match config.extra_var(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| {
                ConfigError::new(
                    name,
                    format!("must be a positive whole number (got {raw:?})"),
                )
            }),
    }
}

fn millis(config: &ServiceConfig, name: &str, default: u64) -> Result<Duration, ConfigError> {
    match config.extra_var(name) {
        None => Ok(Duration::from_millis(default)),
        Some(raw) => raw
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|v| *v > 0)
            .map(Duration::from_millis)
            .ok_or_else(|| {
                ConfigError::new(
                    name,
                    format!("must be a positive number of milliseconds (got {raw:?})"),
                )
            }),
    }
}

/// The peers, rows of deploy/services.table: their URLs on `just up`'s stack are the defaults of
/// the variables naming them (`const`, so a misspelt service fails the build).
const PSP: ServiceRow = row("psp-sandbox");
const CATALOG: ServiceRow = row("catalog-service");
const HOT_CATALOG: ServiceRow = row("hot-catalog-service");
const LIKES: ServiceRow = row("catalog-like-service");
const REVIEWS: ServiceRow = row("catalog-review-service");
const ORDER_QUERY: ServiceRow = row("order-query-service");
const WALLET: ServiceRow = row("wallet-service");

impl OrderSettings {
    pub fn from_config(config: &ServiceConfig) -> Result<Self, ConfigError> {
        let psp_url = url(config, "PSP_URL", &PSP.local_url())?;
        let psp_timeout = millis(config, "PSP_TIMEOUT_MS", 10_000)?;
        let recovery_stale_after = millis(config, "RECOVERY_STALE_MS", 60_000)?;
        if recovery_stale_after <= psp_timeout {
            return Err(ConfigError::new(
                "RECOVERY_STALE_MS",
                "must exceed PSP_TIMEOUT_MS, or recovery would race live confirms",
            ));
        }
        let reconcile_interval = millis(config, "RECONCILE_INTERVAL_MS", 60_000)?;
        let reconcile_window = millis(config, "RECONCILE_WINDOW_MS", 3_600_000)?;
        // A minute: unresolved orders are carried over (jobs.rs), so the overlap only has
        // to cover the PSP's clock against ours; every run compares the overlap's orders
        // again (five minutes cost ~29 chunk reads a minute at 60/s, docs/benchmarks.md).
        let reconcile_overlap = millis(config, "RECONCILE_OVERLAP_MS", 60_000)?;
        // A run spans at most a window from the last end less the overlap (jobs.rs
        // `run_span`): with an overlap as long as the window it would never move on.
        if reconcile_overlap >= reconcile_window {
            return Err(ConfigError::new(
                "RECONCILE_OVERLAP_MS",
                "must be shorter than RECONCILE_WINDOW_MS",
            ));
        }
        Ok(Self {
            catalog_url: url(config, "CATALOG_URL", &CATALOG.local_url())?,
            catalog_timeout: millis(config, "CATALOG_TIMEOUT_MS", 2_000)?,
            catalog_price_max_age: millis(config, "CATALOG_PRICE_MAX_AGE_MS", 60_000)?,
            store_backends: crate::pages::BackendUrls {
                catalog: url(config, "CATALOG_URL", &CATALOG.local_url())?,
                hot_catalog: url(config, "HOT_CATALOG_URL", &HOT_CATALOG.local_url())?,
                likes: url(config, "CATALOG_LIKE_URL", &LIKES.local_url())?,
                reviews: url(config, "CATALOG_REVIEW_URL", &REVIEWS.local_url())?,
                order_query: url(config, "ORDER_QUERY_URL", &ORDER_QUERY.local_url())?,
                wallet: url(config, "WALLET_URL", &WALLET.local_url())?,
            },
            psp_window_url: url(config, "PSP_WINDOW_URL", &psp_url)?,
            psp_url,
            // the sandbox's test key only with APP_ENV=dev (service-kit secrets.rs)
            psp_secret_key: config.secret("PSP_SECRET_KEY", "test_sk_sandbox", false)?,
            psp_timeout,
            public_url: match config.extra_var("PUBLIC_URL") {
                // Checked now: a bad one (`shop.example`) made every payment's redirect URL
                // unusable, noticed only at the first payment.
                Some(_) => Some(url(config, "PUBLIC_URL", "")?),
                None => None,
            },
            toss_client_key: config.extra_var("TOSS_CLIENT_KEY"),
            recovery_interval: millis(config, "RECOVERY_INTERVAL_MS", 5_000)?,
            recovery_stale_after,
            recovery_max_backoff: millis(config, "RECOVERY_MAX_BACKOFF_MS", 600_000)?,
            reconcile_interval,
            reconcile_window,
            reconcile_overlap,
            reconcile_carried_max: count(config, "RECONCILE_CARRIED_MAX", 10_000)?,
            redrive_after: millis(config, "REDRIVE_AFTER_MS", 120_000)?,
            checkout_key_retention: millis(config, "CHECKOUT_KEY_RETENTION_MS", 86_400_000)?,
        })
    }
}
