//! Start-up settings read through `ServiceConfig::extra_var` (so tests can set them without
//! touching the process environment) and validated at start: a typo stops the process with
//! the variable named, not on the first confirm.

use std::time::Duration;

use service_kit::{ConfigError, ServiceConfig};

use crate::{codes::TossCode, faults::Faults};

/// Toss retries a webhook 7 times with growing gaps (minutes to hours); the sandbox keeps the
/// count and shortens the gaps.
const DEFAULT_WEBHOOK_RETRY_MS: &str = "1000,2000,4000,8000,16000,32000,64000";
pub const DEFAULT_WEBHOOK_SECRET: &str = "sandbox_webhook_secret";

/// Which field of [`Faults`] each variable sets, to name the variable in errors.
const FAULT_VARS: &[(&str, &str)] = &[
    ("latencyMs", "SANDBOX_LATENCY_MS"),
    ("errorRate", "SANDBOX_ERROR_RATE"),
    ("errorCode", "SANDBOX_ERROR_CODE"),
    ("timeoutRate", "SANDBOX_TIMEOUT_RATE"),
    ("timeoutMs", "SANDBOX_TIMEOUT_MS"),
];

pub struct Settings {
    /// A secret key accepted besides any `test_sk_…` key (`PSP_SECRET_KEY`); required and the
    /// only key accepted unless `APP_ENV=dev` (service-kit secrets.rs).
    pub secret_key: Option<String>,
    /// Whether any `test_sk_…` key is accepted: only with `APP_ENV=dev`.
    pub accept_test_keys: bool,
    pub faults: Faults,
    pub error_code: &'static TossCode,
    /// How long a payout stays REQUESTED (`SANDBOX_PAYOUT_DELAY_MS`, default 1000).
    pub payout_delay: Duration,
    /// How long a stored confirm or cancel answer is replayed for its `Idempotency-Key`
    /// (`SANDBOX_IDEMPOTENCY_TTL_MS`; Toss's 15 days by default). After it, the key is new
    /// again: a repeat is evaluated afresh and may be refused ("already canceled"), which is
    /// what a merchant must be ready for when a lost answer is retried late.
    pub idempotency_ttl: Duration,
    /// Whether an error answer is stored for its `Idempotency-Key` too
    /// (`SANDBOX_IDEMPOTENCY_KEEPS_ERRORS`, default false). Toss's guide promises "the same
    /// result as the first request" for a key without saying whether errors count, so a
    /// merchant must work either way; the tests run both (tests/tests/e2e/psp_truth.rs).
    pub idempotency_keeps_errors: bool,
    /// How long a READY payment waits for its confirm before it expires
    /// (`SANDBOX_READY_TTL_MS`; 10 minutes by default, as Toss; expiry.rs).
    pub ready_ttl: Duration,
    pub webhooks: WebhookSettings,
}

/// Where and how webhooks are sent.
pub struct WebhookSettings {
    /// Receivers at start (`SANDBOX_WEBHOOK_URLS`, comma-separated); `PUT /sandbox/webhooks`
    /// replaces them at run time.
    pub urls: Vec<String>,
    /// The security key `payout.changed` is signed with (`SANDBOX_WEBHOOK_SECRET`).
    pub secret: String,
    /// Gaps before the retries of a failed delivery (`SANDBOX_WEBHOOK_RETRY_MS`); a delivery
    /// is attempted `retry.len() + 1` times in all.
    pub retry: Vec<Duration>,
}

/// `http(s)://host…` URLs, comma-separated; blanks are skipped.
pub fn parse_urls(raw: &str) -> Result<Vec<String>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(check_url)
        .collect()
}

pub fn check_url(raw: &str) -> Result<String, String> {
    match url::Url::parse(raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Ok(raw.to_string())
        }
        _ => Err(format!("{raw:?} is not an http(s) URL with a host")),
    }
}

