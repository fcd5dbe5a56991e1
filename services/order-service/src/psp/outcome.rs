//! What a PSP answer means for our record (docs/payments.md, "Outcome rules"): only a card
//! decline is a FAILURE; a request-level refusal means this attempt did not happen; our own
//! credentials being refused is our failure, never the customer's; anything else is unknown
//! until looked up.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::status::PspPaymentStatus;

/// Toss' Payment object, the fields we use.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossPayment {
    pub payment_key: String,
    pub order_id: String,
    pub status: PspPaymentStatus,
    pub total_amount: Decimal,
    /// `KRW`; Toss sends it on every Payment (absent in older answers we stored: then KRW).
    #[serde(default)]
    pub currency: Option<String>,
    /// What is still refundable; Toss sends it on every Payment.
    #[serde(default)]
    pub balance_amount: Option<Decimal>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub approved_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub cancels: Option<Vec<TossCancel>>,
}

impl TossPayment {
    /// Refunded so far (`totalAmount − balanceAmount`, or the sum of the cancels).
    pub fn refunded(&self) -> Decimal {
        match self.balance_amount {
            Some(balance) => self.total_amount - balance,
            None => self.cancels.iter().flatten().map(|c| c.cancel_amount).sum(),
        }
    }

    /// Whether this is a charge of exactly the order's amount in the order's currency; a
    /// charge of anything else is not ours to accept (attempt/mod.rs refunds it).
    pub fn charged_as_ordered(&self, amount: Decimal, currency: &str) -> bool {
        self.total_amount == amount && self.currency.as_deref().is_none_or(|c| c == currency)
    }

