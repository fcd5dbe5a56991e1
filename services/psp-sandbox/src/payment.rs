//! Toss's Payment object (API version 2022-11-16), the fields a card payment has. Fields the
//! sandbox never fills (virtual account, transfer, discounts, …) are answered as `null`, as
//! Toss does for a card payment, so clients written against Toss parse them. `cancels` is
//! `null` until the first refund, as in Toss's answers.

use chrono::{DateTime, FixedOffset, Offset, Utc};
use poem_openapi::{Enum, Object};
use serde_json::Value;

use crate::{amount::Amount, errors::TossError};

/// Toss answers times in Korea Standard Time with an explicit offset.
const KST_SECONDS: i32 = 9 * 3600;

pub fn kst_offset() -> FixedOffset {
    FixedOffset::east_opt(KST_SECONDS).unwrap_or_else(|| Utc.fix())
}

/// A time read from the database (UTC) as Toss shows it.
pub fn kst(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.with_timezone(&kst_offset())
}

pub fn now_kst() -> DateTime<FixedOffset> {
    kst(Utc::now())
}

/// `2024-02-13T12:18:14+09:00`: second precision with offset, as in Toss's examples.
pub fn toss_time(t: &DateTime<FixedOffset>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

// A payment's state; its `status` column holds the same spelling as text
// (`payments_status_check` in migrations/psp-sandbox/20261201000000_payments.sql); no doc
// comment: poem-openapi would make it the schema's description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, sqlx::Type)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
#[sqlx(type_name = "text", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    /// Approved in the payment window, waiting for the merchant's confirm.
    Ready,
    /// Confirmed: the customer has been charged.
    Done,
    /// The confirm was declined; `failure` says why.
    Aborted,
    /// Refunded in full (`balanceAmount` 0).
    Canceled,
    /// Refunded in part; the rest (`balanceAmount`) can still be cancelled.
    PartialCanceled,
    /// Never confirmed in time (Toss expires READY payments; the sandbox never does, the
    /// status exists so clients written against Toss's enum parse it).
    Expired,
}

impl PaymentStatus {
    /// The spelling on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "READY",
            Self::Done => "DONE",
            Self::Aborted => "ABORTED",
            Self::Canceled => "CANCELED",
            Self::PartialCanceled => "PARTIAL_CANCELED",
            Self::Expired => "EXPIRED",
        }
    }
}

/// One refund of a payment (an element of Toss's `cancels`).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Cancel {
    pub cancel_amount: Amount,
    pub cancel_reason: String,
    pub tax_free_amount: i64,
    pub tax_exemption_amount: i64,
    /// What can still be refunded after this cancel.
    pub refundable_amount: i64,
    pub easy_pay_discount_amount: i64,
    pub canceled_at: String,
    pub transaction_key: String,
    pub receipt_key: String,
    /// Always DONE: the sandbox's refunds complete at once.
    pub cancel_status: String,
    #[oai(nullable)]
    pub cancel_request_id: Option<String>,
}

/// Card details of a card payment (the subset the sandbox fills).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Card {
    pub amount: Amount,
    pub issuer_code: String,
    pub acquirer_code: String,
    /// Masked card number.
    pub number: String,
    pub installment_plan_months: u32,
    pub approve_no: String,
    pub use_card_point: bool,
    /// 신용, 체크, 기프트.
    pub card_type: String,
    /// 개인, 법인.
    pub owner_type: String,
    /// READY until the card company acquires the payment.
    pub acquire_status: String,
    pub is_interest_free: bool,
    #[oai(nullable)]
    pub interest_payer: Option<String>,
}

/// Toss's Payment object.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct Payment {
    pub m_id: String,
    /// Toss API version of this object.
    pub version: String,
    #[oai(nullable)]
    pub last_transaction_key: Option<String>,
    pub payment_key: String,
    pub order_id: String,
    pub order_name: String,
    pub tax_exemption_amount: i64,
    pub status: PaymentStatus,
    /// When the customer approved in the payment window.
    pub requested_at: String,
    /// When the confirm charged the card; null before.
    #[oai(nullable)]
    pub approved_at: Option<String>,
    pub use_escrow: bool,
    pub culture_expense: bool,
    #[oai(nullable)]
    pub card: Option<Card>,
    #[oai(nullable)]
    pub virtual_account: Option<Value>,
    #[oai(nullable)]
    pub transfer: Option<Value>,
    #[oai(nullable)]
    pub mobile_phone: Option<Value>,
    #[oai(nullable)]
    pub gift_certificate: Option<Value>,
    #[oai(nullable)]
    pub cash_receipt: Option<Value>,
    #[oai(nullable)]
    pub discount: Option<Value>,
    /// Refunds in the order they were made; null before the first.
    #[oai(nullable)]
    pub cancels: Option<Vec<Cancel>>,
    #[oai(nullable)]
    pub secret: Option<String>,
    /// NORMAL (one-off payment), BILLING or BRANDPAY.
    #[oai(rename = "type")]
    pub kind: String,
    #[oai(nullable)]
    pub easy_pay: Option<Value>,
    pub country: String,
    /// Why the payment was aborted; null otherwise.
    #[oai(nullable)]
    pub failure: Option<TossError>,
    pub is_partial_cancelable: bool,
    pub currency: String,
    pub total_amount: Amount,
    /// totalAmount minus every cancel.
    pub balance_amount: i64,
    pub supplied_amount: i64,
    pub vat: i64,
    pub tax_free_amount: i64,
    /// Payment method, in Korean as Toss answers it (카드 = card).
    pub method: String,
}

