//! The customer's approval in the payment window, shared by the HTML window and its JSON
//! twin `POST /sandbox/approvals`: validated with Toss's rules, then a READY payment.

use service_kit::FieldError;

use crate::{
    amount::Amount,
    state::{Approval, Sandbox},
};

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
/// paymentKey (a double-clicked Approve must not create a second payment).
pub fn approve(
    sandbox: &Sandbox,
    order_id: &str,
    order_name: &str,
    amount: Amount,
) -> Result<Approval, Vec<FieldError>> {
    let errors = validate(order_id, order_name);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(sandbox.lock().approve(order_id, order_name.trim(), amount))
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
