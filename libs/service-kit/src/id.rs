//! 64-bit ids on the HTTP API: written as JSON strings (JavaScript loses precision above 2^53)
//! and accepted as strings or numbers, in bodies and in path/query parameters.

use std::{borrow::Cow, fmt};

use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type},
};
use serde_json::Value;

/// A positive 64-bit id (Snowflake or seed id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub i64);

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<i64> for Id {
    fn from(v: i64) -> Self {
        Self(v)
    }
}

/// The typed ids of the events crate are the same numbers on the API.
macro_rules! typed_id {
    ($($typed:ty),*) => {$(
        impl From<$typed> for Id {
            fn from(v: $typed) -> Self {
                Self(v.0)
            }
        }

        impl From<Id> for $typed {
            fn from(v: Id) -> Self {
                Self(v.0)
            }
        }
    )*};
}

typed_id!(events::SellerNo, events::WalletNo);

impl std::str::FromStr for Id {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Exactly the documented pattern `^[0-9]{1,19}$`: Rust's integer parse also takes a
        // sign (`+5`), and a trim took `" 5"`; an id the schema calls invalid is refused here
        // as a client validating against the schema would refuse it.
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "invalid id {s:?}: expected a positive 64-bit integer in decimal digits"
            ));
        }
        match s.parse::<i64>() {
            Ok(v) if v > 0 => Ok(Self(v)),
            Ok(_) => Err(format!("id must be positive (got {s:?})")),
            Err(_) => Err(format!(
                "invalid id {s:?}: expected a positive 64-bit integer"
            )),
        }
    }
}

impl Type for Id {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_id".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        let mut schema = MetaSchema::new_with_format("string", "int64");
        schema.description = Some("64-bit id as a decimal string (a JSON number is accepted)");
        schema.example = Some(Value::String("1".into()));
        schema.pattern = Some("^[0-9]{1,19}$".into());
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

impl ParseFromJSON for Id {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s) => s.parse().map_err(ParseError::custom),
            Value::Number(n) => match n.as_i64() {
                Some(v) if v > 0 => Ok(Self(v)),
                _ => Err(ParseError::custom(format!(
                    "id must be a positive 64-bit integer (got {n})"
                ))),
            },
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ParseFromParameter for Id {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        value.parse().map_err(ParseError::custom)
    }
}

impl ToJSON for Id {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.to_string()))
    }
}

impl serde::Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Self::parse_from_json(Some(value)).map_err(|e| serde::de::Error::custom(e.into_message()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_strings_and_numbers_and_writes_strings() {
        let big = 9_007_199_254_740_993_i64;
        let from_str = Id::parse_from_json(Some(Value::String(big.to_string())));
        assert_eq!(from_str.ok(), Some(Id(big)));
        assert_eq!(Id::parse_from_json(Some(Value::from(7))).ok(), Some(Id(7)));
        assert_eq!(Id(big).to_json(), Some(Value::String(big.to_string())));
    }

    #[test]
    fn rejects_non_positive_and_garbage() {
        for bad in [
            Value::from(0),
            Value::from(-3),
            Value::from("x"),
            Value::Bool(true),
        ] {
            assert!(Id::parse_from_json(Some(bad.clone())).is_err(), "{bad}");
        }
        for bad in ["12a", "+5", " 5", "5 ", "-5", "", "99999999999999999999"] {
            assert!(Id::parse_from_parameter(bad).is_err(), "{bad:?}");
            assert!(
                Id::parse_from_json(Some(Value::from(bad))).is_err(),
                "{bad:?}"
            );
        }
        assert_eq!(Id::parse_from_parameter("05").ok(), Some(Id(5)));
    }
}
