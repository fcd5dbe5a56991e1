//! Errors as RFC 9457 `application/problem+json` with a stable machine-readable `code`.
//!
//! Each service keeps its own domain error enum and converts it into [`ApiError`]; this module
//! owns the wire format and the mapping of database failures every service shares.

use std::borrow::Cow;

use poem_openapi::{
    payload::Json,
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::{ToJSON, Type},
    ApiResponse, Object,
};
use serde_json::Value;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid field of a request.
#[derive(Debug, Clone, Object, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// The error body of every paymsa endpoint.
#[derive(Debug, Clone, Object, serde::Serialize, serde::Deserialize)]
#[oai(rename_all = "camelCase", example)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// A URI naming the problem type.
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable code clients can branch on, e.g. `ORDER_AMOUNT_MISMATCH`.
    pub code: String,
    #[oai(skip_serializing_if_is_empty, default)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Problem {
    pub fn new(status: u16, code: &str, detail: impl Into<String>) -> Self {
        let title = poem::http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error")
            .to_string();
        Self {
            problem_type: format!("https://paymsa.dev/problems/{}", code.to_lowercase()),
            title,
            status,
            detail: detail.into(),
            code: code.to_string(),
            errors: Vec::new(),
        }
    }
}

/// The schema's example: the one every paymsa service answers for a request with bad fields.
impl poem_openapi::types::Example for Problem {
    fn example() -> Self {
        StatusProblem::<400>::example_problem()
    }
}

/// A [`Problem`] as one status of [`ApiError`] answers it. On the wire it is the `Problem`
/// itself; in the OpenAPI document each error response refers to the `Problem` schema with an
/// example for its own status (a 404 shows a not-found body, not a validation failure).
#[derive(Debug, Clone)]
pub struct StatusProblem<const STATUS: u16>(pub Problem);

impl<const STATUS: u16> StatusProblem<STATUS> {
    /// A typical body for this status, as the services answer it.
    fn example_problem() -> Problem {
        match STATUS {
            400 => ApiError::validation(vec![FieldError {
                field: "title".into(),
                message: "must be 1-100 characters (surrounding spaces are ignored)".into(),
            }])
            .problem()
            .clone(),
            401 => Problem::new(401, "UNAUTHORIZED", "missing or wrong admin token"),
            403 => Problem::new(403, "FORBIDDEN", "member 7 may not act as member 8"),
            404 => Problem::new(404, "PRODUCT_NOT_FOUND", "no product 4"),
            409 => Problem::new(409, "CONCURRENT_UPDATE", "a concurrent change won; retry"),
            413 => Problem::new(413, "PAYLOAD_TOO_LARGE", "request body exceeds 65536 bytes"),
            415 => Problem::new(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                "the request body must be application/json",
            ),
            422 => Problem::new(
                422,
                "IDEMPOTENCY_KEY_REUSED",
                "Idempotency-Key was used with a different request",
            ),
            429 => Problem::new(
                429,
                "RATE_LIMITED",
                "too many writes; retry after 6 seconds",
            ),
            503 => Problem::new(503, "DATABASE_UNAVAILABLE", "the database is unavailable"),
            _ => Problem::new(
                STATUS,
                "INTERNAL_ERROR",
                "an unexpected error occurred; it has been logged",
            ),
        }
    }
}

impl<const STATUS: u16> Type for StatusProblem<STATUS> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        format!("Problem_{STATUS}").into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            all_of: vec![Problem::schema_ref()],
            example: Self::example_problem().to_json(),
            ..MetaSchema::ANY
        }))
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl<const STATUS: u16> ToJSON for StatusProblem<STATUS> {
    fn to_json(&self) -> Option<Value> {
        self.0.to_json()
    }
}

/// Error responses shared by all operations.
#[derive(Debug, ApiResponse)]
#[oai(bad_request_handler = "invalid_request")]
pub enum ApiError {
    /// The request is malformed or fails validation.
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<StatusProblem<400>>),
    /// Missing or wrong credentials.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<StatusProblem<401>>),
    /// The caller is known but may not do this (another member's order, not an admin).
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<StatusProblem<403>>),
    /// The resource does not exist; `code` names what is missing (`ORDER_NOT_FOUND`, …).
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<StatusProblem<404>>),
    /// The request conflicts with the current state (duplicate, concurrent change).
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<StatusProblem<409>>),
    /// The request body is over the service's size limit (answered before any handler runs).
    #[oai(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Json<StatusProblem<413>>),
    /// The request body's `Content-Type` is not one the operation takes.
    #[oai(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Json<StatusProblem<415>>),
    /// Well-formed but not processable (e.g. an idempotency key reused with another body).
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<StatusProblem<422>>),
    /// Too many writes from this member (or client); retry after `Retry-After` seconds.
    #[oai(status = 429, content_type = "application/problem+json")]
    TooManyRequests(
        Json<StatusProblem<429>>,
        /// Seconds until a write is accepted again.
        #[oai(header = "Retry-After")]
        u64,
    ),
    /// An unexpected failure; details are in the logs, never in the body.
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<StatusProblem<500>>),
    /// A dependency (database, broker, PSP) is unavailable; retry later.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<StatusProblem<503>>),
}

/// Wraps a problem for the variant of its status.
fn body<const STATUS: u16>(problem: Problem) -> Json<StatusProblem<STATUS>> {
    Json(StatusProblem(problem))
}

fn invalid_request(err: poem::Error) -> ApiError {
    ApiError::bad_request("INVALID_REQUEST", err.to_string())
}

