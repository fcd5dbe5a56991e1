//! Wallet rows and the ledger. Query functions take a connection so handlers decide the
//! transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::{
    credits::Credit,
    ids::{PayoutNo, SellerNo, WalletNo},
    transaction_kind::TransactionKind,
};

mod locks;
pub use locks::*;

#[derive(Debug, Clone)]
pub struct WalletRow {
    pub wallet_no: WalletNo,
    pub seller_no: SellerNo,
    pub balance: Decimal,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct TransactionRow {
    pub id: i64,
    pub amount: Decimal,
    /// The `type` column.
    pub kind: TransactionKind,
    pub order_id: Option<String>,
    pub payment_order_no: Option<i64>,
    pub cancel_no: Option<i64>,
    pub payout_no: Option<PayoutNo>,
    pub created_at: DateTime<Utc>,
}

// The column list is written out in each query (a checked query is a literal).

/// Creates the seller's wallet unless it has one; returns the wallet (row-locked either way)
/// and whether it is new.
pub async fn create_wallet(
    conn: &mut PgConnection,
    wallet_no: WalletNo,
    seller_no: SellerNo,
) -> Result<(WalletRow, bool), sqlx::Error> {
    let created = sqlx::query_as!(
        WalletRow,
        r#"insert into wallets (wallet_no, seller_no) values ($1, $2)
           on conflict (seller_no) do nothing
           returning wallet_no as "wallet_no: WalletNo", seller_no as "seller_no: SellerNo",
                     balance, version, created_at, updated_at"#,
        wallet_no.0,
        seller_no.0,
    )
    .fetch_optional(&mut *conn)
    .await?;
    match created {
        Some(row) => Ok((row, true)),
        None => {
            let row = lock_wallet_by_seller(conn, seller_no)
                .await?
                .ok_or(sqlx::Error::RowNotFound)?;
            Ok((row, false))
        }
    }
}

pub async fn find_wallet_by_seller(
    conn: &mut PgConnection,
    seller_no: SellerNo,
) -> Result<Option<WalletRow>, sqlx::Error> {
    // The balance with the sales not folded in yet (the wallet_balances view).
    // `balance!`: a view's columns are described as nullable; the join makes it present.
    sqlx::query_as!(
        WalletRow,
        r#"select w.wallet_no as "wallet_no: WalletNo", w.seller_no as "seller_no: SellerNo",
                  b.balance as "balance!", w.version, w.created_at, w.updated_at
             from wallets w join wallet_balances b on b.seller_no = w.seller_no
            where w.seller_no = $1"#,
        seller_no.0,
    )
    .fetch_optional(conn)
    .await
}

/// The seller's wallet, row-locked for the caller's transaction: concurrent writers of one
/// wallet queue here instead of all reading one version and all but one failing the
/// optimistic check (with 8 settlement workers on one seller, some exhausted their retries
/// and went back to the stream, on the way to the dead-letter queue).
///
/// The seller's sales not yet folded into the wallet and its pending account are folded first
/// (`ledger_fold_seller`, which takes this same row lock), so the caller sees and changes
/// complete balances.
pub async fn lock_wallet_by_seller(
    conn: &mut PgConnection,
    seller_no: SellerNo,
) -> Result<Option<WalletRow>, sqlx::Error> {
    fold_seller(&mut *conn, seller_no).await?;
    sqlx::query_as!(
        WalletRow,
        r#"select wallet_no as "wallet_no: WalletNo", seller_no as "seller_no: SellerNo",
                  balance, version, created_at, updated_at
             from wallets where seller_no = $1 for no key update"#,
        seller_no.0,
    )
    .fetch_optional(conn)
    .await
}

pub async fn recent_transactions(
    conn: &mut PgConnection,
    wallet_no: WalletNo,
    limit: i64,
) -> Result<Vec<TransactionRow>, sqlx::Error> {
    sqlx::query_as!(
        TransactionRow,
        r#"select id, amount, type as "kind: TransactionKind", order_id, payment_order_no,
                  cancel_no, payout_no as "payout_no: PayoutNo", created_at
             from wallet_transactions where wallet_no = $1
            order by created_at desc, id desc limit $2"#,
        wallet_no.0,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// Folds the seller's unfolded sales into its wallet and pending account, under the wallet row
/// lock (taken if not held); returns the amount folded.
pub async fn fold_seller(
    conn: &mut PgConnection,
    seller_no: SellerNo,
) -> Result<Decimal, sqlx::Error> {
    sqlx::query_scalar!(r#"select ledger_fold_seller($1) as "folded!""#, seller_no.0)
        .fetch_one(conn)
        .await
}

/// Adds to the balance if nobody changed the wallet since `version` was read (optimistic
/// lock). `false` means a concurrent writer won and the caller must retry from a fresh read.
pub async fn add_to_balance(
    conn: &mut PgConnection,
    wallet_no: WalletNo,
    version: i64,
    amount: Decimal,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query!(
        "update wallets set balance = balance + $3, version = version + 1
         where wallet_no = $1 and version = $2",
        wallet_no.0,
        version,
        amount,
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

pub async fn park_credits(
    conn: &mut PgConnection,
    seller_no: SellerNo,
    event_id: uuid::Uuid,
    credits: &[Credit],
) -> Result<(), sqlx::Error> {
    let lines: Vec<i64> = credits.iter().map(|c| c.payment_order_no).collect();
    let orders: Vec<String> = credits.iter().map(|c| c.order_id.clone()).collect();
    let events: Vec<i64> = credits.iter().map(|c| c.payment_event_no).collect();
    // Gross, and the rate of now: the commission is charged when the credit is applied, at the
    // rate of the sale (migrations/wallet-service/20261226000001_parked_fee_rate.sql).
    let amounts: Vec<Decimal> = credits.iter().map(|c| c.gross).collect();
    let rates: Vec<Decimal> = credits.iter().map(|c| c.fee_rate).collect();
    sqlx::query!(
        "insert into pending_settlements (payment_order_no, seller_no, order_id, payment_event_no, amount, event_id, fee_rate)
         select line_no, $2, order_id, event_no, amount, $3, fee_rate
           from unnest($1::bigint[], $4::text[], $5::bigint[], $6::numeric[], $7::numeric[])
                as c(line_no, order_id, event_no, amount, fee_rate)
         on conflict do nothing",
        &lines,
        seller_no.0,
        event_id,
        &orders,
        &events,
        &amounts,
        &rates,
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// A credit parked until its seller's wallet exists.
pub struct ParkedCredit {
    pub payment_order_no: i64,
    pub order_id: String,
    pub payment_event_no: i64,
    pub gross: Decimal,
    /// The seller's rate when the sale was parked; `None` for lines parked before it was kept.
    pub fee_rate: Option<Decimal>,
}

/// Removes and returns the parked credits of the seller's oldest `orders` orders, every line of
/// each (caller holds the seller lock): onboarding applies them a chunk of orders per
/// transaction (onboarding.rs).
pub async fn take_parked(
    conn: &mut PgConnection,
    seller_no: SellerNo,
    orders: i64,
) -> Result<Vec<ParkedCredit>, sqlx::Error> {
    sqlx::query_as!(
        ParkedCredit,
        "delete from pending_settlements
          where seller_no = $1
            and payment_event_no in (select distinct payment_event_no from pending_settlements
                                      where seller_no = $1
                                      order by payment_event_no limit $2)
         returning payment_order_no, order_id, payment_event_no, amount as gross, fee_rate",
        seller_no.0,
        orders,
    )
    .fetch_all(conn)
    .await
}

/// Everything credited for an order, per seller (the committed ledger, not the event), if no
/// line of it is parked any more; `None` while one is. One statement: every settlement asks.
pub async fn credits_when_complete(
    conn: &mut PgConnection,
    payment_event_no: i64,
) -> Result<Option<Vec<(SellerNo, Decimal)>>, sqlx::Error> {
    // A parked line yields one row with no seller; an order has at least one line, so a
    // complete order yields its credits.
    let rows = sqlx::query!(
        r#"select t.seller_no as "seller_no?: SellerNo", sum(t.amount) as "credited?"
             from (select 1) as one
             left join wallet_transactions t
               on t.payment_event_no = $1 and t.type = 'CREDIT'
              and not exists (select 1 from pending_settlements p where p.payment_event_no = $1)
            group by t.seller_no order by t.seller_no"#,
        payment_event_no,
    )
    .fetch_all(conn)
    .await?;
    let mut credits = Vec::with_capacity(rows.len());
    for r in rows {
        match (r.seller_no, r.credited) {
            (Some(seller_no), Some(credited)) => credits.push((seller_no, credited)),
            _ => return Ok(None),
        }
    }
    Ok(Some(credits))
}

/// [`credits_when_complete`] of many orders in one statement: the credits of each order that
/// has some and no parked line (a settlement batch: settlement_batch.rs).
pub async fn credits_when_complete_many(
    conn: &mut PgConnection,
    payment_event_nos: &[i64],
) -> Result<HashMap<i64, Vec<(SellerNo, Decimal)>>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select t.payment_event_no as "payment_event_no!", t.seller_no as "seller_no!: SellerNo",
                  sum(t.amount) as "credited!"
             from wallet_transactions t
            where t.payment_event_no = any($1) and t.type = 'CREDIT'
              and not exists (select 1 from pending_settlements p
                               where p.payment_event_no = t.payment_event_no)
            group by t.payment_event_no, t.seller_no
            order by t.payment_event_no, t.seller_no"#,
        payment_event_nos,
    )
    .fetch_all(conn)
    .await?;
    let mut credits: HashMap<i64, Vec<(SellerNo, Decimal)>> = HashMap::new();
    for r in rows {
        credits
            .entry(r.payment_event_no)
            .or_default()
            .push((r.seller_no, r.credited));
    }
    Ok(credits)
}
