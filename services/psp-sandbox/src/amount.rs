//! Amounts in integer KRW. Toss sends and expects JSON numbers; the sandbox also accepts a
//! string of digits, because clients that keep money as a decimal (order-service serialises
//! `rust_decimal` as a string) would otherwise be rejected for a formatting detail.

use std::{borrow::Cow, fmt, str::FromStr};

use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type},
};
use serde_json::Value;

/// A positive amount in KRW (won have no minor unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Amount(pub i64);

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

fn positive(v: i64) -> Result<Amount, String> {
    if v > 0 {
        Ok(Amount(v))
    } else {
        Err(format!(
            "amount must be a positive integer in KRW (got {v})"
        ))
    }
}

impl FromStr for Amount {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // "1000.00" is still a whole number of won; anything with a real fraction is not.
        let trimmed = s.trim();
        let whole = match trimmed.split_once('.') {
            Some((int, frac)) if frac.chars().all(|c| c == '0') => int,
            Some(_) => return Err(format!("amount must be whole won (got {s:?})")),
            None => trimmed,
        };
        match whole.parse::<i64>() {
            Ok(v) => positive(v),
            Err(_) => Err(format!("amount must be an integer in KRW (got {s:?})")),
        }
    }
}

impl Type for Amount {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "krw_amount".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        let mut schema = MetaSchema::new_with_format("integer", "int64");
        schema.description = Some("Amount in KRW (a string of digits is accepted too)");
        schema.example = Some(Value::from(15000));
        schema.minimum = Some(1.0);
        MetaSchemaRef::Inline(Box::new(schema))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for Amount {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(v), _) => positive(v).map_err(ParseError::custom),
                // 15000.0 is a whole number; 15000.5 is not an amount in won.
                (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                    positive(f as i64).map_err(ParseError::custom)
                }
                _ => Err(ParseError::custom(format!(
                    "amount must be an integer in KRW (got {n})"
                ))),
            },
            Value::String(s) => s.parse().map_err(ParseError::custom),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ParseFromParameter for Amount {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        value.parse().map_err(ParseError::custom)
    }
}

impl ToJSON for Amount {
    fn to_json(&self) -> Option<Value> {
        Some(Value::from(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_integers_whole_floats_and_digit_strings() {
        for ok in [
            Value::from(15000),
            Value::from(15000.0),
            Value::from("15000"),
            Value::from("15000.00"),
        ] {
            assert_eq!(
                Amount::parse_from_json(Some(ok.clone())).ok(),
                Some(Amount(15000)),
                "{ok}"
            );
        }
    }

    #[test]
    fn rejects_fractions_non_positive_and_garbage() {
        for bad in [
            Value::from(1.5),
            Value::from(0),
            Value::from(-10),
            Value::from("12a"),
            Value::from("1.5"),
            Value::Bool(true),
            Value::Null,
        ] {
            assert!(Amount::parse_from_json(Some(bad.clone())).is_err(), "{bad}");
        }
    }
}
