//! `GET /v1/transactions`, Toss's transaction listing: what a merchant reconciles its ledger
//! against. One transaction per charge (status DONE, amount = totalAmount) and one per cancel
//! (the payment's status after it, amount = cancelAmount), read from the `transactions` table
//! the charge or cancel wrote in its own database transaction.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use poem_openapi::{param::Query, payload::Json, ApiResponse, Object, OpenApi};

use crate::{
    amount::Amount,
    codes,
    errors::TossError,
    idempotency::internal,
    payment::{kst, kst_offset, toss_time, PaymentStatus},
    state::Sandbox,
    toss_api::{check_key, SecretKey},
};

/// Toss's default and largest page.
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 10_000;

/// Toss's Transaction object.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct Transaction {
    pub m_id: String,
    /// The cursor for `startingAfter`.
    pub transaction_key: String,
    pub payment_key: String,
    pub order_id: String,
    pub method: String,
    #[oai(nullable)]
    pub customer_key: Option<String>,
    pub use_escrow: bool,
    pub receipt_url: String,
    /// DONE for a charge; CANCELED or PARTIAL_CANCELED (the payment's status after it) for a
    /// cancel.
    pub status: PaymentStatus,
    pub transaction_at: String,
    pub currency: String,
    /// totalAmount for a charge, cancelAmount for a cancel.
    pub amount: Amount,
}

#[derive(Debug, ApiResponse)]
#[oai(bad_request_handler = "invalid_request")]
pub enum TransactionsResponse {
    /// The transactions in the range, in transactionAt order.
    #[oai(status = 200)]
    Ok(Json<Vec<Transaction>>),
    /// Missing or malformed dates, limit or cursor (`INVALID_REQUEST`).
    #[oai(status = 400)]
    BadRequest(Json<TossError>),
    /// Missing or unknown secret key (`UNAUTHORIZED_KEY`).
    #[oai(status = 401)]
    Unauthorized(Json<TossError>),
    /// The sandbox's database failed; retry.
    #[oai(status = 500)]
    Internal(Json<TossError>),
}

impl From<crate::errors::TossResponse> for TransactionsResponse {
    /// Errors of the payments API (authentication, storage) answered here.
    fn from(reply: crate::errors::TossResponse) -> Self {
        let (status, body) = reply.to_stored();
        let error = TossError {
            code: body["code"]
                .as_str()
                .unwrap_or(codes::INVALID_REQUEST)
                .into(),
            message: body["message"].as_str().unwrap_or_default().into(),
        };
        match status {
            401 => Self::Unauthorized(Json(error)),
            400 => Self::BadRequest(Json(error)),
            _ => Self::Internal(Json(error)),
        }
    }
}

fn bad(message: impl Into<String>) -> TransactionsResponse {
    TransactionsResponse::BadRequest(Json(TossError {
        code: codes::INVALID_REQUEST.into(),
        message: message.into(),
    }))
}

fn invalid_request(err: poem::Error) -> TransactionsResponse {
    if err.status() == poem::http::StatusCode::UNAUTHORIZED {
        let code = codes::get(codes::UNAUTHORIZED_KEY);
        return TransactionsResponse::Unauthorized(Json(TossError {
            code: code.code.into(),
            message: code.message.into(),
        }));
    }
    bad(format!("잘못된 요청입니다. ({err})"))
}

/// Toss's dates are local (KST) date-times, `2024-01-01T00:00:00`; an explicit offset is
/// accepted too. A `+` that arrived as a space (an unencoded query) is read as `+`.
pub fn parse_date(raw: &str) -> Option<DateTime<FixedOffset>> {
    let raw = raw.trim().replace(' ', "+");
    if let Ok(t) = DateTime::parse_from_rfc3339(&raw) {
        return Some(t);
    }
    let naive = NaiveDateTime::parse_from_str(&raw, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(&raw, "%Y-%m-%dT%H:%M"))
        .ok()?;
    kst_offset().from_local_datetime(&naive).single()
}

fn date(name: &str, raw: Option<String>) -> Result<DateTime<FixedOffset>, TransactionsResponse> {
    let raw = raw.ok_or_else(|| bad(format!("{name}은 필수입니다. (예: 2024-01-01T00:00:00)")))?;
    parse_date(&raw).ok_or_else(|| bad(format!("{name} 형식이 올바르지 않습니다: {raw}")))
}