fn parse_retry(raw: &str) -> Result<Vec<Duration>, String> {
    let gaps = raw
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(|g| match g.parse::<u64>() {
            Ok(ms) if ms <= 86_400_000 => Ok(Duration::from_millis(ms)),
            _ => Err(format!("{g:?} is not a delay in ms (0..=86400000)")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if gaps.len() > 20 {
        return Err("at most 20 retries".into());
    }
    Ok(gaps)
}

impl WebhookSettings {
    fn from_config(config: &ServiceConfig) -> Result<Self, ConfigError> {
        let var = |name: &str| config.extra_var(name).map(|v| v.trim().to_string());
        let urls = parse_urls(&var("SANDBOX_WEBHOOK_URLS").unwrap_or_default())
            .map_err(|e| ConfigError::new("SANDBOX_WEBHOOK_URLS", e))?;
        // wallet-service trusts what this signs: the public default only in dev
        let secret = config.secret("SANDBOX_WEBHOOK_SECRET", DEFAULT_WEBHOOK_SECRET, false)?;
        let retry =
            var("SANDBOX_WEBHOOK_RETRY_MS").unwrap_or_else(|| DEFAULT_WEBHOOK_RETRY_MS.to_string());
        let retry =
            parse_retry(&retry).map_err(|e| ConfigError::new("SANDBOX_WEBHOOK_RETRY_MS", e))?;
        Ok(Self {
            urls,
            secret,
            retry,
        })
    }
}

fn parse_var<T: std::str::FromStr>(
    config: &ServiceConfig,
    name: &str,
) -> Result<Option<T>, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match config.extra_var(name) {
        None => Ok(None),
        Some(raw) => raw
            .trim()
            .parse()
            .map(Some)
            .map_err(|e| ConfigError::new(name, format!("{e} (got {raw:?})"))),
    }
}

impl Settings {
    pub fn from_config(config: &ServiceConfig) -> Result<Self, ConfigError> {
        let mut faults = Faults::default();
        if let Some(v) = parse_var(config, "SANDBOX_LATENCY_MS")? {
            faults.latency_ms = v;
        }
        if let Some(v) = parse_var(config, "SANDBOX_ERROR_RATE")? {
            faults.error_rate = v;
        }
        if let Some(v) = config.extra_var("SANDBOX_ERROR_CODE") {
            faults.error_code = v.trim().to_string();
        }
        if let Some(v) = parse_var(config, "SANDBOX_TIMEOUT_RATE")? {
            faults.timeout_rate = v;
        }
        if let Some(v) = parse_var(config, "SANDBOX_TIMEOUT_MS")? {
            faults.timeout_ms = v;
        }
        if let Some(v) = parse_var(config, "SANDBOX_APPROVE_BEFORE_TIMEOUT")? {
            faults.approve_before_timeout = v;
        }
        faults.seed = parse_var(config, "SANDBOX_SEED")?;
        let error_code = faults.validate().map_err(|errors| {
            let (field, message) = errors
                .first()
                .map_or(("", "invalid"), |e| (e.field.as_str(), e.message.as_str()));
            let var = FAULT_VARS
                .iter()
                .find(|(f, _)| *f == field)
                .map_or("SANDBOX_*", |(_, var)| var);
            ConfigError::new(var, message)
        })?;
        // in dev any test_sk_ key works and PSP_SECRET_KEY is optional; elsewhere the sandbox
        // takes one strong key, the one its merchants (order/wallet-service) are given
        let accept_test_keys = config.app_env.is_dev();
        let secret_key = match accept_test_keys {
            true => config
                .extra_var("PSP_SECRET_KEY")
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty()),
            false => Some(config.secret("PSP_SECRET_KEY", "", false)?),
        };
        let payout_delay: u64 = parse_var(config, "SANDBOX_PAYOUT_DELAY_MS")?.unwrap_or(1000);
        if payout_delay > 86_400_000 {
            return Err(ConfigError::new(
                "SANDBOX_PAYOUT_DELAY_MS",
                "must be at most 86400000",
            ));
        }
        let idempotency_ttl: u64 =
            parse_var(config, "SANDBOX_IDEMPOTENCY_TTL_MS")?.unwrap_or(15 * 86_400_000);
        if idempotency_ttl == 0 {
            return Err(ConfigError::new(
                "SANDBOX_IDEMPOTENCY_TTL_MS",
                "must be at least 1",
            ));
        }
        let idempotency_keeps_errors: bool =
            parse_var(config, "SANDBOX_IDEMPOTENCY_KEEPS_ERRORS")?.unwrap_or(false);
        let ready_ttl: u64 = parse_var(config, "SANDBOX_READY_TTL_MS")?.unwrap_or(600_000);
        if ready_ttl == 0 {
            return Err(ConfigError::new(
                "SANDBOX_READY_TTL_MS",
                "must be at least 1",
            ));
        }
        Ok(Self {
            secret_key,
            accept_test_keys,
            faults,
            error_code,
            payout_delay: Duration::from_millis(payout_delay),
            idempotency_ttl: Duration::from_millis(idempotency_ttl),
            idempotency_keeps_errors,
            ready_ttl: Duration::from_millis(ready_ttl),
            webhooks: WebhookSettings::from_config(config)?,
        })
    }

    /// In dev, Toss test keys (`test_sk_…`) are all accepted, as a sandbox has no merchant
    /// registry; the configured key (`PSP_SECRET_KEY`) always is, so production-shaped configs
    /// (compose, k8s: no `APP_ENV=dev`) work with that one key only.
    pub fn accepts(&self, secret_key: &str) -> bool {
        (self.accept_test_keys
            && secret_key.starts_with("test_sk_")
            && secret_key.len() > "test_sk_".len())
            || self.secret_key.as_deref() == Some(secret_key)
    }
}
