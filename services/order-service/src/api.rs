//! The order-service HTTP API: checkout, confirm, payment status.

use poem_openapi::{param::Header, param::Path, payload::Json, ApiResponse, Object, OpenApi, Tags};
use rust_decimal::Decimal;
use service_kit::{
    auth::{self, Identity},
    strict::json_string,
    ApiError, FieldError, Id,
};

use crate::{
    catalog::CatalogError,
    checkout::{CheckoutError, CheckoutResult, Checkouts},
    details::PaymentDetails,
    payments::{ConfirmError, Outcome, Payments},
    status::PaymentStatus,
};

#[derive(Tags)]
enum OrderTag {
    /// Checkout and payment confirmation.
    Payments,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields, example)]
pub struct CheckoutRequest {
    pub member_no: Id,
    /// 1–50 product numbers; a product listed twice is bought twice.
    pub product_nos: Vec<Id>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields, example)]
pub struct ConfirmRequest {
    /// From the PSP's success redirect (Toss keys are at most 200 characters).
    #[oai(
        deserialize_with = "json_string",
        validator(min_length = 1, max_length = 200)
    )]
    pub payment_key: String,
    #[oai(
        deserialize_with = "json_string",
        validator(min_length = 6, max_length = 64)
    )]
    pub order_id: String,
    /// Must equal the order total; anything else is refused before the PSP is called.
    pub amount: Decimal,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct PaymentResult {
    pub order_id: String,
    /// SUCCESS, FAILURE or UNKNOWN (being confirmed; poll `GET /api/payments/{orderId}`).
    pub status: PaymentStatus,
    pub amount: Decimal,
    pub order_name: String,
    #[oai(skip_serializing_if_is_none)]
    pub reason: Option<String>,
}

#[derive(ApiResponse)]
enum CheckoutResponse {
    /// The order was created (or, for a repeated Idempotency-Key, the stored answer).
    #[oai(status = 201)]
    Created(Json<CheckoutResult>),
}

#[derive(ApiResponse)]
enum ConfirmResponse {
    /// The payment is confirmed (a repeated confirm of a paid order answers the same).
    #[oai(status = 200)]
    Confirmed(Json<PaymentResult>),
    /// The PSP did not give an outcome; the recovery job is on it.
    #[oai(status = 202)]
    Pending(Json<PaymentResult>),
}

#[derive(Clone)]
pub struct OrderApi {
    pub payments: Payments,
    pub checkouts: Checkouts,
}

impl From<CheckoutError> for ApiError {
    fn from(e: CheckoutError) -> Self {
        match e {
            CheckoutError::Catalog(CatalogError::Missing(nos)) => ApiError::unprocessable(
                "UNKNOWN_PRODUCTS",
                format!("no such products: {}", nos.join(",")),
            ),
            // A 4xx from catalog-service: the request order-service built was refused, which
            // only a broken contract between the two services does (checkout validated the
            // client's input; catalog answers an unknown product 200 with `missingProductNos`).
            // The client is not at fault and retrying will not help: a logged 500, not a 503.
            // A timeout or a rate limit (408, 429) is worth a retry: 503, below.
            CheckoutError::Catalog(ref why @ CatalogError::Status(status))
                if status.is_client_error()
                    && status != reqwest::StatusCode::REQUEST_TIMEOUT
                    && status != reqwest::StatusCode::TOO_MANY_REQUESTS =>
            {
                ApiError::internal_error(why)
            }
            CheckoutError::Catalog(
                ref why @ (CatalogError::Unavailable(_) | CatalogError::Status(_)),
            ) => {
                tracing::warn!(why = %service_kit::error_chain(why), "catalog unavailable at checkout");
                ApiError::unavailable(
                    "CATALOG_UNAVAILABLE",
                    "prices cannot be fetched right now; retry",
                )
            }
            CheckoutError::KeyReused => {
                ApiError::unprocessable("IDEMPOTENCY_KEY_REUSED", e.to_string())
            }
            CheckoutError::KeyInFlight => {
                ApiError::conflict("IDEMPOTENCY_KEY_IN_FLIGHT", e.to_string())
            }
            CheckoutError::Db(e) => e.into(),
            CheckoutError::Ids(e) => ApiError::internal_error(&e),
        }
    }
}

impl From<ConfirmError> for ApiError {
    fn from(e: ConfirmError) -> Self {
        match e {
            ConfirmError::NotFound(_) => ApiError::not_found("ORDER_NOT_FOUND", e.to_string()),
            ConfirmError::AmountMismatch { .. } => {
                ApiError::bad_request("ORDER_AMOUNT_MISMATCH", e.to_string())
            }
            ConfirmError::PaymentKeyMismatch => {
                ApiError::conflict("PAYMENT_KEY_MISMATCH", e.to_string())
            }
            ConfirmError::PaymentKeyInUse => {
                ApiError::conflict("PAYMENT_KEY_IN_USE", e.to_string())
            }
            ConfirmError::InProgress => ApiError::conflict("PAYMENT_IN_PROGRESS", e.to_string()),
            ConfirmError::AlreadyFailed(_) => {
                ApiError::conflict("PAYMENT_ALREADY_FAILED", e.to_string())
            }
            // The one mapping of database errors (service_kit): busy → 503, the rest → 500.
            ConfirmError::Db(db) => db.into(),
            ConfirmError::Ids(_) | ConfirmError::RefundImport(_) => ApiError::internal_error(&e),
        }
    }
}

