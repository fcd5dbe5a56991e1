//! SALE entries: a settled line owes the seller its net, on hold.
//!
//! | account | |
//! |---|---|
//! | PSP_CLEARING | debit gross |
//! | SELLER_PENDING(seller) | credit net = gross − fee |
//! | PLATFORM_FEES | credit fee = floor(gross × rate) |
//!
//! One entry per line, key `sale:<paymentOrderNo>`, with the rate it was charged at; a
//! `ledger_sales` row remembers the line for its refunds and its release after the hold.

use std::time::Duration;

use rust_decimal::Decimal;
use sqlx::PgConnection;

use super::{accounts, LedgerError};
use crate::{ids::SellerNo, store::Credit};

/// Posts the SALE entries of `credits` (lines of one seller just credited to its wallet; the
/// caller holds that wallet's lock, which is what serialises writers of the seller's accounts).
/// Lines posted before are skipped. Three statements whatever the number of lines: the
/// entries, their postings, their sale rows.
pub async fn post(
    conn: &mut PgConnection,
    seller_no: SellerNo,
    credits: &[Credit],
    hold: Duration,
) -> Result<(), LedgerError> {
    if credits.is_empty() {
        return Ok(());
    }
    for c in credits {
        super::valid_amount(c.gross, &format!("line {}", c.payment_order_no))?;
    }
    let acc = accounts::for_seller(conn, seller_no).await?;
    let keys: Vec<String> = credits
        .iter()
        .map(|c| format!("sale:{}", c.payment_order_no))
        .collect();
    let lines: Vec<i64> = credits.iter().map(|c| c.payment_order_no).collect();
    let orders: Vec<&str> = credits.iter().map(|c| c.order_id.as_str()).collect();
    let events: Vec<i64> = credits.iter().map(|c| c.payment_event_no).collect();
    let rates: Vec<Decimal> = credits.iter().map(|c| c.fee_rate).collect();
    // Entries new to the ledger (an idempotency key seen before returns nothing).
    // `payment_order_no!`: written from a not-null array element. `as _`: the order ids are
    // borrowed (`&str`s), the checked type of a `text[]` is `Vec<String>`.
    let posted = sqlx::query!(
        r#"insert into ledger_entries
             (idempotency_key, kind, seller_no, order_id, payment_event_no, payment_order_no, fee_rate)
         select key, 'SALE', $2, order_id, event_no, line_no, rate
           from unnest($1::text[], $3::text[], $4::bigint[], $5::bigint[], $6::numeric[])
                with ordinality as l(key, order_id, event_no, line_no, rate, n)
          order by n
         on conflict (idempotency_key) do nothing
         returning id, payment_order_no as "payment_order_no!""#,
        &keys,
        seller_no.0,
        &orders as _,
        &events,
        &lines,
        &rates,
    )
    .fetch_all(&mut *conn)
    .await?;
    if posted.is_empty() {
        return Ok(());
    }
    let (mut entry_ids, mut account_ids, mut amounts) = (Vec::new(), Vec::new(), Vec::new());
    let mut sales: Vec<(i64, &Credit)> = Vec::with_capacity(posted.len());
    for row in &posted {
        let entry_id = &row.id;
        let Some(c) = credits
            .iter()
            .find(|c| c.payment_order_no == row.payment_order_no)
        else {
            continue;
        };
        // PSP_CLEARING Dr gross · SELLER_PENDING Cr net · PLATFORM_FEES Cr fee (none if 0).
        for (account, amount) in [
            (acc.clearing, c.gross),
            (acc.pending, -c.amount),
            (acc.fees, -c.fee),
        ] {
            if !amount.is_zero() {
                entry_ids.push(*entry_id);
                account_ids.push(account);
                amounts.push(amount);
            }
        }
        sales.push((*entry_id, c));
    }
    sqlx::query!(
        "insert into ledger_postings (entry_id, account_id, amount)
         select * from unnest($1::bigint[], $2::bigint[], $3::numeric[])",
        &entry_ids,
        &account_ids,
        &amounts,
    )
    .execute(&mut *conn)
    .await?;
    let hold_ms = i64::try_from(hold.as_millis()).unwrap_or(i64::MAX);
    sqlx::query!(
        "insert into ledger_sales
             (payment_order_no, entry_id, seller_no, gross, fee, fee_rate, release_due_at)
         select line_no, entry_id, $3, gross, fee, rate, now() + $7::bigint * interval '1 millisecond'
           from unnest($1::bigint[], $2::bigint[], $4::numeric[], $5::numeric[], $6::numeric[])
                as s(line_no, entry_id, gross, fee, rate)",
        &sales
            .iter()
            .map(|(_, c)| c.payment_order_no)
            .collect::<Vec<_>>(),
        &sales.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        seller_no.0,
        &sales.iter().map(|(_, c)| c.gross).collect::<Vec<_>>(),
        &sales.iter().map(|(_, c)| c.fee).collect::<Vec<_>>(),
        &sales.iter().map(|(_, c)| c.fee_rate).collect::<Vec<_>>(),
        hold_ms,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
