//! Toss's error wire format, `{code, message}` as `application/json` with the status from the
//! code table — not problem+json: clients of the sandbox are written against Toss, and the
//! kit's middleware passes `application/json` error bodies through unchanged.

use poem_openapi::{
    payload::Json,
    types::{ParseFromJSON, ToJSON},
    ApiResponse, Object,
};
use serde_json::Value;

use crate::{
    codes::{self, TossCode},
    payment::Payment,
};

/// Toss's error object.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(example)]
pub struct TossError {
    /// Toss error code, e.g. `REJECT_CARD_PAYMENT`.
    pub code: String,
    /// Human-readable message (Korean, as Toss answers).
    pub message: String,
}

/// What every `/v1/payments` operation answers: a Payment object or a Toss error.
#[derive(Debug, Clone, ApiResponse)]
#[oai(bad_request_handler = "invalid_request")]
pub enum TossResponse {
    /// The Payment object (boxed: it is large next to the error variants).
    #[oai(status = 200)]
    Ok(Json<Box<Payment>>),
    /// Invalid request, already processed, a transient provider error or a card decline.
    #[oai(status = 400)]
    BadRequest(Json<TossError>),
    /// Missing or unknown secret key (`UNAUTHORIZED_KEY`).
    #[oai(status = 401)]
    Unauthorized(Json<TossError>),
    /// The card company refused (`REJECT_CARD_PAYMENT`, …).
    #[oai(status = 403)]
    Forbidden(Json<TossError>),
    /// No such payment (`NOT_FOUND_PAYMENT`).
    #[oai(status = 404)]
    NotFound(Json<TossError>),
    /// A request with the same Idempotency-Key is still being processed.
    #[oai(status = 409)]
    Conflict(Json<TossError>),
    /// A failure inside the PSP; the payment was not charged by this request.
    #[oai(status = 500)]
    Internal(Json<TossError>),
}

impl TossResponse {
    pub fn payment(payment: Payment) -> Self {
        Self::Ok(Json(Box::new(payment)))
    }

    /// The error for `code` with Toss's message.
    pub fn error(code: &TossCode) -> Self {
        Self::error_with(code, code.message)
    }

    /// The error for `code` with a more specific message (e.g. which field did not match).
    pub fn error_with(code: &TossCode, message: impl Into<String>) -> Self {
        let body = Json(TossError {
            code: code.code.to_string(),
            message: message.into(),
        });
        match code.status {
            400 => Self::BadRequest(body),
            401 => Self::Unauthorized(body),
            403 => Self::Forbidden(body),
            404 => Self::NotFound(body),
            409 => Self::Conflict(body),
            _ => Self::Internal(body),
        }
    }

    /// Shorthand for codes the sandbox answers itself.
    pub fn code(code: &str, message: impl Into<String>) -> Self {
        Self::error_with(codes::get(code), message)
    }

    /// The answer as stored for an Idempotency-Key: status and the JSON body.
    pub fn to_stored(&self) -> (u16, Value) {
        let body = match self {
            Self::Ok(Json(payment)) => payment.to_json(),
            Self::BadRequest(Json(e))
            | Self::Unauthorized(Json(e))
            | Self::Forbidden(Json(e))
            | Self::NotFound(Json(e))
            | Self::Conflict(Json(e))
            | Self::Internal(Json(e)) => e.to_json(),
        };
        (self.status(), body.unwrap_or_default())
    }

    /// A stored answer back, parsed with the same types that wrote it, so a replay is
    /// serialised exactly as the first answer was. `None` if the row cannot be read (a schema
    /// drift), which the caller answers as an internal error rather than guessing.
    pub fn from_stored(status: u16, body: Value) -> Option<Self> {
        if status == 200 {
            let payment = Payment::parse_from_json(Some(body)).ok()?;
            return Some(Self::payment(payment));
        }
        let error = Json(TossError::parse_from_json(Some(body)).ok()?);
        Some(match status {
            400 => Self::BadRequest(error),
            401 => Self::Unauthorized(error),
            403 => Self::Forbidden(error),
            404 => Self::NotFound(error),
            409 => Self::Conflict(error),
            _ => Self::Internal(error),
        })
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::Ok(_) => 200,
            Self::BadRequest(_) => 400,
            Self::Unauthorized(_) => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::Internal(_) => 500,
        }
    }
}

/// Malformed bodies and headers answer as Toss does (`INVALID_REQUEST`); a missing or
/// undecodable `Authorization: Basic` header is poem's 401, answered as `UNAUTHORIZED_KEY`.
fn invalid_request(err: poem::Error) -> TossResponse {
    if err.status() == poem::http::StatusCode::UNAUTHORIZED {
        let message = codes::get(codes::UNAUTHORIZED_KEY).message;
        return TossResponse::code(codes::UNAUTHORIZED_KEY, message);
    }
    TossResponse::code(
        codes::INVALID_REQUEST,
        format!("잘못된 요청입니다. ({err})"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_in_the_table_keeps_its_status() {
        for code in codes::CODES {
            assert_eq!(
                TossResponse::error(code).status(),
                code.status,
                "{}",
                code.code
            );
        }
    }
}
