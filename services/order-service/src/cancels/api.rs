//! `POST /api/payments/{orderId}/cancel`.

use chrono::{DateTime, Utc};
use poem_openapi::{
    param::{Header, Path},
    payload::Json,
    ApiResponse, Object, OpenApi, Tags,
};
use rust_decimal::Decimal;
use service_kit::{
    auth::{self, Identity},
    strict::json_string,
    ApiError, FieldError, Id,
};

use super::{CancelError, CancelRequest};
use crate::{
    payments::{order_status, Payments},
    status::{CancelStatus, PaymentStatus},
    store::{self, cancels::CancelRow},
};

#[derive(Tags)]
enum CancelTag {
    /// Cancels and refunds of paid orders.
    Cancels,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields, example)]
pub struct CancelBody {
    /// Why the order is cancelled (1–200 characters); sent to the PSP.
    #[oai(deserialize_with = "json_string")]
    pub cancel_reason: String,
    /// Whole won; without it, everything still refundable (of `paymentOrderNos` if given).
    pub cancel_amount: Option<Decimal>,
    /// Cancel only these lines.
    pub payment_order_nos: Option<Vec<Id>>,
}

/// A cancel as it stands.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct CancelResult {
    pub order_id: String,
    pub cancel_no: Id,
    /// DONE (refunded), UNKNOWN / REQUESTED (the PSP has not answered; the recovery job will
    /// repeat the call with the same key).
    pub status: CancelStatus,
    pub cancel_amount: Decimal,
    /// Refunded so far by every done cancel of the order.
    pub refunded_amount: Decimal,
    /// What can still be refunded.
    pub refundable_amount: Decimal,
    /// The order's status after the cancel (PARTIAL_CANCELED, CANCELED, or SUCCESS while this
    /// cancel is pending).
    pub order_status: PaymentStatus,
    #[oai(skip_serializing_if_is_none)]
    pub canceled_at: Option<DateTime<Utc>>,
}

#[derive(ApiResponse)]
enum CancelResponse {
    /// The PSP refunded the amount.
    #[oai(status = 200)]
    Done(Json<CancelResult>),
    /// The PSP has not answered yet; poll `GET /api/payments/{orderId}`.
    #[oai(status = 202)]
    Pending(Json<CancelResult>),
}

/// A cancel's idempotency key, from the API's `Idempotency-Key` or the storefront's cancel
/// form (src/pages/payment.rs).
pub(crate) fn check_key(key: Option<&str>) -> Result<(), ApiError> {
    if key.is_some_and(|k| k.is_empty() || k.len() > 255) {
        return Err(ApiError::bad_request(
            "INVALID_IDEMPOTENCY_KEY",
            "Idempotency-Key must be 1-255 characters",
        ));
    }
    // The imports of refunds made at the PSP take these keys, in the same per-order space: a
    // client's cancel holding one made the import conflict, and the refund was never
    // recorded (nor reversed in the seller's wallet).
    if key.is_some_and(|k| k.starts_with(super::IMPORT_KEY_PREFIX)) {
        return Err(ApiError::bad_request(
            "INVALID_IDEMPOTENCY_KEY",
            format!(
                "Idempotency-Key may not start with {:?} (reserved)",
                super::IMPORT_KEY_PREFIX
            ),
        ));
    }
    Ok(())
}

impl From<CancelError> for ApiError {
    fn from(e: CancelError) -> Self {
        match e {
            CancelError::NotFound(_) => ApiError::not_found("ORDER_NOT_FOUND", e.to_string()),
            CancelError::NotCancelable(_) => {
                ApiError::conflict("NOT_CANCELABLE_STATUS", e.to_string())
            }
            CancelError::InProgress => ApiError::conflict("CANCEL_IN_PROGRESS", e.to_string()),
            CancelError::ExceedsBalance { .. } => {
                ApiError::unprocessable("CANCEL_AMOUNT_EXCEEDS_BALANCE", e.to_string())
            }
            CancelError::UnknownLines(_) => {
                ApiError::unprocessable("UNKNOWN_PAYMENT_ORDERS", e.to_string())
            }
            CancelError::KeyReused => {
                ApiError::unprocessable("IDEMPOTENCY_KEY_REUSED", e.to_string())
            }
            CancelError::Refused { ref code } => ApiError::unprocessable(code, e.to_string()),
            CancelError::Credentials { .. } => ApiError::unavailable(
                "PSP_CREDENTIALS_REJECTED",
                "the PSP is not available for cancels right now; nothing was refunded",
            ),
            // The PSP refunded and our lines disagree: the cancel stays open for a person
            // (docs/operations.md); resolving it cannot help until the lines are repaired. The
            // member's cancel answers the open cancel instead (above).
            CancelError::LinesNotRefundable { .. } => {
                ApiError::conflict("LINES_NOT_REFUNDABLE", e.to_string())
            }
            CancelError::NotUnresolved(_) => {
                ApiError::conflict("CANCEL_NOT_UNRESOLVED", e.to_string())
            }
            CancelError::BeingDriven => ApiError::conflict("CANCEL_BEING_DRIVEN", e.to_string()),
            CancelError::PspUnreadable(_) => {
                ApiError::unavailable("PSP_RECORD_UNREADABLE", e.to_string())
            }
            CancelError::Confirm(inner) => inner.into(),
        }
    }
}

