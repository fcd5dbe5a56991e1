//! Checkout: turns a member's product list into a payment event with one payment order per
//! line, priced by the catalog ([`crate::prices`]). `Idempotency-Key` follows Stripe: the
//! same key and body get the stored answer, another body 422 ([`keys`]). [`place`] is the
//! whole checkout, one transaction.

mod keys;
mod place;

pub use keys::{MemberKey, CLAIM_LEASE_SECS};
pub use place::Checkouts;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use service_kit::Id;
use sqlx::PgConnection;

use crate::{
    catalog::{CatalogError, CatalogProduct},
    payments::Payments,
    store::{self, NewLine},
};

/// The created order: what the payment window needs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, poem_openapi::Object)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase", example)]
pub struct CheckoutResult {
    /// Toss orderId (6–64 characters).
    pub order_id: String,
    pub payment_event_no: Id,
    pub member_no: Id,
    /// e.g. "상품A 외 2건"
    pub order_name: String,
    /// Sum of the catalog prices; the client never sets it.
    pub amount: Decimal,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("Idempotency-Key was used with a different request")]
    KeyReused,
    #[error("a request with this Idempotency-Key is in flight")]
    KeyInFlight,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Ids(#[from] snowflake::SnowflakeError),
}

/// "상품A 외 2건", as the reference and Toss' order names look.
/// The orderName sent to the PSP: "상품A 외 2건", cut to Toss's 100 characters the way Toss
/// shops do (the first product's name is shortened with "…", the count is kept), so a long
/// product name never makes the PSP refuse the order.
pub fn order_name(products: &[CatalogProduct]) -> String {
    const MAX_CHARS: usize = 100;
    let (first, suffix) = match products {
        [] => return String::new(),
        [only] => (only.name.as_str(), String::new()),
        [first, rest @ ..] => (first.name.as_str(), format!(" 외 {}건", rest.len())),
    };
    let room = MAX_CHARS - suffix.chars().count();
    let name = if first.chars().count() > room {
        let cut: String = first.chars().take(room - 1).collect();
        format!("{}…", cut.trim_end())
    } else {
        first.to_string()
    };
    format!("{name}{suffix}")
}

/// Creates the order in the caller's transaction.
pub async fn create_order(
    conn: &mut PgConnection,
    payments: &Payments,
    member_no: i64,
    products: &[CatalogProduct],
) -> Result<CheckoutResult, CheckoutError> {
    let payment_event_no = payments.ids.next_id()?;
    let order_id = uuid::Uuid::new_v4().to_string();
    let name = order_name(products);
    let total: Decimal = products.iter().map(|p| p.price).sum();
    let lines = products
        .iter()
        .map(|p| {
            Ok(NewLine {
                payment_order_no: payments.ids.next_id()?,
                product_no: p.product_no,
                seller_no: p.seller_no,
                product_name: p.name.clone(),
                amount: p.price,
            })
        })
        .collect::<Result<Vec<_>, CheckoutError>>()?;
    let history_ids = (0..lines.len())
        .map(|_| payments.ids.next_id())
        .collect::<Result<Vec<_>, _>>()?;
    let order = store::orders::NewOrder {
        payment_event_no,
        member_no,
        order_id: &order_id,
        order_name: &name,
        total,
        lines: &lines,
        history_ids: &history_ids,
    };
    store::orders::insert_order(conn, order).await?;
    Ok(CheckoutResult {
        order_id,
        payment_event_no: Id(payment_event_no),
        member_no: Id(member_no),
        order_name: name,
        amount: total,
    })
}

/// What a keyed checkout asked for, so a reused key with another body is caught. The key is
/// not scoped to a member (migrations/order-service/20261121000004_checkout_idempotency.sql):
/// the fingerprint covers `memberNo`, and only a collision-resistant hash keeps one member's
/// key from replaying another member's answer. Until stop 21 it was FNV-1a (64 bit), for
/// which a request colliding with a chosen one can be computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHash {
    /// `sha256:` and the hex SHA-256 of the canonical request: what is stored.
    pub current: String,
    /// The FNV-1a form older versions stored: keys they wrote (kept 24 h, IN_FLIGHT claims
    /// 30 s) still answer their retries after an upgrade. Drop it a day after every
    /// instance runs this version.
    pub legacy: String,
}

impl RequestHash {
    pub fn matches(&self, stored: &str) -> bool {
        stored == self.current || stored == self.legacy
    }
}

pub fn request_hash(member_no: i64, product_nos: &[i64]) -> RequestHash {
    use sha2::{Digest, Sha256};
    let canonical = format!(
        "{member_no}|{}",
        product_nos
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut fnv: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in canonical.bytes() {
        fnv ^= u64::from(byte);
        fnv = fnv.wrapping_mul(0x0100_0000_01b3);
    }
    RequestHash {
        current: format!("sha256:{:x}", Sha256::digest(canonical.as_bytes())),
        legacy: format!("{fnv:016x}:{}", canonical.len()),
    }
}

#[cfg(test)]
mod order_name_tests {
    use super::{order_name, CatalogProduct};
    use rust_decimal::Decimal;

    fn product(name: &str) -> CatalogProduct {
        CatalogProduct {
            product_no: 1,
            seller_no: 1,
            name: name.into(),
            price: Decimal::ONE,
            version: 1,
        }
    }

    #[test]
    fn names_fit_the_psps_100_characters() {
        assert_eq!(order_name(&[product("상품A")]), "상품A");
        assert_eq!(
            order_name(&[product("상품A"), product("B"), product("C")]),
            "상품A 외 2건"
        );
        let long = "가".repeat(150);
        let one = order_name(&[product(&long)]);
        assert_eq!(one.chars().count(), 100);
        assert!(one.ends_with('…'));
        let many = order_name(&[product(&long), product("B")]);
        assert_eq!(many.chars().count(), 100);
        assert!(many.ends_with("… 외 1건"), "{many}");
    }
}

#[cfg(test)]
mod request_hash_tests {
    use super::request_hash;

    #[test]
    fn the_stored_form_is_the_sha256_of_member_and_products() {
        let hash = request_hash(7, &[1, 2]);
        assert_eq!(
            hash.current,
            "sha256:1e7fb8b57dc309c0e12ccda2d8fa996d9367bbf0c583763199b3b785229d7e3b"
        );
        assert!(
            hash.matches(&hash.legacy),
            "an older version's form still matches"
        );
        assert!(
            !hash.matches(&request_hash(8, &[1, 2]).current),
            "another member's"
        );
    }
}