/// One page: transactions with `transaction_at` in `[start, end]`, after the cursor.
async fn page(
    sandbox: &Sandbox,
    start: DateTime<FixedOffset>,
    end: DateTime<FixedOffset>,
    after: Option<&str>,
    limit: i64,
) -> Result<Option<Vec<Transaction>>, sqlx::Error> {
    // The cursor is the (time, seq) position of a transactionKey, so paging is stable even
    // when several transactions share a time.
    let cursor: Option<(DateTime<Utc>, i64)> = match after {
        None => None,
        Some(key) => {
            let found = sqlx::query!(
                "select transaction_at, seq from transactions where transaction_key = $1",
                key,
            )
            .fetch_optional(&sandbox.pool)
            .await?;
            match found {
                Some(position) => Some((position.transaction_at, position.seq)),
                None => return Ok(None),
            }
        }
    };
    let rows = sqlx::query!(
        r#"select transaction_key, payment_key, order_id, status as "status: PaymentStatus",
                  amount, transaction_at
             from transactions
            where transaction_at between $1 and $2
              and ($3::timestamptz is null or (transaction_at, seq) > ($3, $4))
            order by transaction_at, seq limit $5"#,
        start,
        end,
        cursor.map(|c| c.0),
        cursor.map(|c| c.1),
        limit,
    )
    .fetch_all(&sandbox.pool)
    .await?;
    let list = rows.into_iter().map(|row| {
        let key = row.transaction_key;
        Transaction {
            m_id: "tvivarepublica".into(),
            receipt_url: format!(
                "https://dashboard.tosspayments.com/receipt/redirection?transactionId={key}"
            ),
            transaction_key: key,
            payment_key: row.payment_key,
            order_id: row.order_id,
            method: "카드".into(),
            customer_key: None,
            use_escrow: false,
            status: row.status,
            transaction_at: toss_time(&kst(row.transaction_at)),
            currency: "KRW".into(),
            amount: Amount(row.amount),
        }
    });
    Ok(Some(list.collect()))
}

pub struct TransactionsApi {
    pub sandbox: Arc<Sandbox>,
}

#[OpenApi(tag = "crate::toss_api::TossTag::Payments")]
impl TransactionsApi {
    /// Transactions (charges and cancels) in a date range.
    ///
    /// `startDate` and `endDate` are KST date-times (`2024-01-01T00:00:00`; an explicit
    /// offset is accepted), both inclusive. Pages of `limit` (default 100, at most 10000) in
    /// transactionAt order; the next page starts after the last `transactionKey`
    /// (`startingAfter`).
    #[oai(
        path = "/v1/transactions",
        method = "get",
        operation_id = "list_transactions"
    )]
    async fn list(
        &self,
        auth: SecretKey,
        #[oai(name = "startDate")] start_date: Query<Option<String>>,
        #[oai(name = "endDate")] end_date: Query<Option<String>>,
        #[oai(name = "startingAfter")] starting_after: Query<Option<String>>,
        limit: Query<Option<String>>,
    ) -> TransactionsResponse {
        if let Err(reply) = check_key(&self.sandbox, &auth) {
            return reply.into();
        }
        let (start, end) = match (date("startDate", start_date.0), date("endDate", end_date.0)) {
            (Ok(start), Ok(end)) => (start, end),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        let limit = match limit.0.as_deref().map(|l| l.trim().parse::<i64>()) {
            None => DEFAULT_LIMIT,
            Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
            Some(_) => return bad(format!("limit은 1 이상 {MAX_LIMIT} 이하의 정수입니다.")),
        };
        let after = starting_after.0.filter(|k| !k.trim().is_empty());
        self.sandbox.latency().await;
        match page(&self.sandbox, start, end, after.as_deref(), limit).await {
            Ok(Some(list)) => TransactionsResponse::Ok(Json(list)),
            Ok(None) => bad("startingAfter: 존재하지 않는 transactionKey 입니다."),
            Err(err) => internal(&err).into(),
        }
    }
}