    /// The customer was charged (and may have been refunded since).
    pub fn was_charged(&self) -> bool {
        self.status.was_charged()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossCancel {
    pub cancel_amount: Decimal,
    #[serde(default)]
    pub transaction_key: Option<String>,
    #[serde(default)]
    pub canceled_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TossErrorBody {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// What a PSP call told us.
#[derive(Debug, Clone)]
pub enum PspOutcome {
    /// A Payment object (its status and amount still to be checked by the caller).
    Answered(TossPayment, serde_json::Value),
    /// The PSP says this payment was already confirmed: look it up.
    AlreadyProcessed,
    /// The card network refused the payment: final, no money moved.
    Declined { code: String, message: String },
    /// The PSP refused this request (wrong key, ids, amount, state): the attempt did not
    /// happen, nothing moved, the order is as it was.
    Rejected { code: String, message: String },
    /// The PSP refused our merchant credentials: our failure, not the customer's.
    Credentials { code: String },
    /// The PSP failed or did not answer: the outcome is not known yet.
    Unknown { reason: String },
}

/// Codes Toss documents as transient: the same request may succeed later.
const RETRYABLE_CODES: &[&str] = &[
    "PROVIDER_ERROR",
    "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING",
    "FAILED_INTERNAL_SYSTEM_PROCESSING",
    "UNKNOWN_PAYMENT_ERROR",
    "UNKNOWN",
    "FAILED_CARD_COMPANY_RESPONSE",
    "CARD_PROCESSING_ERROR",
    "FAILED_REFUND_PROCESS",
    "FAILED_PARTIAL_REFUND",
    // The PSP is still processing the same Idempotency-Key: the outcome is not known yet.
    "IDEMPOTENT_REQUEST_PROCESSING",
];

/// Card-network refusals of the payment itself (Toss' confirm error table).
const DECLINE_CODES: &[&str] = &[
    "REJECT_CARD_PAYMENT",
    "REJECT_CARD_COMPANY",
    "REJECT_ACCOUNT_PAYMENT",
    "REJECT_TOSSPAY_INVALID_ACCOUNT",
    "FDS_ERROR",
    "INVALID_PASSWORD",
    "EXCEED_MAX_DAILY_PAYMENT_COUNT",
    "EXCEED_MAX_PAYMENT_AMOUNT",
    "EXCEED_MAX_AMOUNT",
    "EXCEED_MAX_CARD_INSTALLMENT_PLAN",
    "INVALID_STOPPED_CARD",
    "INVALID_CARD_EXPIRATION",
    "INVALID_REJECT_CARD",
    "INVALID_CARD_LOST_OR_STOLEN",
    "INVALID_CARD_NUMBER",
    "NOT_AVAILABLE_PAYMENT",
];

/// Refusals of the request: nothing happened to any payment.
const REQUEST_CODES: &[&str] = &[
    "INVALID_REQUEST",
    "NOT_FOUND_PAYMENT",
    "NOT_FOUND_PAYMENT_SESSION",
    "UNAPPROVED_ORDER_ID",
    "BELOW_MINIMUM_AMOUNT",
    "FORBIDDEN_REQUEST",
    "NOT_CANCELABLE_AMOUNT",
    "NOT_CANCELABLE_PAYMENT",
    "ALREADY_CANCELED_PAYMENT",
];

/// Our secret key refused.
const CREDENTIAL_CODES: &[&str] = &["UNAUTHORIZED_KEY", "INVALID_API_KEY"];

/// Classifies an error answer. An unrecognised 4xx code is *unknown*, not a decline: only a
/// code we know to mean "no money moved" may end an order or free its key.
pub fn classify_error(code: String, message: String, http_status: u16) -> PspOutcome {
    // DUPLICATED_ORDER_ID is Toss's "this orderId already has an approved or cancelled
    // payment": money moved for the order, perhaps under another key of the customer's. Like
    // an already processed key, it is settled by the order's record at the PSP, never by
    // freeing the order (found in review: the charge was left to reconciliation alone).
    if code == "ALREADY_PROCESSED_PAYMENT" || code == "DUPLICATED_ORDER_ID" {
        PspOutcome::AlreadyProcessed
    } else if CREDENTIAL_CODES.contains(&code.as_str()) || http_status == 401 {
        PspOutcome::Credentials { code }
    } else if RETRYABLE_CODES.contains(&code.as_str())
        || http_status >= 500
        || http_status == 429
        || http_status == 409
    {
        PspOutcome::Unknown { reason: code }
    } else if DECLINE_CODES.contains(&code.as_str()) {
        PspOutcome::Declined { code, message }
    } else if REQUEST_CODES.contains(&code.as_str()) {
        PspOutcome::Rejected { code, message }
    } else {
        PspOutcome::Unknown {
            reason: format!("UNRECOGNISED_{code}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::{classify_error, PspOutcome, TossPayment};

    #[test]
    fn a_charge_is_ours_only_in_our_amount_and_currency() {
        let payment = |amount: i64, currency: Option<&str>| TossPayment {
            payment_key: "pk".into(),
            order_id: "o".into(),
            status: "DONE".into(),
            total_amount: Decimal::from(amount),
            currency: currency.map(Into::into),
            balance_amount: None,
            method: None,
            approved_at: None,
            cancels: None,
        };
        let ordered = Decimal::from(3000);
        assert!(payment(3000, Some("KRW")).charged_as_ordered(ordered, "KRW"));
        assert!(payment(3000, None).charged_as_ordered(ordered, "KRW"));
        assert!(!payment(3000, Some("USD")).charged_as_ordered(ordered, "KRW"));
        assert!(!payment(3001, Some("KRW")).charged_as_ordered(ordered, "KRW"));
    }

    fn of(code: &str, status: u16) -> PspOutcome {
        classify_error(code.into(), String::new(), status)
    }

    #[test]
    fn only_card_declines_are_declines() {
        assert!(matches!(
            of("REJECT_CARD_PAYMENT", 403),
            PspOutcome::Declined { .. }
        ));
        assert!(matches!(
            of("NOT_FOUND_PAYMENT", 404),
            PspOutcome::Rejected { .. }
        ));
        assert!(matches!(
            of("INVALID_REQUEST", 400),
            PspOutcome::Rejected { .. }
        ));
        assert!(matches!(
            of("UNAUTHORIZED_KEY", 401),
            PspOutcome::Credentials { .. }
        ));
        assert!(matches!(
            of("INVALID_API_KEY", 400),
            PspOutcome::Credentials { .. }
        ));
        assert!(matches!(of("ANYTHING", 503), PspOutcome::Unknown { .. }));
        assert!(matches!(
            of("DUPLICATED_ORDER_ID", 400),
            PspOutcome::AlreadyProcessed
        ));
        assert!(matches!(
            of("PROVIDER_ERROR", 400),
            PspOutcome::Unknown { .. }
        ));
        assert!(matches!(
            of("SOMETHING_NEW", 400),
            PspOutcome::Unknown { .. }
        ));
    }
}
