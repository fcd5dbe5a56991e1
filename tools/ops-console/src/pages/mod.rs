//! One module per console page.

pub mod dead_letters;
pub mod dismiss;
pub mod outbox;
pub mod payments;
pub mod streams;

use serde_json::Value;

/// A JSON field as display text: strings as they are, numbers and booleans written out,
/// `null` and missing as `-`.
pub(crate) fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// A JSON number field (0 when missing).
pub(crate) fn num(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}
