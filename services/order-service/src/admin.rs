//! Admin endpoints (admin token): unresolved payments and reconciliation with the PSP.

use chrono::{DateTime, Datelike, Duration, Utc};
use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    Object, OpenApi, Tags,
};
use rust_decimal::Decimal;
use service_kit::{admin::AdminAuth, ApiError, Id};

use crate::{
    cancels::CancelError,
    payments::Payments,
    reconcile::{Ledger, ReconcileError},
    status::CancelStatus,
    store,
};

#[derive(Tags)]
enum AdminTag {
    /// Operator views of the payments (admin token).
    PaymentsAdmin,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct UnresolvedPayment {
    pub order_id: String,
    pub total_amount: Decimal,
    #[oai(skip_serializing_if_is_none)]
    pub payment_key: Option<String>,
    /// Unknown outcomes so far.
    pub failed_count: i32,
    /// When the recovery job looks the payment up next (past: at its next pass). Absent for an
    /// attempt still EXECUTING that nothing made due: it is taken over once
    /// `RECOVERY_STALE_MS` old.
    #[oai(skip_serializing_if_is_none)]
    pub next_lookup_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A cancel whose PSP outcome is still unknown after the threshold.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct UnresolvedCancel {
    pub order_id: String,
    pub cancel_no: Id,
    pub cancel_amount: Decimal,
    /// Calls so far without a definite answer.
    pub attempts: i32,
    /// The last reason (e.g. PSP_TIMEOUT).
    #[oai(skip_serializing_if_is_none)]
    pub last_reason: Option<String>,
    pub requested_at: DateTime<Utc>,
}

/// A cancel after an operator's resolution.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct ResolvedCancel {
    pub order_id: String,
    pub cancel_no: Id,
    /// DONE (the PSP's record holds its refund) or REJECTED (it does not:
    /// `CLOSED_BY_OPERATOR`); a cancel closed before is answered as it is.
    pub status: CancelStatus,
    pub cancel_amount: Decimal,
    #[oai(skip_serializing_if_is_none)]
    pub failure_code: Option<String>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct LedgerView {
    pub status: String,
    pub charged: Decimal,
    pub refunded: Decimal,
}

impl From<Ledger> for LedgerView {
    fn from(l: Ledger) -> Self {
        Self {
            status: l.status,
            charged: l.charged,
            refunded: l.refunded,
        }
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct MismatchView {
    pub order_id: String,
    pub ours: LedgerView,
    pub psp: LedgerView,
    /// ACCEPTED_PAYMENT, REFUNDED_WRONG_CHARGE, COMPLETED_CANCEL, IMPORTED_PSP_REFUND, NONE (for
    /// a person to look at) or ERROR (the repair failed; retried on the next run).
    pub action: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct ReconciliationReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub checked: u64,
    pub matched: u64,
    /// Of `matched`: orders that differed from the PSP's transaction list and agreed with its
    /// record looked up again (confirmed or refunded between reading the PSP and reading us).
    pub matched_on_second_look: u64,
    /// Orders with an attempt or cancel in flight, compared on the next run.
    pub in_flight: u64,
    pub mismatches: Vec<MismatchView>,
}

#[derive(Clone)]
pub struct PaymentsAdminApi {
    pub payments: Payments,
    pub admin_token: Option<String>,
}

#[OpenApi(tag = "AdminTag::PaymentsAdmin")]
impl PaymentsAdminApi {
    /// Payments still unknown after the lookup threshold (admin token).
    ///
    /// The recovery job keeps looking them up (the wait doubles up to a cap); they are listed
    /// here and counted in `payments_unresolved` so a person can follow up with the PSP.
    #[oai(
        path = "/admin/payments/unresolved",
        method = "get",
        operation_id = "list_unresolved_payments"
    )]
    async fn unresolved(&self, auth: AdminAuth) -> Result<Json<Vec<UnresolvedPayment>>, ApiError> {
        service_kit::admin::authorize(self.admin_token.as_deref(), &auth)?;
        let mut conn = self.payments.pool.acquire().await?;
        let rows = store::recovery::unresolved(&mut conn, 500).await?;
        Ok(Json(
            rows.into_iter()
                .map(|r| UnresolvedPayment {
                    order_id: r.order_id,
                    total_amount: r.total_amount,
                    payment_key: r.payment_key,
                    failed_count: r.failed_count,
                    next_lookup_at: r.next_recovery_at,
                    created_at: r.created_at,
                })
                .collect(),
        ))
    }

    /// Cancels still unknown after the lookup threshold (admin token).
    ///
    /// The recovery job keeps repeating each with its own PSP key; while one is open, the order
    /// takes no other cancel. Counted in `cancels_unresolved`.
    #[oai(
        path = "/admin/cancels/unresolved",
        method = "get",
        operation_id = "list_unresolved_cancels"
    )]
    async fn unresolved_cancels(
        &self,
        auth: AdminAuth,
    ) -> Result<Json<Vec<UnresolvedCancel>>, ApiError> {
        service_kit::admin::authorize(self.admin_token.as_deref(), &auth)?;
        let mut conn = self.payments.pool.acquire().await?;
        let rows =
            store::cancels::unresolved(&mut conn, crate::recovery::UNRESOLVED_CANCEL_ATTEMPTS, 500)
                .await?;
        Ok(Json(
            rows.into_iter()
                .map(|c| UnresolvedCancel {
                    order_id: c.order_id,
                    cancel_no: Id(c.cancel_no),
                    cancel_amount: c.cancel_amount,
                    attempts: c.attempts,
                    last_reason: c.failure_code,
                    requested_at: c.created_at,
                })
                .collect(),
        ))
    }

