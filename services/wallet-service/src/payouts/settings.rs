//! Payout settings (docs/configuration.md style: validated at start, the variable named).

use std::time::Duration;

use chrono::NaiveTime;
use service_kit::{ConfigError, ServiceConfig};

/// When automatic payouts run (`PAYOUT_SCHEDULE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// No automatic payouts (the default): sellers or operators ask for them.
    Off,
    /// Every day at this UTC time, each seller's whole available balance.
    Daily(NaiveTime),
}

#[derive(Debug, Clone)]
pub struct PayoutSettings {
    /// The PSP (`PSP_URL`, default the sandbox on 8090).
    pub psp_url: String,
    /// Basic-auth secret key (`PSP_SECRET_KEY`, default `test_sk_sandbox`, as order-service).
    pub psp_secret_key: String,
    /// Per PSP call (`PSP_TIMEOUT_MS`, default 10 s); a timeout leaves the payout UNKNOWN.
    pub psp_timeout: Duration,
    /// The security key `payout.changed` webhooks are signed with (`PSP_WEBHOOK_SECRET`).
    pub webhook_secret: String,
    /// How often the recovery job looks for due payouts (`PAYOUT_RECOVERY_INTERVAL_MS`, 5 s).
    pub recovery_interval: Duration,
    /// How long a SENT payout waits for its webhook before the job looks it up
    /// (`PAYOUT_LOOKUP_AFTER_MS`, 30 s); then again with backoff.
    pub lookup_after: Duration,
    /// Longest gap between two looks at an open payout (`PAYOUT_MAX_BACKOFF_MS`, 10 min).
    pub max_backoff: Duration,
    pub schedule: Schedule,
}

fn millis(config: &ServiceConfig, name: &str, default: u64) -> Result<Duration, ConfigError> {
    match config.extra_var(name) {
        None => Ok(Duration::from_millis(default)),
        Some(raw) => match raw.trim().parse::<u64>() {
            Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
            _ => Err(ConfigError::new(
                name,
                format!("must be a positive number of milliseconds (got {raw:?})"),
            )),
        },
    }
}

/// The PSP sandbox's row of deploy/services.table: its URL on `just up`'s stack is the default
/// `PSP_URL`.
const PSP: service_kit::stack_table::ServiceRow = service_kit::stack_table::row("psp-sandbox");

impl PayoutSettings {
    pub fn from_config(config: &ServiceConfig) -> Result<Self, ConfigError> {
        let psp_url = config
            .extra_var("PSP_URL")
            .unwrap_or_else(|| PSP.local_url());
        if !(psp_url.starts_with("http://") || psp_url.starts_with("https://")) {
            return Err(ConfigError::new("PSP_URL", "must be an http(s) URL"));
        }
        let schedule = match config.extra_var("PAYOUT_SCHEDULE") {
            None => Schedule::Off,
            Some(raw) => {
                parse_schedule(&raw).map_err(|r| ConfigError::new("PAYOUT_SCHEDULE", r))?
            }
        };
        Ok(Self {
            psp_url: psp_url.trim_end_matches('/').to_string(),
            // the sandbox's defaults only with APP_ENV=dev (service-kit secrets.rs)
            psp_secret_key: config.secret("PSP_SECRET_KEY", "test_sk_sandbox", false)?,
            psp_timeout: millis(config, "PSP_TIMEOUT_MS", 10_000)?,
            webhook_secret: config.secret("PSP_WEBHOOK_SECRET", "sandbox_webhook_secret", true)?,
            recovery_interval: millis(config, "PAYOUT_RECOVERY_INTERVAL_MS", 5_000)?,
            lookup_after: millis(config, "PAYOUT_LOOKUP_AFTER_MS", 30_000)?,
            max_backoff: millis(config, "PAYOUT_MAX_BACKOFF_MS", 600_000)?,
            schedule,
        })
    }
}

/// `off`, or `daily@HH:MM` (UTC).
pub fn parse_schedule(raw: &str) -> Result<Schedule, String> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("off") {
        return Ok(Schedule::Off);
    }
    raw.strip_prefix("daily@")
        .and_then(|t| NaiveTime::parse_from_str(t, "%H:%M").ok())
        .map(Schedule::Daily)
        .ok_or_else(|| format!("must be off or daily@HH:MM, UTC (got {raw:?})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        assert_eq!(parse_schedule("off"), Ok(Schedule::Off));
        assert_eq!(
            parse_schedule("daily@02:00"),
            Ok(Schedule::Daily(
                NaiveTime::from_hms_opt(2, 0, 0).unwrap_or_default()
            ))
        );
        for bad in ["", "daily", "daily@25:00", "weekly@02:00", "daily@2"] {
            assert!(parse_schedule(bad).is_err(), "{bad}");
        }
    }
}
