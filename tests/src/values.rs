//! Ids and money amounts as the APIs write them.

use rust_decimal::Decimal;
use serde_json::Value;

/// A 64-bit id as the API writes it: a JSON string holding a positive integer.
pub fn id_of(value: &Value) -> i64 {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("id must be a JSON string, got {value}"));
    let id: i64 = text.parse().unwrap_or_else(|_| panic!("id {text:?}"));
    assert!(id > 0, "id {id}");
    id
}

/// A money amount as the API writes it, a JSON string, normalized ("12.50" → "12.5").
pub fn decimal(value: &Value) -> String {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("amount must be a JSON string, got {value}"));
    assert!(
        text.parse::<f64>().is_ok() && !text.contains(['e', 'E']),
        "amount {text:?}"
    );
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text.to_string()
    }
}

/// A decimal from a JSON string or number.
pub fn dec(v: &Value) -> Decimal {
    match v {
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("not a decimal: {v}")),
        Value::Number(n) => n
            .to_string()
            .parse()
            .unwrap_or_else(|_| panic!("not a decimal: {v}")),
        _ => panic!("not a decimal: {v}"),
    }
}