fn validate(body: &CancelBody, key: Option<&str>) -> Result<CancelRequest, ApiError> {
    let mut errors = Vec::new();
    let reason = body.cancel_reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 || reason.contains('\0') {
        errors.push(FieldError {
            field: "cancelReason".into(),
            message: "must be 1-200 characters".into(),
        });
    }
    if let Some(amount) = body.cancel_amount {
        if amount <= Decimal::ZERO || amount.fract() != Decimal::ZERO {
            errors.push(FieldError {
                field: "cancelAmount".into(),
                message: "must be a positive whole number of won".into(),
            });
        }
    }
    if body
        .payment_order_nos
        .as_ref()
        .is_some_and(|l| l.is_empty() || l.len() > 50)
    {
        errors.push(FieldError {
            field: "paymentOrderNos".into(),
            message: "must list 1-50 lines when given".into(),
        });
    }
    check_key(key)?;
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    Ok(CancelRequest {
        reason: reason.to_string(),
        amount: body.cancel_amount,
        lines: body
            .payment_order_nos
            .as_ref()
            .map(|l| l.iter().map(|id| id.0).collect()),
    })
}

#[derive(Clone)]
pub struct CancelApi {
    pub payments: Payments,
}

impl CancelApi {
    async fn result(&self, cancel: CancelRow) -> Result<CancelResult, ApiError> {
        let mut conn = self.payments.pool.acquire().await?;
        let event = store::find_event(&mut conn, &cancel.order_id, false)
            .await?
            .ok_or_else(|| ApiError::not_found("ORDER_NOT_FOUND", "the order is gone"))?;
        let lines = store::find_lines(&mut conn, event.payment_event_no).await?;
        Ok(CancelResult {
            order_id: cancel.order_id,
            cancel_no: Id(cancel.cancel_no),
            status: cancel.status,
            cancel_amount: cancel.cancel_amount,
            refunded_amount: event.refunded_amount,
            refundable_amount: event.total_amount - event.refunded_amount,
            order_status: order_status(&lines),
            canceled_at: cancel.canceled_at,
        })
    }
}

#[OpenApi(tag = "CancelTag::Cancels")]
impl CancelApi {
    /// Cancel a paid order in full or in part; the PSP refunds the customer.
    ///
    /// 200 when the PSP refunded, 202 while its answer is unknown (the recovery job repeats
    /// the call with the same PSP key). 409 `NOT_CANCELABLE_STATUS` for an order that is not
    /// paid, 409 `CANCEL_IN_PROGRESS` while another cancel of the order is open, 422
    /// `CANCEL_AMOUNT_EXCEEDS_BALANCE` above what is refundable.
    #[oai(
        path = "/api/payments/:orderId/cancel",
        method = "post",
        operation_id = "cancel_payment"
    )]
    async fn cancel(
        &self,
        identity: Identity,
        #[oai(name = "orderId")] order_id: Path<String>,
        body: Json<CancelBody>,
        /// Optional; the same key with the same body answers the same cancel.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
    ) -> Result<CancelResponse, ApiError> {
        // Each cancel is a PSP refund under our merchant key, as each confirm is a charge;
        // counted before the order is looked up, like a confirm.
        auth::limit_writes(&identity, None)?;
        crate::access::require_order_member(&identity, &self.payments, &order_id.0, false).await?;
        let key = idempotency_key.0.as_deref();
        let req = validate(&body.0, key)?;
        let cancel = match self
            .payments
            .request_cancel(&order_id.0, &req, key, "cancel-api")
            .await
        {
            Ok(cancel) => cancel,
            // The PSP refunded and a line cannot take it: for the member the cancel is open
            // (UNKNOWN, listed for a person), as after any refund that could not be recorded.
            Err(CancelError::LinesNotRefundable { cancel_no, .. }) => {
                self.payments.find_cancel(cancel_no).await?
            }
            Err(e) => return Err(e.into()),
        };
        let done = cancel.status == CancelStatus::Done;
        let result = self.result(cancel).await?;
        Ok(if done {
            CancelResponse::Done(Json(result))
        } else {
            CancelResponse::Pending(Json(result))
        })
    }
}
