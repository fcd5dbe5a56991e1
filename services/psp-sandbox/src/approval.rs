//! The customer's approval in the payment window, shared by the HTML window and its JSON
//! twin `POST /sandbox/approvals`: validated with Toss's rules, then a READY payment.

use service_kit::{ApiError, FieldError};

use crate::{
    amount::Amount,
    payment::{now_kst, PaymentRecord, PaymentStatus},
    state::{Sandbox, KEY_ALPHABET},
    store::{self, By},
};

/// What approving an order did.
pub enum Approval {
    Created(String),
    /// The order was approved before with the same amount: the same paymentKey.
    Existing(String),
    /// The order was approved before with another amount.
    Conflict {
        amount: Amount,
    },
}

/// Toss: orderId is 6–64 characters of letters, digits, `-`, `_` and `=`.
fn valid_order_id(order_id: &str) -> bool {
    (6..=64).contains(&order_id.len())
        && order_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '='))
}

/// Checks orderId and orderName (Toss: at most 100 characters); field names as in the JSON.
pub fn validate(order_id: &str, order_name: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if !valid_order_id(order_id) {
        errors.push(FieldError {
            field: "orderId".into(),
            message: "6 to 64 characters of letters, digits, '-', '_' or '='".into(),
        });
    }
    let name_len = order_name.trim().chars().count();
    if name_len == 0 || order_name.chars().count() > 100 {
        errors.push(FieldError {
            field: "orderName".into(),
            message: "1 to 100 characters".into(),
        });
    }
    errors
}

/// Validates and approves; approving an order again with the same amount returns the same
/// paymentKey (a double-clicked Approve must not create a second payment). The unique orderId
/// in the database decides races between two clicks.
pub async fn approve(
    sandbox: &Sandbox,
    order_id: &str,
    order_name: &str,
    amount: Amount,
) -> Result<Approval, ApiError> {
    let errors = validate(order_id, order_name);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    approve_valid(sandbox, order_id, order_name.trim(), amount)
        .await
        .map_err(ApiError::from)
}

async fn approve_valid(
    sandbox: &Sandbox,
    order_id: &str,
    order_name: &str,
    amount: Amount,
) -> Result<Approval, sqlx::Error> {
    // A few rounds: an insert that lost to a colliding paymentKey (not an orderId) retries
    // with a new key. The insert comes first, and the order is looked up only when it did not
    // insert: a new order, nearly every approval, costs one statement (stop 18).
    for _ in 0..3 {
        let now = now_kst();
        // Shaped like Toss's test keys: tgen_ + timestamp + random.
        let payment_key = format!(
            "tgen_{}{}",
            now.format("%Y%m%d%H%M%S"),
            sandbox.random(10, KEY_ALPHABET)
        );
        let record = PaymentRecord {
            payment_key: payment_key.clone(),
            order_id: order_id.to_string(),
            order_name: order_name.to_string(),
            amount,
            status: PaymentStatus::Ready,
            requested_at: now,
            approved_at: None,
            last_transaction_key: None,
            approve_no: None,
            failure: None,
            balance: amount.0,
            cancels: Vec::new(),
        };
        if store::insert_ready(&sandbox.pool, &record).await? {
            return Ok(Approval::Created(payment_key));
        }
        let mut conn = sandbox.pool.acquire().await?;
        if let Some(existing) = store::find(&mut conn, By::OrderId(order_id), false).await? {
            return Ok(if existing.amount == amount {
                Approval::Existing(existing.payment_key)
            } else {
                Approval::Conflict {
                    amount: existing.amount,
                }
            });
        }
    }
    Err(sqlx::Error::Protocol(format!(
        "could not approve order {order_id}: the key kept colliding"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_follow_tosss_rules() {
        for ok in ["abc123", "order-1_2=", &"a".repeat(64)] {
            assert!(valid_order_id(ok), "{ok}");
        }
        for bad in ["abc", "order 1", "주문번호123", &"a".repeat(65), "a/b/c/d"] {
            assert!(!valid_order_id(bad), "{bad}");
        }
    }
}
