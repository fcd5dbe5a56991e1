//! Toss's payout objects (지급대행, API v2): the request item, the payout item answered and
//! sent in `payout.changed` webhooks, and the v2 envelope `{version, traceId, entityType,
//! entityBody}`.

use chrono::{DateTime, FixedOffset, NaiveDate};
use poem_openapi::{Enum, Object};
use serde_json::Value;
use service_kit::strict::json_string;

use crate::{amount::Amount, errors::TossError, payment::toss_time};

/// Toss API version of the v2 objects.
pub const VERSION: &str = "2022-11-16";

// Stored as text in `payouts` (`payouts_schedule_type_check` in
// migrations/psp-sandbox/20261215000000_payouts.sql lists the same spellings); no doc
// comment: poem-openapi would make it the schema's description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, sqlx::Type)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
#[sqlx(type_name = "text", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScheduleType {
    /// Paid out today, as soon as possible.
    Express,
    /// Paid out on `payoutDate` (the sandbox settles it after the same delay as EXPRESS).
    Scheduled,
}

impl ScheduleType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Express => "EXPRESS",
            Self::Scheduled => "SCHEDULED",
        }
    }
}

// Stored as text in `payouts` (`payouts_status_check` in
// migrations/psp-sandbox/20261215000000_payouts.sql lists the same spellings); no doc
// comment: poem-openapi would make it the schema's description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, sqlx::Type)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
#[sqlx(type_name = "text", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PayoutStatus {
    /// Accepted; the money has not moved yet.
    Requested,
    /// Paid to the seller.
    Completed,
    /// Not paid; `error` says why.
    Failed,
}

impl PayoutStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "REQUESTED",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
        }
    }
}

/// `{currency: "KRW", value}`.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
pub struct PayoutAmount {
    /// Only KRW.
    #[oai(validator(pattern = "^KRW$"))]
    pub currency: String,
    /// Whole won, > 0.
    pub value: Amount,
}

/// One payout asked for in `POST /v2/payouts`.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct PayoutRequestItem {
    /// The merchant's own id of the payout, unique per merchant: a repeated one answers the
    /// existing payout.
    #[oai(
        deserialize_with = "json_string",
        validator(min_length = 1, max_length = 100)
    )]
    pub ref_payout_id: String,
    /// The seller paid (their id).
    #[oai(
        deserialize_with = "json_string",
        validator(min_length = 1, max_length = 100)
    )]
    pub destination: String,
    pub schedule_type: ScheduleType,
    /// YYYY-MM-DD (KST); required for SCHEDULED (today or later), today if given for EXPRESS.
    #[oai(nullable)]
    pub payout_date: Option<String>,
    pub amount: PayoutAmount,
    /// Shown on the seller's statement.
    #[oai(
        deserialize_with = "json_string",
        validator(min_length = 1, max_length = 100)
    )]
    pub transaction_description: String,
    /// A JSON object of the merchant's own (at most 5 keys), answered back as given.
    #[oai(nullable)]
    pub metadata: Option<Value>,
}

/// A payout as Toss answers it (and sends it in `payout.changed`).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct PayoutItem {
    /// `FPA_…`.
    pub id: String,
    pub ref_payout_id: String,
    pub destination: String,
    pub schedule_type: ScheduleType,
    /// YYYY-MM-DD.
    pub payout_date: String,
    pub amount: PayoutAmount,
    pub transaction_description: String,
    pub requested_at: String,
    pub status: PayoutStatus,
    /// Why a FAILED payout failed; null otherwise.
    #[oai(nullable)]
    pub error: Option<TossError>,
    #[oai(nullable)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct PayoutItems {
    pub items: Vec<PayoutItem>,
}

/// Toss v2's envelope around a list of payouts.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct PayoutList {
    pub version: String,
    /// Unique per answer.
    pub trace_id: String,
    /// Always `payout`.
    pub entity_type: String,
    pub entity_body: PayoutItems,
}

/// Toss v2's envelope around one payout.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct PayoutOne {
    pub version: String,
    pub trace_id: String,
    /// Always `payout`.
    pub entity_type: String,
    pub entity_body: PayoutItem,
}

/// The sandbox's record of a payout.
#[derive(Debug, Clone)]
pub struct PayoutRecord {
    pub id: String,
    pub ref_payout_id: String,
    pub destination: String,
    pub schedule_type: ScheduleType,
    pub payout_date: NaiveDate,
    pub amount: i64,
    pub transaction_description: String,
    pub metadata: Option<Value>,
    pub status: PayoutStatus,
    pub requested_at: DateTime<FixedOffset>,
    pub error: Option<TossError>,
}

impl PayoutRecord {
    pub fn to_item(&self) -> PayoutItem {
        PayoutItem {
            id: self.id.clone(),
            ref_payout_id: self.ref_payout_id.clone(),
            destination: self.destination.clone(),
            schedule_type: self.schedule_type,
            payout_date: self.payout_date.format("%Y-%m-%d").to_string(),
            amount: PayoutAmount {
                currency: "KRW".into(),
                value: Amount(self.amount),
            },
            transaction_description: self.transaction_description.clone(),
            requested_at: toss_time(&self.requested_at),
            status: self.status,
            error: self.error.clone(),
            metadata: self.metadata.clone(),
        }
    }
}
