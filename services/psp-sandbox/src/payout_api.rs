//! Toss Payments API v2, payouts (지급대행): `POST /v2/payouts`, `GET /v2/payouts/{id}` and
//! `GET /v2/payouts?refPayoutId=`. Basic auth with the secret key as for v1; errors are Toss's
//! `{code, message}` JSON. The merchant is the secret key: refPayoutIds and lookups are scoped
//! to it.

use std::sync::Arc;

use poem_openapi::{
    param::{Header, Path, Query},
    payload::Json,
    ApiResponse, OpenApi, Tags,
};

use crate::{
    codes::{self, TossCode},
    errors::TossError,
    payout::{PayoutList, PayoutOne, PayoutRecord, PayoutRequestItem, VERSION},
    payout_store,
    payouts::{self, database_error},
    state::{Sandbox, HEX},
    toss_api::SecretKey,
};

#[derive(Tags)]
pub(crate) enum PayoutTag {
    /// Toss Payments API v2: payouts to sellers (지급대행).
    Payouts,
}

/// Longest Idempotency-Key accepted, as for v1.
const MAX_IDEMPOTENCY_KEY: usize = 300;
const MAX_LIMIT: u32 = 1000;

macro_rules! v2_response {
    ($name:ident, $ok:ty, $handler:literal, $fn:ident) => {
        #[derive(Debug, ApiResponse)]
        #[oai(bad_request_handler = $handler)]
        pub enum $name {
            /// Toss v2's envelope around the payouts.
            #[oai(status = 200)]
            Ok(Json<Box<$ok>>),
            /// Invalid request (`INVALID_REQUEST`) or a transient provider error.
            #[oai(status = 400)]
            BadRequest(Json<TossError>),
            /// Missing or unknown secret key (`UNAUTHORIZED_KEY`).
            #[oai(status = 401)]
            Unauthorized(Json<TossError>),
            /// Refused (`FORBIDDEN_REQUEST`).
            #[oai(status = 403)]
            Forbidden(Json<TossError>),
            /// No such payout (`NOT_FOUND_PAYOUT`).
            #[oai(status = 404)]
            NotFound(Json<TossError>),
            /// A request with the same Idempotency-Key is still being processed.
            #[oai(status = 409)]
            Conflict(Json<TossError>),
            /// A failure inside the PSP; retry with the same Idempotency-Key.
            #[oai(status = 500)]
            Internal(Json<TossError>),
        }

        impl $name {
            pub fn error(code: &TossCode, message: impl Into<String>) -> Self {
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

            pub fn internal(err: &sqlx::Error) -> Self {
                let (code, message) = database_error(err);
                Self::error(code, message)
            }
        }

        fn $fn(err: poem::Error) -> $name {
            if err.status() == poem::http::StatusCode::UNAUTHORIZED {
                return $name::error(
                    codes::get(codes::UNAUTHORIZED_KEY),
                    codes::get(codes::UNAUTHORIZED_KEY).message,
                );
            }
            $name::error(
                codes::get(codes::INVALID_REQUEST),
                format!("잘못된 요청입니다. ({err})"),
            )
        }
    };
}

v2_response!(PayoutListResponse, PayoutList, "invalid_list", invalid_list);
v2_response!(PayoutOneResponse, PayoutOne, "invalid_one", invalid_one);

fn merchant(sandbox: &Sandbox, auth: &SecretKey) -> Option<String> {
    let key = auth.key();
    sandbox.settings.accepts(key).then(|| key.to_string())
}

pub struct PayoutApi {
    pub sandbox: Arc<Sandbox>,
}

#[OpenApi(tag = "PayoutTag::Payouts")]
impl PayoutApi {
    /// Request payouts to sellers (a list; Idempotency-Key required).
    ///
    /// Each item becomes a REQUESTED payout, settled COMPLETED (or FAILED) after
    /// `SANDBOX_PAYOUT_DELAY_MS`, with a signed `payout.changed` webhook. A refPayoutId the
    /// merchant used before answers the existing payout; the same Idempotency-Key answers the
    /// stored reply of its first request.
    #[oai(
        path = "/v2/payouts",
        method = "post",
        operation_id = "request_payouts"
    )]
    async fn request(
        &self,
        auth: SecretKey,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        body: Json<Vec<PayoutRequestItem>>,
    ) -> PayoutListResponse {
        let Some(merchant) = merchant(&self.sandbox, &auth) else {
            let code = codes::get(codes::UNAUTHORIZED_KEY);
            return PayoutListResponse::error(code, code.message);
        };
        let key = idempotency_key.0.map(|k| k.trim().to_string());
        let Some(key) = key.filter(|k| !k.is_empty()) else {
            let code = codes::get(codes::INVALID_REQUEST);
            return PayoutListResponse::error(code, "Idempotency-Key 헤더는 필수입니다.");
        };
        if key.len() > MAX_IDEMPOTENCY_KEY {
            let code = codes::get(codes::INVALID_REQUEST);
            let message = format!("Idempotency-Key는 최대 {MAX_IDEMPOTENCY_KEY}자입니다.");
            return PayoutListResponse::error(code, message);
        }
        payouts::create(&self.sandbox, &merchant, &key, body.0).await
    }

    /// One payout by its id (`FPA_…`).
    #[oai(
        path = "/v2/payouts/:payoutId",
        method = "get",
        operation_id = "get_payout"
    )]
    async fn get(
        &self,
        auth: SecretKey,
        #[oai(name = "payoutId")] id: Path<String>,
    ) -> PayoutOneResponse {
        let Some(merchant) = merchant(&self.sandbox, &auth) else {
            let code = codes::get(codes::UNAUTHORIZED_KEY);
            return PayoutOneResponse::error(code, code.message);
        };
        self.sandbox.latency().await;
        let found = async {
            let mut conn = self.sandbox.pool.acquire().await?;
            payout_store::find_by_id(&mut conn, &merchant, &id.0).await
        };
        match found.await {
            Ok(Some(payout)) => PayoutOneResponse::Ok(Json(Box::new(PayoutOne {
                version: VERSION.into(),
                trace_id: self.sandbox.random(32, HEX).to_lowercase(),
                entity_type: "payout".into(),
                entity_body: payout.to_item(),
            }))),
            Ok(None) => {
                let code = codes::get(codes::NOT_FOUND_PAYOUT);
                PayoutOneResponse::error(code, code.message)
            }
            Err(err) => PayoutOneResponse::internal(&err),
        }
    }

    /// The payout with a refPayoutId, or the merchant's latest payouts.
    ///
    /// With `refPayoutId`: `items` holds that payout, or nothing if there is none. Without:
    /// the latest `limit` (default 100, at most 1000) payouts, newest first.
    #[oai(path = "/v2/payouts", method = "get", operation_id = "list_payouts")]
    async fn list(
        &self,
        auth: SecretKey,
        #[oai(name = "refPayoutId")] ref_payout_id: Query<Option<String>>,
        limit: Query<Option<u32>>,
    ) -> PayoutListResponse {
        let Some(merchant) = merchant(&self.sandbox, &auth) else {
            let code = codes::get(codes::UNAUTHORIZED_KEY);
            return PayoutListResponse::error(code, code.message);
        };
        let limit = limit.0.unwrap_or(100);
        if !(1..=MAX_LIMIT).contains(&limit) {
            let code = codes::get(codes::INVALID_REQUEST);
            return PayoutListResponse::error(code, format!("limit은 1~{MAX_LIMIT}입니다."));
        }
        self.sandbox.latency().await;
        let found = async {
            let mut conn = self.sandbox.pool.acquire().await?;
            match ref_payout_id.0 {
                Some(r) => Ok(payout_store::find_by_ref(&mut conn, &merchant, &r)
                    .await?
                    .into_iter()
                    .collect::<Vec<PayoutRecord>>()),
                None => payout_store::recent(&mut conn, &merchant, i64::from(limit)).await,
            }
        };
        match found.await {
            Ok(payouts) => {
                PayoutListResponse::Ok(Json(Box::new(payouts::list(&self.sandbox, &payouts))))
            }
            Err(err) => PayoutListResponse::internal(&err),
        }
    }
}
