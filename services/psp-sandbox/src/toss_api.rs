//! Toss Payments API v1, the parts a merchant needs: confirm, cancel, and lookups by
//! paymentKey and by orderId (the transaction listing is [`crate::transactions`]).
//! Authentication is Toss's: `Authorization: Basic base64(secretKey + ":")`.

use std::sync::Arc;

use poem_openapi::{
    auth::Basic,
    param::{Header, Path},
    payload::Json,
    Object, OpenApi, SecurityScheme, Tags,
};
use service_kit::strict::json_string;

use crate::{
    amount::Amount,
    cancel::{self, CancelInput},
    codes,
    confirm::{self, ConfirmInput},
    errors::TossResponse,
    faults::Plan,
    idempotency::internal,
    state::Sandbox,
    store::{self, By},
    webhooks,
};

#[derive(Tags)]
pub(crate) enum TossTag {
    /// Toss Payments API v1 (what order-service calls).
    Payments,
}

/// Toss secret key as the Basic user name with an empty password (`test_sk_…:`).
#[derive(SecurityScheme)]
#[oai(ty = "basic", rename = "TossSecretKey")]
pub struct SecretKey(Basic);

impl SecretKey {
    /// The secret key (the Basic user name).
    pub fn key(&self) -> &str {
        &self.0.username
    }
}

/// Longest Idempotency-Key Toss accepts.
const MAX_IDEMPOTENCY_KEY: usize = 300;

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct ConfirmRequest {
    /// The key the payment window handed to successUrl.
    #[oai(
        deserialize_with = "json_string",
        validator(min_length = 1, max_length = 200)
    )]
    pub payment_key: String,
    #[oai(
        deserialize_with = "json_string",
        validator(min_length = 1, max_length = 64)
    )]
    pub order_id: String,
    /// Must equal the approved amount.
    pub amount: Amount,
}

/// Toss's cancel body (the fields of a card refund).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct CancelRequest {
    /// Why the payment is refunded.
    #[oai(
        deserialize_with = "json_string",
        validator(min_length = 1, max_length = 200)
    )]
    pub cancel_reason: String,
    /// Whole won, at most the balance; omitted: the whole balance.
    #[oai(nullable)]
    pub cancel_amount: Option<Amount>,
}

/// `Some(answer)` when the Idempotency-Key is too long (Toss's limit).
fn idempotency_key(raw: Option<String>) -> Result<Option<String>, TossResponse> {
    let key = raw.filter(|k| !k.trim().is_empty());
    if key.as_ref().is_some_and(|k| k.len() > MAX_IDEMPOTENCY_KEY) {
        return Err(TossResponse::code(
            codes::INVALID_REQUEST,
            format!("Idempotency-Key는 최대 {MAX_IDEMPOTENCY_KEY}자입니다."),
        ));
    }
    Ok(key)
}

/// Toss's key check, shared with [`crate::transactions`].
pub fn check_key(sandbox: &Sandbox, auth: &SecretKey) -> Result<(), TossResponse> {
    if sandbox.settings.accepts(&auth.0.username) {
        Ok(())
    } else {
        Err(TossResponse::error(codes::get(codes::UNAUTHORIZED_KEY)))
    }
}

pub struct TossApi {
    pub sandbox: Arc<Sandbox>,
}