impl ApiError {
    pub fn bad_request(code: &str, detail: impl Into<String>) -> Self {
        Self::BadRequest(body(Problem::new(400, code, detail)))
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        let mut problem = Problem::new(400, "VALIDATION_FAILED", detail);
        problem.errors = errors;
        Self::BadRequest(body(problem))
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::Unauthorized(body(Problem::new(401, "UNAUTHORIZED", detail)))
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::Forbidden(body(Problem::new(403, "FORBIDDEN", detail)))
    }

    /// A 403 with a code of its own, for a rule other than "not your resource"
    /// (`PURCHASE_REQUIRED`, …).
    pub fn forbidden_because(code: &str, detail: impl Into<String>) -> Self {
        Self::Forbidden(body(Problem::new(403, code, detail)))
    }

    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        let detail = format!("too many writes; retry after {retry_after_secs} seconds");
        Self::TooManyRequests(
            body(Problem::new(429, "RATE_LIMITED", detail)),
            retry_after_secs,
        )
    }

    pub fn not_found(code: &str, detail: impl Into<String>) -> Self {
        Self::NotFound(body(Problem::new(404, code, detail)))
    }

    pub fn conflict(code: &str, detail: impl Into<String>) -> Self {
        Self::Conflict(body(Problem::new(409, code, detail)))
    }

    pub fn unprocessable(code: &str, detail: impl Into<String>) -> Self {
        Self::Unprocessable(body(Problem::new(422, code, detail)))
    }

    pub fn unavailable(code: &str, detail: impl Into<String>) -> Self {
        Self::Unavailable(body(Problem::new(503, code, detail)))
    }

    /// Logs a message and answers a body that says nothing about internals. For an error
    /// value use [`ApiError::internal_error`], which logs its causes too.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::internal_body()
    }

    /// Logs `err` with its whole chain of causes (once, here) and answers a body that says
    /// nothing about internals.
    pub fn internal_error(err: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %error_chain(err), "internal error");
        Self::internal_body()
    }

    fn internal_body() -> Self {
        Self::Internal(body(Problem::new(
            500,
            "INTERNAL_ERROR",
            "an unexpected error occurred; it has been logged",
        )))
    }

    pub fn problem(&self) -> &Problem {
        match self {
            Self::BadRequest(p) => &p.0 .0,
            Self::Unauthorized(p) => &p.0 .0,
            Self::Forbidden(p) => &p.0 .0,
            Self::NotFound(p) => &p.0 .0,
            Self::Conflict(p) => &p.0 .0,
            Self::PayloadTooLarge(p) => &p.0 .0,
            Self::UnsupportedMediaType(p) => &p.0 .0,
            Self::Unprocessable(p) => &p.0 .0,
            Self::TooManyRequests(p, _) => &p.0 .0,
            Self::Internal(p) => &p.0 .0,
            Self::Unavailable(p) => &p.0 .0,
        }
    }
}

/// `err` and every cause under it on one line, `top: cause: root cause`, for a log field.
/// A cause whose text its parent already shows (thiserror's `"…: {source}"`) is not repeated.
/// (After zero-to-production's `error_chain_fmt`.)
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = err.to_string();
    let mut cause = err.source();
    while let Some(e) = cause {
        let text = e.to_string();
        if !chain.ends_with(&text) {
            chain.push_str(": ");
            chain.push_str(&text);
        }
        cause = e.source();
    }
    chain
}

/// How a named constraint violation should reach the client.
pub struct ConstraintRule {
    pub constraint: &'static str,
    pub status: u16,
    pub code: &'static str,
    pub detail: &'static str,
}

/// Maps a database error: named constraint violations listed in `rules` become client errors,
/// an unavailable pool becomes 503, everything else 500.
pub fn from_db_error(err: sqlx::Error, rules: &[ConstraintRule]) -> ApiError {
    if let Some(db) = err.as_database_error() {
        if let Some(name) = db.constraint() {
            if let Some(rule) = rules.iter().find(|r| r.constraint == name) {
                let problem = Problem::new(rule.status, rule.code, rule.detail);
                return match rule.status {
                    409 => ApiError::Conflict(body(problem)),
                    422 => ApiError::Unprocessable(body(problem)),
                    404 => ApiError::NotFound(body(problem)),
                    _ => ApiError::BadRequest(body(problem)),
                };
            }
        }
        // Text Postgres cannot store (a NUL character in a path id or a field) is the
        // client's input, not our failure: nothing was written.
        if matches!(db.code().as_deref(), Some("22021" | "22P05")) {
            return ApiError::bad_request(
                "INVALID_TEXT",
                "text must be valid UTF-8 without NUL characters",
            );
        }
        // A date-time Postgres cannot hold (it stores 4713 BC to 294276 AD; chrono parses
        // years up to ±262143, and -10000 is BC 10001): the client's input, refused by a
        // statement that wrote nothing.
        if db.code().as_deref() == Some("22008") {
            return ApiError::bad_request(
                "INVALID_TIME",
                "a date-time outside the range that can be stored",
            );
        }
        // Serialization failures and deadlocks are safe to retry by the client.
        if matches!(db.code().as_deref(), Some("40001" | "40P01")) {
            return ApiError::conflict("CONCURRENT_UPDATE", "a concurrent change won; retry");
        }
    }
    if matches!(err, sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) {
        tracing::error!(error = %error_chain(&err), "database unavailable");
        return ApiError::unavailable("DATABASE_UNAVAILABLE", "the database is unavailable");
    }
    ApiError::internal_error(&err)
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        from_db_error(err, &[])
    }
}
