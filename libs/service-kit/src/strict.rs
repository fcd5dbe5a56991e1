//! Strict JSON strings for request bodies.
//!
//! poem-openapi's `String` also accepts `42` or `true` and keeps their text, so a number sent
//! where a name, key or id belongs would pass as that string. Fields that must be JSON strings
//! say so with `#[oai(deserialize_with = "json_string")]` (or [`json_opt_string`] for an
//! optional field); anything else is the usual 400 parse error. The published schema does not
//! change: the field is still a `string`.

use poem_openapi::types::{ParseError, ParseResult};
use serde_json::Value;

/// A JSON string and nothing else; a missing field is an error too.
pub fn json_string(value: Option<Value>) -> ParseResult<String> {
    match value {
        Some(Value::String(s)) => Ok(s),
        other => Err(ParseError::expected_type(other.unwrap_or_default())),
    }
}

/// Like [`json_string`] for an optional field: absent or `null` is `None`.
pub fn json_opt_string(value: Option<Value>) -> ParseResult<Option<String>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ParseError::expected_type(other)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_string_takes_strings_only() {
        assert_eq!(json_string(Some(json!("a b"))).ok(), Some("a b".into()));
        assert_eq!(json_string(Some(json!(""))).ok(), Some(String::new()));
        for bad in [
            json!(42),
            json!(1.5),
            json!(true),
            json!(null),
            json!([]),
            json!({}),
        ] {
            assert!(json_string(Some(bad.clone())).is_err(), "{bad}");
        }
        assert!(json_string(None).is_err(), "a missing field");
    }

    #[test]
    fn json_opt_string_takes_strings_absence_and_null() {
        assert_eq!(
            json_opt_string(Some(json!("x"))).ok(),
            Some(Some("x".into()))
        );
        assert_eq!(json_opt_string(None).ok(), Some(None));
        assert_eq!(json_opt_string(Some(json!(null))).ok(), Some(None));
        for bad in [json!(5), json!(false), json!(["x"]), json!({"x": 1})] {
            assert!(json_opt_string(Some(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_error_names_the_expected_type() {
        let err = json_string(Some(json!(42))).expect_err("a number");
        assert!(err.message().contains("string"), "{}", err.message());
    }
}
