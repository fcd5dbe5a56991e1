//! Payloads of every event in docs/architecture.md §4. They carry what consumers need, so no consumer has
//! to call the producer back. Ids are strings on the wire, money is a decimal string.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{envelope::Event, ids};

macro_rules! event {
    ($ty:ident, $name:literal, $version:literal) => {
        impl Event for $ty {
            const TYPE: &'static str = $name;
            const VERSION: u32 = $version;
        }
    };
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaidOrderLine {
    #[serde(with = "ids::string")]
    pub payment_order_no: i64,
    #[serde(with = "ids::string")]
    pub product_no: i64,
    #[serde(with = "ids::string")]
    pub seller_no: i64,
    pub product_name: String,
    pub amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentConfirmed {
    #[serde(with = "ids::string")]
    pub payment_event_no: i64,
    #[serde(with = "ids::string")]
    pub member_no: i64,
    pub order_id: String,
    pub order_name: String,
    pub payment_key: String,
    pub method: String,
    pub approved_at: DateTime<Utc>,
    pub total_amount: Decimal,
    /// When the order was placed; the read model sorts by it.
    pub ordered_at: DateTime<Utc>,
    pub lines: Vec<PaidOrderLine>,
}
event!(PaymentConfirmed, "order.payment.confirmed", 1);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentFailed {
    #[serde(with = "ids::string")]
    pub payment_event_no: i64,
    #[serde(with = "ids::string")]
    pub member_no: i64,
    pub order_id: String,
    pub order_name: String,
    pub total_amount: Decimal,
    pub ordered_at: DateTime<Utc>,
    /// PSP or internal reason code, e.g. `REJECT_CARD_PAYMENT`.
    pub reason_code: String,
}
event!(PaymentFailed, "order.payment.failed", 1);

/// One line's share of a cancel: what is refunded of that line in this cancel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CanceledLine {
    #[serde(with = "ids::string")]
    pub payment_order_no: i64,
    #[serde(with = "ids::string")]
    pub product_no: i64,
    #[serde(with = "ids::string")]
    pub seller_no: i64,
    /// Refunded of this line by this cancel (whole won, > 0).
    pub amount: Decimal,
    /// The line's amount at checkout, so a consumer can tell a full from a partial refund.
    pub line_amount: Decimal,
}

/// `order.payment.canceled`: one cancel (full or partial) that the PSP confirmed. Published
/// once per cancel; `cancelNo` is unique per cancel, so consumers key their reversal on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentCanceled {
    #[serde(with = "ids::string")]
    pub payment_event_no: i64,
    #[serde(with = "ids::string")]
    pub member_no: i64,
    pub order_id: String,
    /// This cancel's id (snowflake); the PSP call's idempotency key is derived from it.
    #[serde(with = "ids::string")]
    pub cancel_no: i64,
    pub cancel_reason: String,
    /// Refunded by this cancel: the sum of `lines[].amount`.
    pub cancel_amount: Decimal,
    /// Refunded so far by every cancel of the order, this one included.
    pub refunded_total: Decimal,
    /// What remains refundable after this cancel (`totalAmount − refundedTotal`).
    pub balance_amount: Decimal,
    pub total_amount: Decimal,
    pub canceled_at: DateTime<Utc>,
    /// `PARTIAL_CANCELED` or `CANCELED` (the order's state after this cancel).
    pub status: String,
    pub lines: Vec<CanceledLine>,
}
event!(PaymentCanceled, "order.payment.canceled", 1);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SellerCredit {
    #[serde(with = "ids::string")]
    pub seller_no: i64,
    pub amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WalletSettled {
    pub order_id: String,
    #[serde(with = "ids::string")]
    pub payment_event_no: i64,
    pub credits: Vec<SellerCredit>,
}
event!(WalletSettled, "wallet.settled", 1);

/// `wallet.reversed`: the sellers' credits taken back for one cancel (a separate event so
/// `wallet.settled` consumers never mistake a reversal for a settlement).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WalletReversed {
    pub order_id: String,
    #[serde(with = "ids::string")]
    pub payment_event_no: i64,
    #[serde(with = "ids::string")]
    pub cancel_no: i64,
    /// Positive amounts taken back from each seller.
    pub reversals: Vec<SellerCredit>,
}
event!(WalletReversed, "wallet.reversed", 1);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WalletCreated {
    #[serde(with = "ids::string")]
    pub seller_no: i64,
    #[serde(with = "ids::string")]
    pub wallet_no: i64,
}
event!(WalletCreated, "wallet.created", 1);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SellerRegistered {
    #[serde(with = "ids::string")]
    pub seller_no: i64,
    pub seller_id: String,
}
event!(SellerRegistered, "seller.registered", 1);

/// The onboarding saga finished: the seller has a wallet and may list products. Catalog keeps
/// its own list of active sellers from it (it must not read the seller database).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SellerActivated {
    #[serde(with = "ids::string")]
    pub seller_no: i64,
    pub seller_id: String,
    #[serde(with = "ids::string")]
    pub wallet_no: i64,
}
event!(SellerActivated, "seller.activated", 1);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductChanged {
    #[serde(with = "ids::string")]
    pub product_no: i64,
    #[serde(with = "ids::string")]
    pub seller_no: i64,
    pub name: String,
    pub description: String,
    pub price: Decimal,
    /// Row version, so a late older event never overwrites newer details.
    pub version: i64,
}

/// `catalog.product.created`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProductCreated(pub ProductChanged);
event!(ProductCreated, "catalog.product.created", 1);

/// `catalog.product.updated`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProductUpdated(pub ProductChanged);
event!(ProductUpdated, "catalog.product.updated", 1);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LikeChanged {
    #[serde(with = "ids::string")]
    pub product_no: i64,
    #[serde(with = "ids::string")]
    pub member_no: i64,
    /// When the like was made; an unlike carries the like's time so its decayed
    /// contribution can be removed exactly.
    pub liked_at: DateTime<Utc>,
}

/// `like.product.liked`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProductLiked(pub LikeChanged);
event!(ProductLiked, "like.product.liked", 1);

/// `like.product.unliked`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProductUnliked(pub LikeChanged);
event!(ProductUnliked, "like.product.unliked", 1);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReviewChanged {
    #[serde(with = "ids::string")]
    pub product_review_no: i64,
    #[serde(with = "ids::string")]
    pub product_no: i64,
    #[serde(with = "ids::string")]
    pub member_no: i64,
    /// 1..=5
    pub star_rating: u8,
    pub created_at: DateTime<Utc>,
}

/// `review.product.created`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReviewCreated(pub ReviewChanged);
event!(ReviewCreated, "review.product.created", 1);

/// `review.product.deleted`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReviewDeleted(pub ReviewChanged);
event!(ReviewDeleted, "review.product.deleted", 1);
