//! The global fault settings (`GET`/`PUT /sandbox/faults`, `SANDBOX_*` at start): sampled
//! confirm/cancel errors and timeouts, latency, payout failures and webhook chaos.

use poem_openapi::Object;
use service_kit::FieldError;

use crate::codes::{self, TossCode};

/// Global fault settings (`GET`/`PUT /sandbox/faults`). A PUT replaces them: omitted fields
/// take their defaults (no fault), except `seed`, which keeps the PRNG running when omitted.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields, example)]
pub struct Faults {
    /// Delay added to every `/v1` call, in ms.
    #[oai(default, validator(maximum(value = "60000")), nullable)]
    pub latency_ms: u64,
    /// Probability (0..1) that a confirm answers `errorCode`.
    #[oai(
        default,
        validator(minimum(value = "0"), maximum(value = "1")),
        nullable
    )]
    pub error_rate: f64,
    /// The Toss error code answered by sampled errors (default `PROVIDER_ERROR`).
    #[oai(default = "default_error_code", nullable)]
    pub error_code: String,
    /// Probability (0..1) that a confirm is held for `timeoutMs` (checked before errors).
    #[oai(
        default,
        validator(minimum(value = "0"), maximum(value = "1")),
        nullable
    )]
    pub timeout_rate: f64,
    /// How long a timed-out confirm is held before it answers, in ms; make it longer than the
    /// client's timeout.
    #[oai(
        default = "default_timeout_ms",
        validator(maximum(value = "300000")),
        nullable
    )]
    pub timeout_ms: u64,
    /// If true, a timed-out confirm charges the payment (DONE) before the client gives up —
    /// the case only a lookup by orderId can recover. If false, the payment stays READY and
    /// the late answer is `FAILED_INTERNAL_SYSTEM_PROCESSING`.
    #[oai(default, nullable)]
    pub approve_before_timeout: bool,
    /// Seed of the fault PRNG; setting it restarts the sampled sequence.
    #[oai(default, nullable)]
    pub seed: Option<u64>,
    /// Probability (0..1) that a webhook delivery is POSTed twice (at-least-once, made
    /// visible).
    #[oai(
        default,
        validator(minimum(value = "0"), maximum(value = "1")),
        nullable
    )]
    pub webhook_duplicate_rate: f64,
    /// Each webhook POST first waits a random 0..=webhookDelayMs, so deliveries arrive late
    /// and out of order.
    #[oai(default, validator(maximum(value = "600000")), nullable)]
    pub webhook_delay_ms: u64,
    /// Probability (0..1) that a new payout is settled FAILED (`INVALID_BANK_ACCOUNT`).
    #[oai(
        default,
        validator(minimum(value = "0"), maximum(value = "1")),
        nullable
    )]
    pub payout_fail_rate: f64,
}

fn default_error_code() -> String {
    codes::PROVIDER_ERROR.to_string()
}

fn default_timeout_ms() -> u64 {
    15_000
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            error_rate: 0.0,
            error_code: default_error_code(),
            timeout_rate: 0.0,
            timeout_ms: default_timeout_ms(),
            approve_before_timeout: false,
            seed: None,
            webhook_duplicate_rate: 0.0,
            webhook_delay_ms: 0,
            payout_fail_rate: 0.0,
        }
    }
}

impl Faults {
    /// Range checks the OpenAPI validators also make on PUT, plus the error code's existence.
    pub fn validate(&self) -> Result<&'static TossCode, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut check = |ok: bool, field: &str, message: &str| {
            if !ok {
                errors.push(FieldError {
                    field: field.into(),
                    message: message.into(),
                });
            }
        };
        check(
            (0.0..=1.0).contains(&self.error_rate),
            "errorRate",
            "must be within 0..1",
        );
        check(
            (0.0..=1.0).contains(&self.timeout_rate),
            "timeoutRate",
            "must be within 0..1",
        );
        for (rate, field) in [
            (self.webhook_duplicate_rate, "webhookDuplicateRate"),
            (self.payout_fail_rate, "payoutFailRate"),
        ] {
            check((0.0..=1.0).contains(&rate), field, "must be within 0..1");
        }
        check(
            self.webhook_delay_ms <= 600_000,
            "webhookDelayMs",
            "must be at most 600000",
        );
        check(
            self.latency_ms <= 60_000,
            "latencyMs",
            "must be at most 60000",
        );
        check(
            self.timeout_ms <= 300_000,
            "timeoutMs",
            "must be at most 300000",
        );
        let code = codes::find(&self.error_code);
        check(
            code.is_some(),
            "errorCode",
            "is not a Toss error code the sandbox knows",
        );
        match code {
            Some(code) if errors.is_empty() => Ok(code),
            _ => Err(errors),
        }
    }
}
