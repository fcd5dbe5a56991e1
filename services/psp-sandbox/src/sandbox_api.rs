//! The sandbox's own controls under `/sandbox`: approvals for scripts and load tests, fault
//! settings and reset (statistics are in [`crate::stats_api`]). These are paymsa endpoints, so
//! errors are problem+json. They are unauthenticated: the sandbox is a local test tool and
//! binds to 127.0.0.1 unless told otherwise.

use std::sync::Arc;

use poem_openapi::{param::Path, payload::Json, ApiResponse, Object, OpenApi, Tags};
use service_kit::{strict::json_string, ApiError, FieldError};

use crate::{
    amount::Amount,
    approval::{self, Approval},
    codes,
    faults::{FaultMode, Faults, Operation, OrderFault},
    state::Sandbox,
    store,
};

#[derive(Tags)]
pub(crate) enum SandboxTag {
    /// Sandbox controls: approvals without a browser, faults, statistics.
    Sandbox,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields, example)]
pub struct ApprovalRequest {
    #[oai(deserialize_with = "json_string")]
    pub order_id: String,
    pub amount: Amount,
    #[oai(deserialize_with = "json_string")]
    pub order_name: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct ApprovalCreated {
    /// Pass it to `POST /v1/payments/confirm`.
    pub payment_key: String,
}

#[derive(ApiResponse)]
enum ApprovalResponse {
    /// A new READY payment.
    #[oai(status = 201)]
    Created(Json<ApprovalCreated>),
    /// The order was approved before with the same amount: its paymentKey.
    #[oai(status = 200)]
    Existing(Json<ApprovalCreated>),
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields, example)]
pub struct OrderFaultRequest {
    /// Which calls of the order it hits: `confirm` (default), `cancel`, `any` (of those two)
    /// or `lookup` (`GET /v1/payments/orders/{orderId}`).
    #[oai(default = "confirm_only", nullable)]
    pub operation: Operation,
    pub mode: FaultMode,
    /// Error code for `mode: error` (default `PROVIDER_ERROR`); a decline code (REJECT_*, …)
    /// aborts the payment like a real decline.
    #[oai(nullable)]
    pub error_code: Option<String>,
    /// Applies to the next `times` calls (of `operation`) of the order, then it behaves
    /// normally.
    #[oai(
        default = "one",
        validator(minimum(value = "1"), maximum(value = "1000")),
        nullable
    )]
    pub times: u32,
    /// For `mode: timeout`; default: the global `timeoutMs`.
    #[oai(validator(maximum(value = "300000")), nullable)]
    pub timeout_ms: Option<u64>,
    /// For `mode: timeout`; default: the global `approveBeforeTimeout`.
    #[oai(nullable)]
    pub approve_before_timeout: Option<bool>,
}

fn one() -> u32 {
    1
}

