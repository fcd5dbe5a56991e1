//! The parts of the services' answers the demo reads (openapi/*.json has them all). Only the
//! fields a step uses: a required one missing fails the step, as it should. Money and ids are
//! JSON strings in the API; [`Money`] keeps what came so the demo sends it back unchanged
//! (checkout → sandbox approval → confirm) and prints it as it came.

use std::{fmt, str::FromStr};

use anyhow::Context;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An amount as the API wrote it (`"70000"`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Money(pub Value);

impl Money {
    pub fn decimal(&self) -> anyhow::Result<Decimal> {
        let text = crate::json::text(&self.0);
        Decimal::from_str(text.trim())
            .or_else(|_| Decimal::from_scientific(text.trim()))
            .with_context(|| format!("not a decimal number: {:?}", self.0))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::json::text(&self.0))
    }
}

/// An amount as a JSON number (what a shop's form sends: `{"amount": 57500}`).
pub fn number(amount: Decimal) -> anyhow::Result<Value> {
    serde_json::from_str(&amount.to_string()).with_context(|| format!("not a number: {amount}"))
}

/// A value shown as the bash demo's `jget` showed it (strings raw, null as nothing, the rest
/// as one line of JSON): fields only ever printed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Shown(pub Value);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::json::text(&self.0))
    }
}

impl Shown {
    /// As JSON (strings quoted, `null`), as `jget --json` printed it.
    pub fn json(&self) -> String {
        crate::pretty::one_line(&self.0)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Seller {
    pub seller_no: String,
    pub status: String,
    pub wallet_no: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub product_no: String,
}

#[derive(Deserialize)]
pub struct ProductName {
    pub name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductList {
    pub products: Vec<ProductName>,
    pub missing_product_nos: Shown,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkout {
    pub order_id: String,
    pub amount: Money,
    pub order_name: String,
    pub payment_event_no: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    pub payment_key: String,
}

#[derive(Deserialize)]
pub struct Confirmed {
    pub status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SellerOf {
    pub seller_no: String,
}

#[derive(Deserialize)]
pub struct CancelState {
    pub status: String,
}

/// GET /api/payments/{orderId}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub status: String,
    pub is_wallet_done: bool,
    pub refunded_amount: Money,
    pub refundable_amount: Option<Money>,
    pub lines: Vec<SellerOf>,
    pub cancels: Vec<CancelState>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Canceled {
    pub cancel_no: String,
    pub status: String,
    pub cancel_amount: Money,
    pub order_status: String,
    pub refundable_amount: Money,
}

/// One row of GET /api/hot-products (the table prints from the answer as it came).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HotProduct {
    pub product_no: String,
    pub rank: i64,
    pub score: f64,
    pub like_count: i64,
    pub review_count: i64,
    pub paid_order_lines: i64,
}

#[derive(Deserialize)]
pub struct HotProducts {
    pub products: Vec<HotProduct>,
}

impl HotProducts {
    pub fn of(&self, product: &str) -> Option<&HotProduct> {
        self.products.iter().find(|p| p.product_no == product)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Like {
    pub changed: bool,
    pub like_count: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    pub product_review_no: String,
    pub star_rating_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewSummary {
    pub review_count: i64,
    pub average_rating: Shown,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberOrder {
    pub status: String,
    pub wallet_settled: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cursor {
    pub payment_event_no: String,
    pub created_date_time: Shown,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderPage {
    pub orders: Vec<MemberOrder>,
    pub next_cursor: Option<Cursor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Wallet {
    pub wallet_no: String,
    pub balance: Money,
    pub pending: Money,
    pub available: Money,
    pub in_transit: Money,
    pub paid_out: Money,
    pub version: i64,
}

#[derive(Deserialize)]
pub struct PayoutStep {
    pub to: String,
    pub source: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payout {
    pub payout_no: String,
    pub status: String,
    pub psp_payout_id: Option<String>,
    pub failure_code: Option<String>,
    #[serde(default)]
    pub history: Vec<PayoutStep>,
}

/// The PubAck of a publish (crate::publish).
#[derive(Deserialize)]
pub struct PubAck {
    pub stream: String,
    pub seq: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub id: String,
    #[serde(default)]
    pub consumer: String,
    pub reason: Shown,
    #[serde(default)]
    pub deliveries: Shown,
    #[serde(default)]
    pub payload_text: Option<String>,
    #[serde(default)]
    pub headers: Shown,
    #[serde(default)]
    pub resolved_at: Shown,
    pub replay_count: i64,
    #[serde(default)]
    pub last_error: Shown,
    #[serde(default)]
    pub event_id: Shown,
}

#[derive(Deserialize)]
pub struct DeadLetterPage {
    pub items: Vec<DeadLetter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Replayed {
    pub outcome: String,
    pub consumer: String,
    pub dead_letter: DeadLetter,
}
