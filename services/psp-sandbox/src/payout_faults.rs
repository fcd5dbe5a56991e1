//! Faults for payouts, per refPayoutId (`PUT /sandbox/faults/payouts/{refPayoutId}`): the next
//! `times` `POST /v2/payouts` requests naming that refPayoutId make the payout FAIL when it is
//! settled, answer only after `timeoutMs` (the payout is created and its reply stored first,
//! like `approveBeforeTimeout`), or answer a transient error without creating anything. The
//! global `payoutFailRate` ([`crate::faults::Faults`]) fails a share of new payouts at random.

use std::{collections::HashMap, time::Duration};

use poem_openapi::{Enum, Object};

use crate::codes::{self, TossCode};

/// The failure a payout is settled with when no code is given.
pub const INVALID_BANK_ACCOUNT: &str = "INVALID_BANK_ACCOUNT";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum PayoutFaultMode {
    /// The payout is created, then settled FAILED with `errorCode` (default
    /// `INVALID_BANK_ACCOUNT`).
    Fail,
    /// The payout is created and its reply stored, then the answer is held `timeoutMs`.
    Timeout,
    /// Answer the Toss error `errorCode` (default `FAILED_INTERNAL_SYSTEM_PROCESSING`, 500);
    /// nothing is created.
    Error,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields, example)]
pub struct PayoutFaultRequest {
    pub mode: PayoutFaultMode,
    /// `fail`: the payout's error code (upper-case letters, digits, `_`); `error`: a Toss
    /// error code the sandbox knows.
    #[oai(nullable, deserialize_with = "service_kit::strict::json_opt_string")]
    pub error_code: Option<String>,
    /// `fail`: the payout's error message (default: one for the code).
    #[oai(
        nullable,
        validator(max_length = 200),
        deserialize_with = "service_kit::strict::json_opt_string"
    )]
    pub error_message: Option<String>,
    /// Applies to the next `times` requests naming the refPayoutId.
    #[oai(
        default = "one",
        validator(minimum(value = "1"), maximum(value = "1000")),
        nullable
    )]
    pub times: u32,
    /// `timeout`: how long the answer is held (default: the global `timeoutMs`).
    #[oai(validator(maximum(value = "300000")), nullable)]
    pub timeout_ms: Option<u64>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct PayoutFaultView {
    pub ref_payout_id: String,
    pub mode: PayoutFaultMode,
    pub error_code: String,
    pub error_message: String,
    /// Requests still to be hit.
    pub remaining: u32,
    pub timeout_ms: u64,
}

/// What one new payout request runs into.
#[derive(Debug, Clone)]
pub enum PayoutPlan {
    Pass,
    /// Created, settled FAILED with this `(code, message)`.
    Fail(String, String),
    /// Created, answered after this long.
    Timeout(Duration),
    /// Answered with this error, nothing created.
    Error(&'static TossCode),
}

/// The message of a payout failure code.
pub fn failure_message(code: &str) -> String {
    match code {
        INVALID_BANK_ACCOUNT => "유효하지 않은 계좌입니다.",
        "INSUFFICIENT_BALANCE" => "지급대행 잔액이 부족합니다.",
        _ => "지급대행에 실패했습니다.",
    }
    .to_string()
}

fn valid_failure_code(code: &str) -> bool {
    (1..=64).contains(&code.len())
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Pending per-refPayoutId faults (test controls, in memory).
#[derive(Debug, Default)]
pub struct PayoutFaults {
    pending: HashMap<String, PayoutFaultView>,
}

impl PayoutFaults {
    /// Checks and stores a fault; `Err` names what is wrong.
    pub fn set(
        &mut self,
        ref_payout_id: &str,
        request: PayoutFaultRequest,
        default_timeout_ms: u64,
    ) -> Result<PayoutFaultView, (String, String)> {
        let code = match (request.mode, request.error_code) {
            (PayoutFaultMode::Error, code) => {
                let name = code.unwrap_or_else(|| codes::FAILED_INTERNAL_SYSTEM_PROCESSING.into());
                let Some(found) = codes::find(&name) else {
                    let why = format!("{name} is not a Toss error code the sandbox knows");
                    return Err(("errorCode".into(), why));
                };
                found.code.to_string()
            }
            (_, Some(code)) if !valid_failure_code(&code) => {
                let why = "must be 1–64 of A-Z, 0-9 and _".to_string();
                return Err(("errorCode".into(), why));
            }
            (_, code) => code.unwrap_or_else(|| INVALID_BANK_ACCOUNT.into()),
        };
        let message = request
            .error_message
            .unwrap_or_else(|| failure_message(&code));
        let view = PayoutFaultView {
            ref_payout_id: ref_payout_id.to_string(),
            mode: request.mode,
            error_code: code,
            error_message: message,
            remaining: request.times,
            timeout_ms: request.timeout_ms.unwrap_or(default_timeout_ms),
        };
        self.pending.insert(ref_payout_id.to_string(), view.clone());
        Ok(view)
    }

    pub fn get(&self, ref_payout_id: &str) -> Option<PayoutFaultView> {
        self.pending.get(ref_payout_id).cloned()
    }

    pub fn remove(&mut self, ref_payout_id: &str) {
        self.pending.remove(ref_payout_id);
    }

    pub fn clear(&mut self) {
        self.pending.clear();
    }

    /// The plan for one request naming `ref_payout_id`; a pending fault is used up by it.
    pub fn sample(&mut self, ref_payout_id: &str) -> PayoutPlan {
        let Some(fault) = self.pending.get_mut(ref_payout_id) else {
            return PayoutPlan::Pass;
        };
        fault.remaining = fault.remaining.saturating_sub(1);
        let plan = match fault.mode {
            PayoutFaultMode::Fail => {
                PayoutPlan::Fail(fault.error_code.clone(), fault.error_message.clone())
            }
            PayoutFaultMode::Timeout => {
                PayoutPlan::Timeout(Duration::from_millis(fault.timeout_ms))
            }
            PayoutFaultMode::Error => PayoutPlan::Error(codes::get(&fault.error_code)),
        };
        if fault.remaining == 0 {
            self.pending.remove(ref_payout_id);
        }
        plan
    }
}
