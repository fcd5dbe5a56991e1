//! Errors as RFC 9457 `application/problem+json` with a stable machine-readable `code`.
//!
//! Each service keeps its own domain error enum and converts it into [`ApiError`]; this module
//! owns the wire format and the mapping of database failures every service shares.

use poem_openapi::{payload::Json, ApiResponse, Object};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid field of a request.
#[derive(Debug, Clone, Object, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// The error body of every paymsa endpoint.
#[derive(Debug, Clone, Object, serde::Serialize, serde::Deserialize)]
#[oai(rename_all = "camelCase")]
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

/// Error responses shared by all operations.
#[derive(Debug, ApiResponse)]
#[oai(bad_request_handler = "invalid_request")]
pub enum ApiError {
    /// The request is malformed or fails validation.
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// Missing or wrong credentials.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// The resource does not exist.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The request conflicts with the current state (duplicate, concurrent change).
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// Well-formed but not processable (e.g. an idempotency key reused with another body).
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Problem>),
    /// An unexpected failure; details are in the logs, never in the body.
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
    /// A dependency (database, broker, PSP) is unavailable; retry later.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>),
}

fn invalid_request(err: poem::Error) -> ApiError {
    ApiError::bad_request("INVALID_REQUEST", err.to_string())
}

impl ApiError {
    pub fn bad_request(code: &str, detail: impl Into<String>) -> Self {
        Self::BadRequest(Json(Problem::new(400, code, detail)))
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        let mut problem = Problem::new(400, "VALIDATION_FAILED", detail);
        problem.errors = errors;
        Self::BadRequest(Json(problem))
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::Unauthorized(Json(Problem::new(401, "UNAUTHORIZED", detail)))
    }

    pub fn not_found(code: &str, detail: impl Into<String>) -> Self {
        Self::NotFound(Json(Problem::new(404, code, detail)))
    }

    pub fn conflict(code: &str, detail: impl Into<String>) -> Self {
        Self::Conflict(Json(Problem::new(409, code, detail)))
    }

    pub fn unprocessable(code: &str, detail: impl Into<String>) -> Self {
        Self::Unprocessable(Json(Problem::new(422, code, detail)))
    }

    pub fn unavailable(code: &str, detail: impl Into<String>) -> Self {
        Self::Unavailable(Json(Problem::new(503, code, detail)))
    }

    /// Logs the cause and answers a body that says nothing about internals.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::Internal(Json(Problem::new(
            500,
            "INTERNAL_ERROR",
            "an unexpected error occurred; it has been logged",
        )))
    }

    pub fn problem(&self) -> &Problem {
        match self {
            Self::BadRequest(p)
            | Self::Unauthorized(p)
            | Self::NotFound(p)
            | Self::Conflict(p)
            | Self::Unprocessable(p)
            | Self::Internal(p)
            | Self::Unavailable(p) => &p.0,
        }
    }
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
                    409 => ApiError::Conflict(Json(problem)),
                    422 => ApiError::Unprocessable(Json(problem)),
                    404 => ApiError::NotFound(Json(problem)),
                    _ => ApiError::BadRequest(Json(problem)),
                };
            }
        }
        // Serialization failures and deadlocks are safe to retry by the client.
        if matches!(db.code().as_deref(), Some("40001" | "40P01")) {
            return ApiError::conflict("CONCURRENT_UPDATE", "a concurrent change won; retry");
        }
    }
    if matches!(err, sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) {
        tracing::error!(error = %err, "database unavailable");
        return ApiError::unavailable("DATABASE_UNAVAILABLE", "the database is unavailable");
    }
    ApiError::internal(err)
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        from_db_error(err, &[])
    }
}
