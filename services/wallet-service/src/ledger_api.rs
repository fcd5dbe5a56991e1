//! The seller's ledger over HTTP: `GET /api/wallets/sellers/{sellerNo}/entries` (keyset pages,
//! newest first) and `…/statement` (JSON, or CSV with `Accept: text/csv`).

use chrono::{DateTime, TimeZone, Utc};
use poem::Request;
use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    Object, OpenApi, Tags,
};
use rust_decimal::Decimal;
use service_kit::{ApiError, Id};
use sqlx::{PgConnection, PgPool};

use crate::{
    ids::SellerNo,
    ledger::{AccountKind, EntryKind},
    statement,
    statement_response::StatementResponse,
    store,
};

#[derive(Tags)]
enum LedgerTag {
    /// The double-entry ledger behind each wallet.
    Ledger,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct LedgerPosting {
    /// `PSP_CLEARING`, `PLATFORM_FEES`, `SELLER_PENDING`, `SELLER_AVAILABLE`,
    /// `PAYOUTS_IN_TRANSIT` or `SELLER_PAID_OUT`.
    pub account: AccountKind,
    /// The seller of a seller account.
    #[oai(skip_serializing_if_is_none)]
    pub seller_no: Option<Id>,
    /// Whole won; a debit is positive, a credit negative. An entry's postings sum to 0.
    pub amount: Decimal,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct LedgerEntry {
    pub entry_no: Id,
    /// `SALE`, `REVERSAL`, `RELEASE`, `OPENING` (a balance from before the ledger); payouts
    /// will add `PAYOUT`, `PAYOUT_COMPLETED` and `PAYOUT_FAILED`.
    pub kind: EntryKind,
    /// How much the entry changed the seller's balance (pending + available).
    pub amount: Decimal,
    #[oai(skip_serializing_if_is_none)]
    pub order_id: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub payment_event_no: Option<Id>,
    #[oai(skip_serializing_if_is_none)]
    pub payment_order_no: Option<Id>,
    #[oai(skip_serializing_if_is_none)]
    pub cancel_no: Option<Id>,
    #[oai(skip_serializing_if_is_none)]
    pub payout_no: Option<Id>,
    /// The commission rate of the sale (`SALE`, `REVERSAL`).
    #[oai(skip_serializing_if_is_none)]
    pub fee_rate: Option<Decimal>,
    pub postings: Vec<LedgerPosting>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct EntryPage {
    /// Newest first.
    pub entries: Vec<LedgerEntry>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct Statement {
    pub seller_no: Id,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The balance (pending + available) from every entry before `from`.
    pub opening_balance: Decimal,
    /// Entries created in `[from, to)`, oldest first.
    pub entries: Vec<LedgerEntry>,
    /// `openingBalance` + Σ `entries[].amount`.
    pub closing_balance: Decimal,
}

pub struct LedgerApi {
    pub pool: PgPool,
}

/// A statement lists at most this many entries; a longer window is refused, not truncated.
const STATEMENT_MAX_ENTRIES: i64 = 10_000;

#[OpenApi(tag = "LedgerTag::Ledger")]
impl LedgerApi {
    /// A seller's ledger entries, newest first, in keyset pages.
    #[oai(
        path = "/api/wallets/sellers/:sellerNo/entries",
        method = "get",
        operation_id = "list_seller_entries"
    )]
    async fn entries(
        &self,
        identity: service_kit::auth::Identity,
        #[oai(name = "sellerNo")] seller_no: Path<Id>,
        /// Page size, 1–200 (default 50).
        limit: Query<Option<i64>>,
        /// `nextCursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<Json<EntryPage>, ApiError> {
        service_kit::auth::require_seller(&identity, seller_no.0 .0)?;
        let seller_no = SellerNo::from(seller_no.0);
        let limit = limit.0.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(ApiError::bad_request(
                "INVALID_LIMIT",
                "limit must be 1–200",
            ));
        }
        let before = match cursor.0.as_deref() {
            None => None,
            Some(c) => Some(c.parse::<i64>().ok().filter(|c| *c > 0).ok_or_else(|| {
                ApiError::bad_request("INVALID_CURSOR", "cursor is not a nextCursor of a page")
            })?),
        };
        let mut conn = self.pool.acquire().await?;
        wallet_exists(&mut conn, seller_no).await?;
        let rows = statement::page(&mut conn, seller_no, before, limit).await?;
        let next_cursor = (rows.len() as i64 == limit)
            .then(|| rows.last().map(|e| e.id.to_string()))
            .flatten();
        Ok(Json(EntryPage {
            entries: with_postings(&mut conn, rows).await?,
            next_cursor,
        }))
    }

    /// A seller's statement: opening balance, entries, closing balance (JSON or CSV).
    ///
    /// The window is `[from, to)` (default: everything up to now). `Accept: text/csv` answers
    /// a CSV with an OPENING row, one row per entry with the running balance, and a CLOSING
    /// row.
    #[oai(
        path = "/api/wallets/sellers/:sellerNo/statement",
        method = "get",
        operation_id = "get_seller_statement"
    )]
    async fn statement(
        &self,
        req: &Request,
        identity: service_kit::auth::Identity,
        #[oai(name = "sellerNo")] seller_no: Path<Id>,
        /// Start of the window (inclusive), RFC 3339.
        from: Query<Option<DateTime<Utc>>>,
        /// End of the window (exclusive), RFC 3339; default now.
        to: Query<Option<DateTime<Utc>>>,
    ) -> Result<StatementResponse, ApiError> {
        service_kit::auth::require_seller(&identity, seller_no.0 .0)?;
        let seller_no = SellerNo::from(seller_no.0);
        let from = from
            .0
            .unwrap_or_else(|| Utc.timestamp_opt(0, 0).single().unwrap_or_default());
        let to = to.0.unwrap_or_else(Utc::now);
        if from > to {
            return Err(ApiError::bad_request(
                "INVALID_WINDOW",
                "from must not be after to",
            ));
        }
        // One snapshot for opening, entries and closing.
        let mut tx = service_kit::db::snapshot(&self.pool).await?;
        wallet_exists(&mut tx, seller_no).await?;
        let opening = statement::balance_before(&mut tx, seller_no, from).await?;
        let rows =
            statement::window(&mut tx, seller_no, from, to, STATEMENT_MAX_ENTRIES + 1).await?;
        if rows.len() as i64 > STATEMENT_MAX_ENTRIES {
            return Err(ApiError::unprocessable(
                "STATEMENT_TOO_LARGE",
                format!("more than {STATEMENT_MAX_ENTRIES} entries: ask for a shorter window"),
            ));
        }
        let closing = opening + rows.iter().map(|e| e.amount).sum::<Decimal>();
        let wants_csv = req
            .header("accept")
            .is_some_and(|a| a.to_ascii_lowercase().contains("text/csv"));
        if wants_csv {
            return Ok(StatementResponse::Csv(statement::csv(
                opening, &rows, closing,
            )));
        }
        let entries = with_postings(&mut tx, rows).await?;
        tx.commit().await?;
        Ok(StatementResponse::Json(Statement {
            seller_no: seller_no.into(),
            from,
            to,
            opening_balance: opening,
            entries,
            closing_balance: closing,
        }))
    }
}

