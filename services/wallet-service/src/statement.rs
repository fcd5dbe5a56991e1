//! A seller's view of the ledger: its entries (pages, newest first) and statements over a
//! window. A seller's *balance* here is SELLER_PENDING + SELLER_AVAILABLE, the same as
//! `wallets.balance`: what the platform owes the seller and has not paid out. An entry's
//! `amount` is how much it changed that balance (a RELEASE changes it by 0).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::{
    ids::{PayoutNo, SellerNo},
    ledger::{AccountKind, EntryKind},
};

#[derive(Debug, Clone)]
pub struct EntryRow {
    pub id: i64,
    pub kind: EntryKind,
    pub order_id: Option<String>,
    pub payment_event_no: Option<i64>,
    pub payment_order_no: Option<i64>,
    pub cancel_no: Option<i64>,
    pub payout_no: Option<PayoutNo>,
    pub fee_rate: Option<Decimal>,
    pub created_at: DateTime<Utc>,
    /// Change of the seller's pending + available (credit-normal: −Σ postings).
    pub amount: Decimal,
}

#[derive(Debug, Clone)]
pub struct PostingRow {
    pub entry_id: i64,
    pub account: AccountKind,
    pub seller_no: Option<SellerNo>,
    pub amount: Decimal,
}

// The column list, with the entry's `amount` (−Σ of its postings on the seller's pending and
// available accounts), is written out in each query (a checked query is a literal).

/// The seller's entries older than `before` (an entry number), newest first.
pub async fn page(
    conn: &mut PgConnection,
    seller_no: SellerNo,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as!(
        EntryRow,
        r#"select e.id, e.kind as "kind: EntryKind", e.order_id, e.payment_event_no,
                  e.payment_order_no, e.cancel_no, e.payout_no as "payout_no: PayoutNo",
                  e.fee_rate, e.created_at,
                  coalesce((select -sum(p.amount)
                              from ledger_postings p join ledger_accounts a on a.id = p.account_id
                             where p.entry_id = e.id and a.seller_no = e.seller_no
                               and a.kind in ('SELLER_PENDING', 'SELLER_AVAILABLE')),
                           0)::numeric as "amount!"
             from ledger_entries e
            where e.seller_no = $1 and ($2::bigint is null or e.id < $2)
            order by e.id desc limit $3"#,
        seller_no.0,
        before,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// The seller's entries created in `[from, to)`, oldest first, at most `limit`.
pub async fn window(
    conn: &mut PgConnection,
    seller_no: SellerNo,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as!(
        EntryRow,
        r#"select e.id, e.kind as "kind: EntryKind", e.order_id, e.payment_event_no,
                  e.payment_order_no, e.cancel_no, e.payout_no as "payout_no: PayoutNo",
                  e.fee_rate, e.created_at,
                  coalesce((select -sum(p.amount)
                              from ledger_postings p join ledger_accounts a on a.id = p.account_id
                             where p.entry_id = e.id and a.seller_no = e.seller_no
                               and a.kind in ('SELLER_PENDING', 'SELLER_AVAILABLE')),
                           0)::numeric as "amount!"
             from ledger_entries e
            where e.seller_no = $1 and e.created_at >= $2 and e.created_at < $3
            order by e.created_at, e.id limit $4"#,
        seller_no.0,
        from,
        to,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// The seller's balance (pending + available) from the entries created before `at`.
pub async fn balance_before(
    conn: &mut PgConnection,
    seller_no: SellerNo,
    at: DateTime<Utc>,
) -> Result<Decimal, sqlx::Error> {
    let sum = sqlx::query_scalar!(
        "select -sum(p.amount)
           from ledger_postings p
           join ledger_accounts a on a.id = p.account_id
           join ledger_entries e on e.id = p.entry_id
          where a.seller_no = $1 and a.kind in ('SELLER_PENDING', 'SELLER_AVAILABLE')
            and e.created_at < $2",
        seller_no.0,
        at,
    )
    .fetch_one(conn)
    .await?;
    Ok(sum.unwrap_or_default())
}

/// The postings of `entries`, by entry and account id.
pub async fn postings_of(
    conn: &mut PgConnection,
    entries: &[i64],
) -> Result<Vec<PostingRow>, sqlx::Error> {
    sqlx::query_as!(
        PostingRow,
        r#"select p.entry_id, a.kind as "account: AccountKind",
                  a.seller_no as "seller_no: SellerNo", p.amount
             from ledger_postings p join ledger_accounts a on a.id = p.account_id
            where p.entry_id = any($1) order by p.entry_id, a.id"#,
        entries,
    )
    .fetch_all(conn)
    .await
}

/// The statement as CSV: a header, an OPENING row, one row per entry with the running
/// balance, and a CLOSING row.
pub fn csv(opening: Decimal, entries: &[EntryRow], closing: Decimal) -> String {
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut out =
        String::from("entryNo,kind,createdAt,orderId,paymentOrderNo,cancelNo,amount,balance\r\n");
    out.push_str(&format!(",OPENING,,,,,,{}\r\n", opening.normalize()));
    let mut balance = opening;
    for e in entries {
        balance += e.amount;
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\r\n",
            e.id,
            e.kind,
            e.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            csv_field(e.order_id.as_deref().unwrap_or("")),
            opt(e.payment_order_no),
            opt(e.cancel_no),
            e.amount.normalize(),
            balance.normalize()
        ));
    }
    out.push_str(&format!(",CLOSING,,,,,,{}\r\n", closing.normalize()));
    out
}

/// RFC 4180 quoting, and a leading `=`, `+`, `-` or `@` defused so a spreadsheet does not run
/// an order id as a formula.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("order-1"), "order-1");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
    }
}
