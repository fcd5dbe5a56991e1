//! Payouts over HTTP: `POST /api/wallets/sellers/{sellerNo}/payouts` (with an optional
//! `Idempotency-Key`), the seller's payouts in keyset pages, one payout with its status
//! history, `GET /admin/payouts/unresolved` (open an hour after the request) and
//! `POST /admin/payouts/{payoutNo}/lookup` (look it up at the PSP now).

use poem_openapi::{
    param::{Header, Path, Query},
    payload::Json,
    ApiResponse, OpenApi, Tags,
};
use service_kit::{admin::AdminAuth, ApiError, Id};

use crate::{
    ids::{PayoutNo, SellerNo},
    payouts::{
        auto::AUTO_KEY_PREFIX,
        job::UNRESOLVED_AFTER_SECS,
        request::{request_and_send, RequestError},
        store, Payouts,
    },
    payouts_view::{admin_view, view, Payout, PayoutPage, PayoutRequest},
};

#[derive(Tags)]
enum PayoutTag {
    /// Paying sellers their available money through the PSP.
    Payouts,
}

#[derive(ApiResponse)]
enum CreateResponse {
    /// The payout was requested (its status says how far it got with the PSP).
    #[oai(status = 201)]
    Created(Json<Payout>),
    /// The Idempotency-Key's earlier payout, as it is now.
    #[oai(status = 200)]
    Replayed(Json<Payout>),
}

pub struct PayoutApi {
    pub payouts: Payouts,
    pub admin_token: Option<String>,
}

fn request_error(e: RequestError) -> ApiError {
    match e {
        RequestError::NoWallet(_) => ApiError::not_found("WALLET_NOT_FOUND", e.to_string()),
        RequestError::InvalidAmount(_) => {
            ApiError::unprocessable("INVALID_PAYOUT_AMOUNT", e.to_string())
        }
        RequestError::ExceedsAvailable { .. } => {
            ApiError::unprocessable("PAYOUT_EXCEEDS_AVAILABLE", e.to_string())
        }
        RequestError::KeyReused(_) => {
            ApiError::unprocessable("IDEMPOTENCY_KEY_REUSED", e.to_string())
        }
        RequestError::Db(e) => e.into(),
        RequestError::Id(e) => ApiError::internal_error(&e),
    }
}

fn not_found(payout_no: PayoutNo) -> ApiError {
    ApiError::not_found("PAYOUT_NOT_FOUND", format!("no payout {payout_no}"))
}