async fn wallet_exists(conn: &mut PgConnection, seller_no: SellerNo) -> Result<(), ApiError> {
    match store::find_wallet_by_seller(conn, seller_no).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found(
            "WALLET_NOT_FOUND",
            format!("seller {seller_no} has no wallet (yet)"),
        )),
    }
}

async fn with_postings(
    conn: &mut PgConnection,
    rows: Vec<statement::EntryRow>,
) -> Result<Vec<LedgerEntry>, sqlx::Error> {
    let ids: Vec<i64> = rows.iter().map(|e| e.id).collect();
    let mut by_entry: std::collections::HashMap<i64, Vec<LedgerPosting>> = Default::default();
    for p in statement::postings_of(conn, &ids).await? {
        by_entry.entry(p.entry_id).or_default().push(LedgerPosting {
            account: p.account,
            seller_no: p.seller_no.map(Id::from),
            amount: p.amount,
        });
    }
    Ok(rows
        .into_iter()
        .map(|e| {
            let mine = by_entry.remove(&e.id).unwrap_or_default();
            LedgerEntry {
                entry_no: Id(e.id),
                kind: e.kind,
                amount: e.amount,
                order_id: e.order_id,
                payment_event_no: e.payment_event_no.map(Id),
                payment_order_no: e.payment_order_no.map(Id),
                cancel_no: e.cancel_no.map(Id),
                payout_no: e.payout_no.map(Id::from),
                fee_rate: e.fee_rate.map(|r| r.normalize()),
                postings: mine,
                created_at: e.created_at,
            }
        })
        .collect())
}