fn validate_checkout(req: &CheckoutRequest) -> Result<(), ApiError> {
    if req.product_nos.is_empty() || req.product_nos.len() > 50 {
        return Err(ApiError::validation(vec![FieldError {
            field: "productNos".into(),
            message: "must list 1-50 product numbers".into(),
        }]));
    }
    Ok(())
}

impl OrderApi {
    /// Checkout without an idempotency key, also used by the checkout page.
    pub async fn create_checkout(
        &self,
        member_no: i64,
        product_nos: &[i64],
    ) -> Result<CheckoutResult, CheckoutError> {
        self.checkouts.place(member_no, product_nos, None).await
    }

    /// Confirm, as the API and the success page do.
    pub async fn confirm_payment(
        &self,
        req: &ConfirmRequest,
        actor: &str,
    ) -> Result<(PaymentResult, bool), ApiError> {
        crate::input::check_toss_id("paymentKey", &req.payment_key, 1..=200)?;
        crate::input::check_toss_id("orderId", &req.order_id, 6..=64)?;
        let (event, outcome) = self
            .payments
            .confirm(&req.payment_key, &req.order_id, req.amount, actor)
            .await?;
        let mut result = PaymentResult {
            order_id: event.order_id,
            status: PaymentStatus::Unknown,
            amount: event.total_amount,
            order_name: event.order_name,
            reason: None,
        };
        match outcome {
            Outcome::Success => {
                result.status = PaymentStatus::Success;
                Ok((result, true))
            }
            Outcome::Unknown { reason } => {
                result.status = PaymentStatus::Unknown;
                result.reason = Some(reason);
                Ok((result, false))
            }
            Outcome::Failure { code, message } => Err(ApiError::unprocessable(
                &code,
                format!("payment failed: {message}"),
            )),
            Outcome::Rejected { code, message } => Err(ApiError::unprocessable(
                &code,
                format!(
                    "the PSP refused this attempt ({message}); nothing was charged and the \
                     order can still be confirmed with the paymentKey of its approval"
                ),
            )),
            Outcome::CredentialsRejected { .. } => Err(ApiError::unavailable(
                "PSP_CREDENTIALS_REJECTED",
                "payments cannot be confirmed right now; nothing was charged, retry later",
            )),
        }
    }
}

#[OpenApi(tag = "OrderTag::Payments")]
impl OrderApi {
    /// Create an order from the member's products.
    ///
    /// Prices and sellers come from the catalog; the answer carries the orderId and amount
    /// the payment window needs.
    #[oai(path = "/api/checkouts", method = "post", operation_id = "checkout")]
    async fn checkout(
        &self,
        identity: Identity,
        body: Json<CheckoutRequest>,
        /// Optional; the same key with the same body returns the stored answer.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
    ) -> Result<CheckoutResponse, ApiError> {
        let member_no = body.0.member_no.0;
        auth::require_member(&identity, member_no)?;
        auth::limit_writes(&identity, Some(member_no))?;
        validate_checkout(&body.0)?;
        let product_nos: Vec<i64> = body.0.product_nos.iter().map(|id| id.0).collect();
        let result = match idempotency_key.0.as_deref() {
            Some(key) if key.is_empty() || key.len() > 255 => {
                return Err(ApiError::bad_request(
                    "INVALID_IDEMPOTENCY_KEY",
                    "Idempotency-Key must be 1-255 characters",
                ))
            }
            Some(key) => {
                self.checkouts
                    .place(member_no, &product_nos, Some(key))
                    .await?
            }
            None => self.create_checkout(member_no, &product_nos).await?,
        };
        Ok(CheckoutResponse::Created(Json(result)))
    }

    /// Confirm a payment the PSP approved.
    ///
    /// The amount must equal the order total. Answers the outcome: 200 SUCCESS, 202 UNKNOWN
    /// (recovery in progress), or a problem — a PSP decline is 422 with the PSP's code (e.g.
    /// `REJECT_CARD_PAYMENT`).
    #[oai(
        path = "/api/payments/confirm",
        method = "post",
        operation_id = "confirm_payment"
    )]
    async fn confirm(
        &self,
        identity: Identity,
        body: Json<ConfirmRequest>,
    ) -> Result<ConfirmResponse, ApiError> {
        crate::access::require_order_member(&identity, &self.payments, &body.0.order_id, false)
            .await?;
        // A write like a checkout: each confirm can cost a PSP call under our merchant key.
        auth::limit_writes(&identity, None)?;
        let (result, done) = self.confirm_payment(&body.0, "confirm-api").await?;
        Ok(if done {
            ConfirmResponse::Confirmed(Json(result))
        } else {
            ConfirmResponse::Pending(Json(result))
        })
    }

    /// A payment's status, lines, history and wallet settlement.
    #[oai(
        path = "/api/payments/:orderId",
        method = "get",
        operation_id = "get_payment"
    )]
    async fn get_payment(
        &self,
        identity: Identity,
        #[oai(name = "orderId")] order_id: Path<String>,
    ) -> Result<Json<PaymentDetails>, ApiError> {
        crate::access::require_order_member(&identity, &self.payments, &order_id.0, true).await?;
        crate::details::payment_details(&self.payments, &order_id.0)
            .await
            .map(Json)
    }
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