impl TossApi {
    /// Latency faults apply to lookups too: recovery jobs see a slow PSP as well; so does a
    /// per-order `lookup` fault, for lookups by orderId (faults.rs).
    async fn lookup(&self, by: By<'_>) -> TossResponse {
        self.sandbox.latency().await;
        let fault = match by {
            By::OrderId(order_id) => self.sandbox.memory().faults.take_lookup_fault(order_id),
            By::PaymentKey(_) => None,
        };
        match fault {
            Some(Plan::Error(code)) => return TossResponse::error(code),
            // Held, then answered as an internal error: the caller has given up by then.
            Some(Plan::Timeout { delay, .. }) => {
                tokio::time::sleep(delay).await;
                return TossResponse::code(
                    codes::FAILED_INTERNAL_SYSTEM_PROCESSING,
                    "내부 시스템 처리 작업이 실패했습니다. (sandbox: injected lookup timeout)",
                );
            }
            Some(Plan::Pass) | None => {}
        }
        // A READY payment past its time expires as it is read (expiry.rs), with its webhook.
        let found = async {
            let mut tx = self.sandbox.pool.begin().await?;
            let ttl = self.sandbox.settings.ready_ttl;
            let expired = crate::expiry::expire_if_stale(&mut tx, by, ttl).await?;
            let found = store::find(&mut tx, by, false).await?;
            if let (true, Some(payment)) = (expired, &found) {
                webhooks::payment_changed(&self.sandbox, &mut tx, payment).await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(found)
        };
        let (found, queued) = webhooks::tracking(found).await;
        if queued {
            self.sandbox.webhooks_due.notify_one();
        }
        match found {
            Ok(Some(record)) => TossResponse::payment(record.to_payment()),
            Ok(None) => TossResponse::error(codes::get(codes::NOT_FOUND_PAYMENT)),
            Err(err) => internal(&err),
        }
    }
}

#[OpenApi(tag = "TossTag::Payments")]
impl TossApi {
    /// Confirm (charge) an approved payment.
    ///
    /// The same `Idempotency-Key` always gets the stored reply of its first request and never
    /// charges twice; `TossPayments-Test-Code` answers that Toss error code instead (Toss test
    /// mode).
    #[oai(
        path = "/v1/payments/confirm",
        method = "post",
        operation_id = "confirm_payment"
    )]
    async fn confirm(
        &self,
        auth: SecretKey,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        #[oai(name = "TossPayments-Test-Code")] test_code: Header<Option<String>>,
        body: Json<ConfirmRequest>,
    ) -> TossResponse {
        if let Err(reply) = check_key(&self.sandbox, &auth) {
            return reply;
        }
        let idempotency_key = match self::idempotency_key(idempotency_key.0) {
            Ok(key) => key,
            Err(reply) => return reply,
        };
        let body = body.0;
        let input = ConfirmInput {
            payment_key: body.payment_key,
            order_id: body.order_id,
            amount: body.amount,
            idempotency_key,
            test_code: test_code.0.filter(|c| !c.trim().is_empty()),
        };
        confirm::confirm(&self.sandbox, input).await
    }

    /// Cancel (refund) a payment, in full or in part.
    ///
    /// Without `cancelAmount` the whole balance is refunded. The answer is the Payment with
    /// its `cancels` and `balanceAmount`; status CANCELED when nothing is left, else
    /// PARTIAL_CANCELED. The same `Idempotency-Key` gets the stored answer of its first
    /// request and never refunds twice.
    #[oai(
        path = "/v1/payments/:paymentKey/cancel",
        method = "post",
        operation_id = "cancel_payment"
    )]
    async fn cancel(
        &self,
        auth: SecretKey,
        #[oai(name = "paymentKey")] payment_key: Path<String>,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        body: Json<CancelRequest>,
    ) -> TossResponse {
        if let Err(reply) = check_key(&self.sandbox, &auth) {
            return reply;
        }
        let idempotency_key = match self::idempotency_key(idempotency_key.0) {
            Ok(key) => key,
            Err(reply) => return reply,
        };
        let reason = body.0.cancel_reason.trim().to_string();
        if reason.is_empty() {
            return TossResponse::code(codes::INVALID_REQUEST, "cancelReason은 필수입니다.");
        }
        let input = CancelInput {
            payment_key: payment_key.0,
            reason,
            amount: body.0.cancel_amount,
            idempotency_key,
        };
        cancel::cancel(&self.sandbox, input).await
    }

    /// The payment with this paymentKey (with its cancels and balance).
    #[oai(
        path = "/v1/payments/:paymentKey",
        method = "get",
        operation_id = "get_payment"
    )]
    async fn get_payment(
        &self,
        auth: SecretKey,
        #[oai(name = "paymentKey")] payment_key: Path<String>,
    ) -> TossResponse {
        if let Err(reply) = check_key(&self.sandbox, &auth) {
            return reply;
        }
        self.lookup(By::PaymentKey(&payment_key.0)).await
    }

    /// The payment of an orderId.
    ///
    /// How a merchant finds out what happened to a confirm that timed out.
    #[oai(
        path = "/v1/payments/orders/:orderId",
        method = "get",
        operation_id = "get_payment_by_order_id"
    )]
    async fn get_payment_by_order(
        &self,
        auth: SecretKey,
        #[oai(name = "orderId")] order_id: Path<String>,
    ) -> TossResponse {
        if let Err(reply) = check_key(&self.sandbox, &auth) {
            return reply;
        }
        self.lookup(By::OrderId(&order_id.0)).await
    }
}
