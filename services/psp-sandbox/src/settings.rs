//! Start-up settings read through `ServiceConfig::extra_var` (so tests can set them without
//! touching the process environment) and validated at start: a typo stops the process with
//! the variable named, not on the first confirm.

use service_kit::{ConfigError, ServiceConfig};

use crate::{codes::TossCode, faults::Faults};

/// Which field of [`Faults`] each variable sets, to name the variable in errors.
const FAULT_VARS: &[(&str, &str)] = &[
    ("latencyMs", "SANDBOX_LATENCY_MS"),
    ("errorRate", "SANDBOX_ERROR_RATE"),
    ("errorCode", "SANDBOX_ERROR_CODE"),
    ("timeoutRate", "SANDBOX_TIMEOUT_RATE"),
    ("timeoutMs", "SANDBOX_TIMEOUT_MS"),
];

pub struct Settings {
    /// A secret key accepted besides any `test_sk_…` key (`PSP_SECRET_KEY`).
    pub secret_key: Option<String>,
    pub faults: Faults,
    pub error_code: &'static TossCode,
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
        let secret_key = config
            .extra_var("PSP_SECRET_KEY")
            .map(|k| k.trim().to_string());
        Ok(Self {
            secret_key,
            faults,
            error_code,
        })
    }

    /// Toss test keys (`test_sk_…`) are all accepted, as a sandbox has no merchant registry;
    /// a configured live-looking key is accepted too so production-shaped configs work.
    pub fn accepts(&self, secret_key: &str) -> bool {
        (secret_key.starts_with("test_sk_") && secret_key.len() > "test_sk_".len())
            || self.secret_key.as_deref() == Some(secret_key)
    }
}