/// VAT included in a VAT-inclusive total: total / 11 rounded half up, as in Toss's example
/// (15000 → 1364 VAT, 13636 supplied). For integers, `(total + 5) / 11` is exactly that.
pub fn vat_of(total: i64) -> i64 {
    (total + 5) / 11
}

/// The sandbox's own record of one payment.
#[derive(Debug, Clone)]
pub struct PaymentRecord {
    pub payment_key: String,
    pub order_id: String,
    pub order_name: String,
    pub amount: Amount,
    pub status: PaymentStatus,
    pub requested_at: DateTime<FixedOffset>,
    pub approved_at: Option<DateTime<FixedOffset>>,
    pub last_transaction_key: Option<String>,
    pub approve_no: Option<String>,
    pub failure: Option<TossError>,
    pub balance: i64,
    pub cancels: Vec<CancelRecord>,
}

/// The sandbox's record of one refund.
#[derive(Debug, Clone)]
pub struct CancelRecord {
    pub transaction_key: String,
    pub amount: Amount,
    pub reason: String,
    pub refundable: i64,
    pub receipt_key: String,
    pub canceled_at: DateTime<FixedOffset>,
}

impl CancelRecord {
    fn to_cancel(&self) -> Cancel {
        Cancel {
            cancel_amount: self.amount,
            cancel_reason: self.reason.clone(),
            tax_free_amount: 0,
            tax_exemption_amount: 0,
            refundable_amount: self.refundable,
            easy_pay_discount_amount: 0,
            canceled_at: toss_time(&self.canceled_at),
            transaction_key: self.transaction_key.clone(),
            receipt_key: self.receipt_key.clone(),
            cancel_status: "DONE".into(),
            cancel_request_id: None,
        }
    }
}

impl PaymentRecord {
    pub fn to_payment(&self) -> Payment {
        let total = self.amount.0;
        let vat = vat_of(total);
        let card = self.approve_no.as_ref().map(|approve_no| Card {
            amount: self.amount,
            issuer_code: "71".into(),
            acquirer_code: "71".into(),
            number: "43301234****123*".into(),
            installment_plan_months: 0,
            approve_no: approve_no.clone(),
            use_card_point: false,
            card_type: "신용".into(),
            owner_type: "개인".into(),
            acquire_status: "READY".into(),
            is_interest_free: false,
            interest_payer: None,
        });
        Payment {
            m_id: "tvivarepublica".into(),
            version: "2022-11-16".into(),
            last_transaction_key: self.last_transaction_key.clone(),
            payment_key: self.payment_key.clone(),
            order_id: self.order_id.clone(),
            order_name: self.order_name.clone(),
            tax_exemption_amount: 0,
            status: self.status,
            requested_at: toss_time(&self.requested_at),
            approved_at: self.approved_at.as_ref().map(toss_time),
            use_escrow: false,
            culture_expense: false,
            card,
            virtual_account: None,
            transfer: None,
            mobile_phone: None,
            gift_certificate: None,
            cash_receipt: None,
            discount: None,
            cancels: (!self.cancels.is_empty())
                .then(|| self.cancels.iter().map(CancelRecord::to_cancel).collect()),
            secret: None,
            kind: "NORMAL".into(),
            easy_pay: None,
            country: "KR".into(),
            failure: self.failure.clone(),
            is_partial_cancelable: matches!(
                self.status,
                PaymentStatus::Done | PaymentStatus::PartialCanceled
            ),
            currency: "KRW".into(),
            total_amount: self.amount,
            balance_amount: self.balance,
            supplied_amount: total - vat,
            vat,
            tax_free_amount: 0,
            method: "카드".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vat_matches_tosss_example_and_rounds_half_up() {
        assert_eq!(vat_of(15000), 1364);
        assert_eq!(vat_of(1000), 91);
        assert_eq!(vat_of(11), 1);
        assert_eq!(vat_of(5), 0);
        assert_eq!(vat_of(6), 1);
    }

    #[test]
    fn times_carry_the_kst_offset() {
        let t = toss_time(&now_kst());
        assert!(t.ends_with("+09:00") && t.len() == 25, "{t}");
    }
}
