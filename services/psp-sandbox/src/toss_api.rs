//! Toss Payments API v1, the parts order-service uses: confirm, and lookups by paymentKey and
//! by orderId. Authentication is Toss's: `Authorization: Basic base64(secretKey + ":")`.

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
    codes,
    confirm::{self, ConfirmInput},
    errors::TossResponse,
    payment::PaymentRecord,
    state::Sandbox,
};

#[derive(Tags)]
enum TossTag {
    /// Toss Payments API v1 (what order-service calls).
    Payments,
}

/// Toss secret key as the Basic user name with an empty password (`test_sk_…:`).
#[derive(SecurityScheme)]
#[oai(ty = "basic", rename = "TossSecretKey")]
pub struct SecretKey(Basic);

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

pub struct TossApi {
    pub sandbox: Arc<Sandbox>,
}

impl TossApi {
    fn check_key(&self, auth: &SecretKey) -> Result<(), TossResponse> {
        if self.sandbox.settings.accepts(&auth.0.username) {
            Ok(())
        } else {
            Err(TossResponse::error(codes::get(codes::UNAUTHORIZED_KEY)))
        }
    }

    /// Latency faults apply to lookups too: recovery jobs see a slow PSP as well.
    async fn lookup(
        &self,
        find: impl FnOnce(&crate::state::State) -> Option<PaymentRecord>,
    ) -> TossResponse {
        let latency = self.sandbox.lock().faults.latency();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let found = find(&self.sandbox.lock());
        match found {
            Some(record) => TossResponse::payment(record.to_payment()),
            None => TossResponse::error(codes::get(codes::NOT_FOUND_PAYMENT)),
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
        if let Err(reply) = self.check_key(&auth) {
            return reply;
        }
        let idempotency_key = idempotency_key.0.filter(|k| !k.trim().is_empty());
        if idempotency_key
            .as_ref()
            .is_some_and(|k| k.len() > MAX_IDEMPOTENCY_KEY)
        {
            return TossResponse::code(
                codes::INVALID_REQUEST,
                format!("Idempotency-Key는 최대 {MAX_IDEMPOTENCY_KEY}자입니다."),
            );
        }
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

    /// The payment with this paymentKey (READY, DONE or ABORTED).
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
        if let Err(reply) = self.check_key(&auth) {
            return reply;
        }
        self.lookup(|s| s.payment(&payment_key.0).cloned()).await
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
        if let Err(reply) = self.check_key(&auth) {
            return reply;
        }
        self.lookup(|s| s.payment_by_order(&order_id.0).cloned())
            .await
    }
}