    /// Resolve a cancel left open (admin token).
    ///
    /// For a cancel the recovery job keeps repeating without a definite answer (listed on
    /// `/admin/cancels/unresolved`): decides from the PSP's record of the payment — its refund
    /// is there → DONE, recorded and reversed like any; it is not → REJECTED
    /// (`CLOSED_BY_OPERATOR`), and the order can be cancelled again. The cancel's history keeps
    /// who resolved it. 404 `CANCEL_NOT_FOUND`; 409 `CANCEL_NOT_UNRESOLVED` before its fifth call
    /// (recovery may still settle it), `CANCEL_BEING_DRIVEN` until no drive has touched it for
    /// twice the longer of `RECOVERY_STALE_MS` and three PSP timeouts, `LINES_NOT_REFUNDABLE`
    /// when the PSP refunded and a line of the order cannot take it (repair the line first);
    /// 503 `PSP_RECORD_UNREADABLE` when the record cannot be read. A closed cancel is answered
    /// as it is.
    #[oai(
        path = "/admin/cancels/:cancelNo/resolve",
        method = "post",
        operation_id = "resolve_cancel"
    )]
    async fn resolve_cancel(
        &self,
        auth: AdminAuth,
        #[oai(name = "cancelNo")] cancel_no: Path<Id>,
    ) -> Result<Json<ResolvedCancel>, ApiError> {
        service_kit::admin::authorize(self.admin_token.as_deref(), &auth)?;
        let actor = service_kit::admin::actor(&auth);
        let cancel = match self.payments.resolve_cancel(cancel_no.0 .0, &actor).await {
            Ok(cancel) => cancel,
            Err(CancelError::NotFound(no)) => {
                return Err(ApiError::not_found(
                    "CANCEL_NOT_FOUND",
                    format!("no cancel {no}"),
                ))
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Json(ResolvedCancel {
            order_id: cancel.order_id,
            cancel_no: Id(cancel.cancel_no),
            status: cancel.status,
            cancel_amount: cancel.cancel_amount,
            failure_code: cancel.failure_code,
        }))
    }

    /// Reconcile the PSP's transactions with our orders (admin token).
    ///
    /// Repairs what the outcome rules allow (docs/payments.md) and lists the rest.
    /// Orders charged in `[from, to]` (RFC 3339; default: the last hour) are compared on what
    /// was charged and refunded, later cancels included, and so are orders paid before `from`
    /// and refunded in the window (their whole record looked up at the PSP). With
    /// `includeCarried=true`, also every order the periodic runs still carry (whatever its
    /// time): the mismatches behind `paymsa_reconciliation_mismatches`, and orders that were
    /// in flight or could not be read at the last run. Each may take a lookup at the PSP.
    #[oai(
        path = "/admin/reconciliation",
        method = "get",
        operation_id = "reconcile_with_psp"
    )]
    async fn reconciliation(
        &self,
        auth: AdminAuth,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
        #[oai(name = "includeCarried")] include_carried: Query<Option<bool>>,
    ) -> Result<Json<ReconciliationReport>, ApiError> {
        service_kit::admin::authorize(self.admin_token.as_deref(), &auth)?;
        let to = to.0.unwrap_or_else(Utc::now);
        // chrono parses years far outside what Postgres or the PSP's query take (and
        // `to - 1 h` could overflow): the window must lie in the years 1-9999.
        let from = from.0.or_else(|| to.checked_sub_signed(Duration::hours(1)));
        let from = match from {
            Some(from) if [from, to].iter().all(|t| (1..=9999).contains(&t.year())) => from,
            _ => {
                return Err(ApiError::bad_request(
                    "INVALID_WINDOW",
                    "from and to must lie in the years 1-9999",
                ))
            }
        };
        if from > to || to - from > Duration::days(31) {
            return Err(ApiError::bad_request(
                "INVALID_WINDOW",
                "from must not be after to, and the window at most 31 days",
            ));
        }
        let mut scope = crate::reconcile::Scope::window(from, to);
        if include_carried.0 == Some(true) {
            let mut conn = self.payments.pool.acquire().await?;
            scope.carried = crate::store::reconciliation::carried(&mut conn).await?;
        }
        let report = self.payments.reconcile(scope).await.map_err(|e| match e {
            ReconcileError::Psp(e) => {
                ApiError::unavailable("PSP_UNAVAILABLE", format!("{e}; nothing was compared"))
            }
            ReconcileError::Db(e) => e.into(),
        })?;
        Ok(Json(ReconciliationReport {
            from,
            to,
            checked: report.checked as u64,
            matched: report.matched as u64,
            matched_on_second_look: report.matched_on_second_look as u64,
            in_flight: report.in_flight as u64,
            mismatches: report
                .mismatches
                .into_iter()
                .map(|m| MismatchView {
                    order_id: m.order_id,
                    ours: m.ours.into(),
                    psp: m.psp.into(),
                    action: m.action,
                })
                .collect(),
        }))
    }
}