/// Existing callers set confirm faults without naming the operation.
fn confirm_only() -> Operation {
    Operation::Confirm
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct OrderFaultView {
    pub order_id: String,
    pub operation: Operation,
    pub mode: FaultMode,
    pub error_code: String,
    /// Calls still to be hit.
    pub remaining: u32,
    pub timeout_ms: u64,
    pub approve_before_timeout: bool,
}

fn view(order_id: &str, f: &OrderFault) -> OrderFaultView {
    OrderFaultView {
        order_id: order_id.to_string(),
        operation: f.operation,
        mode: f.mode,
        error_code: f.code.code.to_string(),
        remaining: f.remaining,
        timeout_ms: f.timeout_ms,
        approve_before_timeout: f.approve_before_timeout,
    }
}

#[derive(ApiResponse)]
enum Done {
    /// Done (also when there was nothing to remove).
    #[oai(status = 204)]
    NoContent,
}

pub struct SandboxApi {
    pub sandbox: Arc<Sandbox>,
}

#[OpenApi(tag = "SandboxTag::Sandbox")]
impl SandboxApi {
    /// Approve an order without the payment window.
    ///
    /// What the payment window's Approve button does, for scripts and load tests: a READY
    /// payment for the order. Idempotent per orderId; another amount for it is 409.
    #[oai(
        path = "/sandbox/approvals",
        method = "post",
        operation_id = "create_approval"
    )]
    async fn create_approval(
        &self,
        body: Json<ApprovalRequest>,
    ) -> Result<ApprovalResponse, ApiError> {
        let b = body.0;
        match approval::approve(&self.sandbox, &b.order_id, &b.order_name, b.amount).await {
            Err(error) => Err(error),
            Ok(Approval::Created(payment_key)) => {
                Ok(ApprovalResponse::Created(Json(ApprovalCreated {
                    payment_key,
                })))
            }
            Ok(Approval::Existing(payment_key)) => {
                Ok(ApprovalResponse::Existing(Json(ApprovalCreated {
                    payment_key,
                })))
            }
            Ok(Approval::Conflict { amount }) => Err(ApiError::conflict(
                "APPROVAL_AMOUNT_MISMATCH",
                format!("order {} was approved for {amount} KRW", b.order_id),
            )),
        }
    }

    /// The global fault settings in force (with the PRNG seed).
    #[oai(path = "/sandbox/faults", method = "get", operation_id = "get_faults")]
    async fn get_faults(&self) -> Json<Faults> {
        Json(self.sandbox.memory().faults.current().clone())
    }

    /// Replaces the global fault settings; `{}` turns all global faults off.
    #[oai(path = "/sandbox/faults", method = "put", operation_id = "put_faults")]
    async fn put_faults(&self, body: Json<Faults>) -> Result<Json<Faults>, ApiError> {
        let code = body.0.validate().map_err(ApiError::validation)?;
        let mut state = self.sandbox.memory();
        state.faults.replace(body.0, code);
        Ok(Json(state.faults.current().clone()))
    }

    /// Set a fault for the next confirms or cancels of one order.
    ///
    /// Applies to the next `times` calls of the order named by `operation` (confirm by
    /// default, cancel, or any), replacing any earlier fault of the order.
    #[oai(
        path = "/sandbox/faults/orders/:orderId",
        method = "put",
        operation_id = "put_order_fault"
    )]
    async fn put_order_fault(
        &self,
        #[oai(name = "orderId")] order_id: Path<String>,
        body: Json<OrderFaultRequest>,
    ) -> Result<Json<OrderFaultView>, ApiError> {
        let b = body.0;
        let name = b.error_code.as_deref().unwrap_or(codes::PROVIDER_ERROR);
        let Some(code) = codes::find(name) else {
            return Err(ApiError::validation(vec![FieldError {
                field: "errorCode".into(),
                message: format!("{name} is not a Toss error code the sandbox knows"),
            }]));
        };
        let mut state = self.sandbox.memory();
        let global = state.faults.current().clone();
        let fault = OrderFault {
            operation: b.operation,
            mode: b.mode,
            code,
            remaining: b.times,
            timeout_ms: b.timeout_ms.unwrap_or(global.timeout_ms),
            approve_before_timeout: b
                .approve_before_timeout
                .unwrap_or(global.approve_before_timeout),
        };
        let answer = view(&order_id.0, &fault);
        state.faults.set_order(order_id.0, fault);
        Ok(Json(answer))
    }

    /// The pending fault of one order.
    #[oai(
        path = "/sandbox/faults/orders/:orderId",
        method = "get",
        operation_id = "get_order_fault"
    )]
    async fn get_order_fault(
        &self,
        #[oai(name = "orderId")] order_id: Path<String>,
    ) -> Result<Json<OrderFaultView>, ApiError> {
        let state = self.sandbox.memory();
        match state.faults.order(&order_id.0) {
            Some(fault) => Ok(Json(view(&order_id.0, fault))),
            None => Err(ApiError::not_found(
                "NO_ORDER_FAULT",
                format!("no pending fault for order {}", order_id.0),
            )),
        }
    }

    /// Removes the pending fault of one order.
    #[oai(
        path = "/sandbox/faults/orders/:orderId",
        method = "delete",
        operation_id = "delete_order_fault"
    )]
    async fn delete_order_fault(
        &self,
        #[oai(name = "orderId")] order_id: Path<String>,
    ) -> Result<Done, ApiError> {
        self.sandbox.memory().faults.clear_order(&order_id.0);
        Ok(Done::NoContent)
    }

    /// Forget all payments, replies, transactions, statistics and per-order faults.
    ///
    /// Deletes every payment, refund, transaction and stored Idempotency-Key reply from the
    /// sandbox's database and forgets statistics and per-order faults; global fault settings
    /// stay. For scripts that reuse one sandbox across runs.
    #[oai(
        path = "/sandbox/reset",
        method = "post",
        operation_id = "reset_sandbox"
    )]
    async fn reset(&self) -> Result<Done, ApiError> {
        store::reset(&self.sandbox.pool)
            .await
            .map_err(ApiError::from)?;
        self.sandbox.memory().reset();
        Ok(Done::NoContent)
    }
}
