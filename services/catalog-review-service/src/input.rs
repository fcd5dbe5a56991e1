//! The create-review request and its validation.
//!
//! Every field is a [`Lenient`] so a missing or mistyped field does not stop parsing at the
//! first problem with poem-openapi's one-line error: validation sees all fields and answers
//! 400 problem+json with one `{field, message}` per bad field, while the OpenAPI schema still
//! shows each field's real type (the rating as its enum, ids as strings).

use std::borrow::Cow;

use poem_openapi::{
    registry::{MetaSchemaRef, Registry},
    types::{ParseFromJSON, ParseResult, ToJSON, Type},
    Enum, Object,
};
use serde_json::Value;
use service_kit::{strict::json_string, FieldError, Id};

pub const TITLE_MAX_CHARS: usize = 100;
pub const CONTENT_MAX_CHARS: usize = 3000;
const REQUIRED: &str = "is required";

/// A star rating as the seed spells it; stored as 1..=5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StarRatingType {
    One,
    Two,
    Three,
    Four,
    Five,
}

impl StarRatingType {
    pub fn stars(self) -> u8 {
        match self {
            Self::One => 1,
            Self::Two => 2,
            Self::Three => 3,
            Self::Four => 4,
            Self::Five => 5,
        }
    }

    /// The stored rating back as the enum; `None` only for a value the table's check forbids.
    pub fn from_stars(stars: i16) -> Option<Self> {
        Some(match stars {
            1 => Self::One,
            2 => Self::Two,
            3 => Self::Three,
            4 => Self::Four,
            5 => Self::Five,
            _ => return None,
        })
    }
}

/// A request field that always parses: its value, or why it is missing or invalid.
pub struct Lenient<T>(pub Result<T, String>);

impl<T: Type> Type for Lenient<T> {
    const IS_REQUIRED: bool = T::IS_REQUIRED;
    type RawValueType = T::RawValueType;
    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry)
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_ref().ok().and_then(Type::as_raw_value)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        match &self.0 {
            Ok(v) => v.raw_element_iter(),
            Err(_) => Box::new(std::iter::empty()),
        }
    }
}

impl<T: Type> Lenient<T> {
    /// `value` parsed with `parse`; missing, `null` or unparsable is the reason, not an error.
    fn parsed_with(
        value: Option<Value>,
        parse: impl FnOnce(Option<Value>) -> ParseResult<T>,
    ) -> Self {
        Self(match value {
            None | Some(Value::Null) => Err(REQUIRED.to_string()),
            value => parse(value).map_err(|e| e.into_message()),
        })
    }
}

impl<T: ParseFromJSON> ParseFromJSON for Lenient<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Ok(Self::parsed_with(value, T::parse_from_json))
    }
}

/// A [`Lenient`] text that must be a JSON string ([`json_string`]): a number or boolean is an
/// invalid field, not its text.
fn lenient_string(value: Option<Value>) -> ParseResult<Lenient<String>> {
    Ok(Lenient::parsed_with(value, json_string))
}

impl<T: ToJSON> ToJSON for Lenient<T> {
    fn to_json(&self) -> Option<Value> {
        self.0.as_ref().ok().and_then(ToJSON::to_json)
    }
}

/// `POST /api/product-reviews`, as in the seed.
#[derive(Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields, example)]
pub struct CreateReview {
    pub product_no: Lenient<Id>,
    /// The author; only they may delete the review.
    pub member_no: Lenient<Id>,
    /// 1–100 characters (surrounding spaces are ignored).
    #[oai(deserialize_with = "lenient_string")]
    pub title: Lenient<String>,
    /// 1–3000 characters (surrounding spaces are ignored).
    #[oai(deserialize_with = "lenient_string")]
    pub content: Lenient<String>,
    pub star_rating_type: Lenient<StarRatingType>,
}

/// A review that passed validation.
#[derive(Debug, Clone)]
pub struct NewReview {
    pub product_no: i64,
    pub member_no: i64,
    pub title: String,
    pub content: String,
    pub star_rating: StarRatingType,
}

/// Checks every field and reports all problems at once, for
/// [`service_kit::ApiError::validation`].
pub fn validate(body: CreateReview) -> Result<NewReview, Vec<FieldError>> {
    let mut errors = Vec::new();
    let product_no = field(&mut errors, "productNo", body.product_no.0);
    let member_no = field(&mut errors, "memberNo", body.member_no.0);
    let title = field(&mut errors, "title", text(body.title.0, TITLE_MAX_CHARS));
    let content = field(
        &mut errors,
        "content",
        text(body.content.0, CONTENT_MAX_CHARS),
    );
    let rating = body.star_rating_type.0.map_err(|e| match e.as_str() {
        REQUIRED => e,
        _ => "must be one of ONE, TWO, THREE, FOUR, FIVE".to_string(),
    });
    let star_rating = field(&mut errors, "starRatingType", rating);
    match (product_no, member_no, title, content, star_rating) {
        (Some(product_no), Some(member_no), Some(title), Some(content), Some(star_rating)) => {
            Ok(NewReview {
                product_no: product_no.0,
                member_no: member_no.0,
                title,
                content,
                star_rating,
            })
        }
        _ => Err(errors),
    }
}

/// The field's value, or `None` with its problem recorded.
fn field<T>(errors: &mut Vec<FieldError>, name: &str, value: Result<T, String>) -> Option<T> {
    value
        .map_err(|message| {
            errors.push(FieldError {
                field: name.into(),
                message,
            })
        })
        .ok()
}

/// Trimmed text of 1..=`max` characters (characters, not bytes: the seed's titles are Korean).
fn text(value: Result<String, String>, max: usize) -> Result<String, String> {
    let value = value?;
    let trimmed = value.trim();
    let len = trimmed.chars().count();
    if len == 0 || len > max {
        return Err(format!(
            "must be 1-{max} characters (surrounding spaces are ignored)"
        ));
    }
    Ok(trimmed.to_string())
}