#[OpenApi(tag = "PayoutTag::Payouts")]
impl PayoutApi {
    /// Pay out part of a seller's available balance through the PSP.
    ///
    /// Whole won, above 0 and at most `available` (else 422 `PAYOUT_EXCEEDS_AVAILABLE`). The
    /// money moves to `inTransit` at once; the payout is COMPLETED (→ `paidOut`) or FAILED
    /// (→ back to `available`) when the PSP says so. The same `Idempotency-Key` with the same
    /// amount answers the same payout (200); with another amount, 422 `IDEMPOTENCY_KEY_REUSED`.
    #[oai(
        path = "/api/wallets/sellers/:sellerNo/payouts",
        method = "post",
        operation_id = "create_payout"
    )]
    async fn create(
        &self,
        identity: service_kit::auth::Identity,
        #[oai(name = "sellerNo")] seller_no: Path<Id>,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        body: Json<PayoutRequest>,
    ) -> Result<CreateResponse, ApiError> {
        service_kit::auth::require_seller(&identity, seller_no.0 .0)?;
        // Each payout is a PSP transfer under the platform's key, and may carry a fee.
        service_kit::auth::limit_writes(&identity, None)?;
        let seller_no = SellerNo::from(seller_no.0);
        let key = idempotency_key.0.as_deref();
        if key.is_some_and(|k| k.is_empty() || k.chars().count() > 255) {
            return Err(ApiError::bad_request(
                "INVALID_IDEMPOTENCY_KEY",
                "Idempotency-Key must be 1-255 characters",
            ));
        }
        if key.is_some_and(|k| k.starts_with(AUTO_KEY_PREFIX)) {
            return Err(ApiError::bad_request(
                "INVALID_IDEMPOTENCY_KEY",
                format!("Idempotency-Key may not start with {AUTO_KEY_PREFIX:?} (reserved)"),
            ));
        }
        let (row, created) = request_and_send(&self.payouts, seller_no, body.0.amount, key)
            .await
            .map_err(request_error)?;
        let payout = view(row, None);
        Ok(if created {
            CreateResponse::Created(Json(payout))
        } else {
            CreateResponse::Replayed(Json(payout))
        })
    }

    /// A seller's payouts, newest first, in keyset pages.
    #[oai(
        path = "/api/wallets/sellers/:sellerNo/payouts",
        method = "get",
        operation_id = "list_seller_payouts"
    )]
    async fn list(
        &self,
        identity: service_kit::auth::Identity,
        #[oai(name = "sellerNo")] seller_no: Path<Id>,
        /// Page size, 1–200 (default 20).
        limit: Query<Option<i64>>,
        /// `nextCursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<Json<PayoutPage>, ApiError> {
        service_kit::auth::require_seller(&identity, seller_no.0 .0)?;
        let seller_no = SellerNo::from(seller_no.0);
        let limit = limit.0.unwrap_or(20);
        if !(1..=200).contains(&limit) {
            return Err(ApiError::bad_request(
                "INVALID_LIMIT",
                "limit must be 1–200",
            ));
        }
        let before = match cursor.0.as_deref() {
            None => None,
            Some(c) => Some(
                c.parse::<i64>()
                    .ok()
                    .filter(|c| *c > 0)
                    .map(PayoutNo)
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "INVALID_CURSOR",
                            "cursor is not a nextCursor of a page",
                        )
                    })?,
            ),
        };
        let mut conn = self.payouts.pool.acquire().await?;
        if crate::store::find_wallet_by_seller(&mut conn, seller_no)
            .await?
            .is_none()
        {
            return Err(request_error(RequestError::NoWallet(seller_no)));
        }
        let rows = store::list(&mut conn, seller_no, before, limit).await?;
        let next_cursor = (rows.len() as i64 == limit)
            .then(|| rows.last().map(|p| p.payout_no.to_string()))
            .flatten();
        Ok(Json(PayoutPage {
            payouts: rows.into_iter().map(|r| view(r, None)).collect(),
            next_cursor,
        }))
    }

    /// One payout of a seller, with its status history.
    #[oai(
        path = "/api/wallets/sellers/:sellerNo/payouts/:payoutNo",
        method = "get",
        operation_id = "get_seller_payout"
    )]
    async fn get(
        &self,
        identity: service_kit::auth::Identity,
        #[oai(name = "sellerNo")] seller_no: Path<Id>,
        #[oai(name = "payoutNo")] payout_no: Path<Id>,
    ) -> Result<Json<Payout>, ApiError> {
        service_kit::auth::require_seller(&identity, seller_no.0 .0)?;
        let (seller_no, payout_no) = (SellerNo::from(seller_no.0), PayoutNo::from(payout_no.0));
        let mut conn = self.payouts.pool.acquire().await?;
        let row = store::find(&mut conn, payout_no)
            .await?
            .filter(|p| p.seller_no == seller_no)
            .ok_or_else(|| not_found(payout_no))?;
        let history = store::history_of(&mut conn, row.payout_no).await?;
        Ok(Json(view(row, Some(history))))
    }

    /// Open payouts requested over an hour ago, oldest first (operators; admin token).
    ///
    /// What the alert `PaymsaPayoutsUnresolved` counts: the recovery job keeps looking them up
    /// at the PSP; each one's `lastError`, `failureCode` and history say what the last look
    /// found.
    #[oai(
        path = "/admin/payouts/unresolved",
        method = "get",
        operation_id = "list_unresolved_payouts"
    )]
    async fn unresolved(&self, auth: AdminAuth) -> Result<Json<Vec<Payout>>, ApiError> {
        service_kit::admin::authorize(self.admin_token.as_deref(), &auth)?;
        let mut conn = self.payouts.pool.acquire().await?;
        let rows = store::unresolved(&mut conn, UNRESOLVED_AFTER_SECS, 1000).await?;
        Ok(Json(
            rows.into_iter().map(|r| admin_view(r, None)).collect(),
        ))
    }

    /// Look an open payout up at the PSP now (operators; admin token).
    ///
    /// What the recovery job does when a payout is due: applies what the PSP knows, or asks
    /// it again with the same Idempotency-Key if it never got the payout. A final payout is
    /// answered as it is.
    #[oai(
        path = "/admin/payouts/:payoutNo/lookup",
        method = "post",
        operation_id = "lookup_payout"
    )]
    async fn lookup(
        &self,
        auth: AdminAuth,
        #[oai(name = "payoutNo")] payout_no: Path<Id>,
    ) -> Result<Json<Payout>, ApiError> {
        service_kit::admin::authorize(self.admin_token.as_deref(), &auth)?;
        let payout_no = PayoutNo::from(payout_no.0);
        let find = |pool: sqlx::PgPool| async move {
            let mut conn = pool.acquire().await?;
            store::find(&mut conn, payout_no).await
        };
        let row = find(self.payouts.pool.clone())
            .await?
            .ok_or_else(|| not_found(payout_no))?;
        if row.is_open() {
            self.payouts
                .lookup(&row, "admin")
                .await
                .map_err(|e| ApiError::internal_error(&e))?;
        }
        let row = find(self.payouts.pool.clone())
            .await?
            .ok_or_else(|| not_found(payout_no))?;
        let mut conn = self.payouts.pool.acquire().await?;
        let history = store::history_of(&mut conn, row.payout_no).await?;
        Ok(Json(admin_view(row, Some(history))))
    }
}
