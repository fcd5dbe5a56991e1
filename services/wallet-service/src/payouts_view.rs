//! The payout resources of the API, and their OpenAPI examples.

use chrono::{DateTime, Utc};
use poem_openapi::{types::Example, Object};
use rust_decimal::Decimal;
use serde_json::json;
use service_kit::{openapi::example, Id};

use crate::payouts::{
    store::{HistoryRow, PayoutRow},
    PayoutStatus,
};

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields, example)]
pub struct PayoutRequest {
    /// Whole won, above 0 and at most the seller's `available`.
    pub amount: Decimal,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct PayoutStatusChange {
    /// Absent for the first row (the payout was requested).
    #[oai(skip_serializing_if_is_none)]
    pub from: Option<PayoutStatus>,
    pub to: PayoutStatus,
    /// What moved it: `api`, `lookup` (the recovery job), `webhook` or `admin`.
    pub source: String,
    #[oai(skip_serializing_if_is_none)]
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct Payout {
    /// Ours; the PSP's `refPayoutId`.
    pub payout_no: Id,
    pub seller_no: Id,
    pub amount: Decimal,
    /// `REQUESTED` (not sent yet), `SENT` (the PSP has it), `UNKNOWN` (no answer yet: looked
    /// up again), `COMPLETED` (paid out) or `FAILED` (the money is available again).
    pub status: PayoutStatus,
    /// The PSP's id (`FPA_…`) once it answered.
    #[oai(skip_serializing_if_is_none)]
    pub psp_payout_id: Option<String>,
    /// Why a FAILED payout failed (the PSP's code, e.g. `INVALID_BANK_ACCOUNT`).
    #[oai(skip_serializing_if_is_none)]
    pub failure_code: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub failure_message: Option<String>,
    /// PSP calls that left it open (timeouts, lookups while the PSP was still paying).
    pub attempts: i32,
    pub requested_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub sent_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub completed_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub failed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// Why the last PSP call left an open payout open (a timeout, the PSP's error): only on
    /// the operators' endpoints (`/admin/payouts/…`), since it may name our internals.
    #[oai(skip_serializing_if_is_none)]
    pub last_error: Option<String>,
    /// Status changes, oldest first (only on `GET …/payouts/{payoutNo}`).
    #[oai(skip_serializing_if_is_none)]
    pub history: Option<Vec<PayoutStatusChange>>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct PayoutPage {
    /// Newest first.
    pub payouts: Vec<Payout>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

/// A payout as its seller sees it.
pub fn view(row: PayoutRow, history: Option<Vec<HistoryRow>>) -> Payout {
    Payout {
        last_error: None,
        ..admin_view(row, history)
    }
}

/// A payout as operators see it: with the last error of an open one.
pub fn admin_view(row: PayoutRow, history: Option<Vec<HistoryRow>>) -> Payout {
    Payout {
        payout_no: row.payout_no.into(),
        seller_no: row.seller_no.into(),
        amount: row.amount.normalize(),
        status: row.status,
        psp_payout_id: row.psp_payout_id,
        failure_code: row.failure_code,
        failure_message: row.failure_message.filter(|m| !m.is_empty()),
        attempts: row.attempts,
        requested_at: row.requested_at,
        sent_at: row.sent_at,
        completed_at: row.completed_at,
        failed_at: row.failed_at,
        updated_at: row.updated_at,
        last_error: row.last_error.filter(|_| row.status.is_open()),
        history: history.map(|h| {
            h.into_iter()
                .map(|h| PayoutStatusChange {
                    from: h.from_status,
                    to: h.to_status,
                    source: h.source,
                    detail: h.detail,
                    at: h.created_at,
                })
                .collect()
        }),
    }
}

impl Example for PayoutRequest {
    fn example() -> Self {
        example(json!({"amount": "5000"}))
    }
}

fn payout_json() -> serde_json::Value {
    json!({
        "payoutNo": "7163052362956759100",
        "sellerNo": "1",
        "amount": "5000",
        "status": "COMPLETED",
        "pspPayoutId": "FPA_9f3c1b2a7d4e4c0b",
        "attempts": 0,
        "requestedAt": "2024-02-15T02:00:00Z",
        "sentAt": "2024-02-15T02:00:00.120Z",
        "completedAt": "2024-02-15T02:00:01.300Z",
        "updatedAt": "2024-02-15T02:00:01.300Z",
        "history": [
            {"to": "REQUESTED", "source": "api", "at": "2024-02-15T02:00:00Z"},
            {"from": "REQUESTED", "to": "SENT", "source": "api", "at": "2024-02-15T02:00:00.120Z"},
            {"from": "SENT", "to": "COMPLETED", "source": "webhook", "at": "2024-02-15T02:00:01.300Z"}
        ]
    })
}

impl Example for Payout {
    fn example() -> Self {
        example(payout_json())
    }
}

impl Example for PayoutPage {
    fn example() -> Self {
        let mut item = payout_json();
        if let Some(o) = item.as_object_mut() {
            o.remove("history");
        }
        example(json!({"payouts": [item]}))
    }
}
