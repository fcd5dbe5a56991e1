//! The SQL of reversals: REVERSAL ledger rows, parked reversals, and what `wallet.reversed` is
//! built from. Like [`crate::store`], every function takes the caller's connection.

use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::ids::{SellerNo, WalletNo};

/// One seller's share of one cancel: Σ of the seller's cancelled line amounts.
#[derive(Debug, Clone, PartialEq)]
pub struct Reversal {
    pub cancel_no: i64,
    pub seller_no: SellerNo,
    pub order_id: String,
    pub payment_event_no: i64,
    pub amount: Decimal,
    /// The cancelled lines; the reversal waits until each of them is credited.
    pub payment_order_nos: Vec<i64>,
    /// The refund of each of `payment_order_nos` (`None` for a reversal parked before the
    /// ledger, which kept only the total).
    pub line_amounts: Option<Vec<Decimal>>,
}

/// Has this (cancel, seller) a REVERSAL row?
pub async fn reversed(
    conn: &mut PgConnection,
    cancel_no: i64,
    seller_no: SellerNo,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from wallet_transactions
                           where type = 'REVERSAL' and cancel_no = $1 and seller_no = $2) as "reversed!""#,
        cancel_no,
        seller_no.0,
    )
    .fetch_one(conn)
    .await
}

/// How many of `lines` are credited to `seller_no`: all of them means the settlement the
/// reversal takes back has happened.
pub async fn credited_lines(
    conn: &mut PgConnection,
    seller_no: SellerNo,
    lines: &[i64],
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select count(*) as "credited!" from wallet_transactions
            where type = 'CREDIT' and seller_no = $1 and payment_order_no = any($2)"#,
        seller_no.0,
        lines,
    )
    .fetch_one(conn)
    .await
}

/// Writes the REVERSAL row unless this (cancel, seller) has one; returns the amount newly
/// reversed (zero for a repeat, so the balance is only ever changed once).
pub async fn insert_reversal(
    conn: &mut PgConnection,
    id: i64,
    wallet_no: WalletNo,
    r: &Reversal,
) -> Result<Decimal, sqlx::Error> {
    let inserted = sqlx::query_scalar!(
        "insert into wallet_transactions
             (id, wallet_no, seller_no, amount, type, order_id, payment_event_no, cancel_no,
              idempotency_key)
         values ($1, $2, $3, $4, 'REVERSAL', $5, $6, $7,
                 'reverse:' || $7::bigint || ':' || $3::bigint)
         on conflict do nothing
         returning amount",
        id,
        wallet_no.0,
        r.seller_no.0,
        r.amount,
        &r.order_id,
        r.payment_event_no,
        r.cancel_no,
    )
    .fetch_optional(conn)
    .await?;
    Ok(inserted.unwrap_or_default())
}

/// Keeps a reversal until its credits are posted (once per cancel and seller).
pub async fn park_reversal(
    conn: &mut PgConnection,
    r: &Reversal,
    event_id: uuid::Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into pending_reversals
             (cancel_no, seller_no, order_id, payment_event_no, amount, payment_order_nos, event_id,
              line_amounts)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict do nothing",
        r.cancel_no,
        r.seller_no.0,
        &r.order_id,
        r.payment_event_no,
        r.amount,
        &r.payment_order_nos,
        event_id,
        r.line_amounts.as_deref(),
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// Removes and returns the sellers' parked reversals of `payment_event_nos` whose lines are
/// all credited now, by ascending seller (the order wallet rows are locked in). The caller
/// holds the orders' locks (`store::lock_order`: settlement) or the seller's exclusive lock
/// (`store::lock_seller`: onboarding), so nothing of them is credited meanwhile.
pub async fn take_ready(
    conn: &mut PgConnection,
    sellers: &[SellerNo],
    payment_event_nos: &[i64],
) -> Result<Vec<Reversal>, sqlx::Error> {
    let sellers: Vec<i64> = sellers.iter().map(|s| s.0).collect();
    let mut ready = sqlx::query_as!(
        Reversal,
        r#"delete from pending_reversals p
         where p.seller_no = any($1) and p.payment_event_no = any($2)
           and not exists (
               select 1 from unnest(p.payment_order_nos) as l(no)
               where not exists (
                   select 1 from wallet_transactions t
                   where t.type = 'CREDIT' and t.seller_no = p.seller_no
                     and t.payment_order_no = l.no))
         returning cancel_no, seller_no as "seller_no: SellerNo", order_id, payment_event_no,
                   amount, payment_order_nos, line_amounts"#,
        &sellers,
        payment_event_nos,
    )
    .fetch_all(conn)
    .await?;
    ready.sort_by_key(|r| (r.seller_no, r.cancel_no));
    Ok(ready)
}

/// Sellers of a cancel whose reversal still waits for its credits.
pub async fn parked_of(conn: &mut PgConnection, cancel_no: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select count(*) as "parked!" from pending_reversals where cancel_no = $1"#,
        cancel_no,
    )
    .fetch_one(conn)
    .await
}

/// Everything reversed for a cancel, per seller: the committed ledger, not the event.
pub async fn reversals_of(
    conn: &mut PgConnection,
    cancel_no: i64,
) -> Result<Vec<(SellerNo, Decimal)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select seller_no as "seller_no: SellerNo", sum(amount) as "reversed!"
             from wallet_transactions
            where cancel_no = $1 and type = 'REVERSAL' group by seller_no order by seller_no"#,
        cancel_no,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.seller_no, r.reversed))
        .collect())
}
