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
use crate::{
    credits::{Credit, SellerCredits},
    ids::SellerNo,
};

/// Posts the SALE entries of `sales` (lines just credited to their sellers' wallets, one or
/// several sellers). Lines posted before are skipped. Four statements whatever the number of
/// sellers and lines once the sellers have their accounts (a seller's first sale creates them,
/// [`accounts::for_sellers`]): the accounts, the entries, their postings, their sale rows. A sale
/// locks nothing: its pending credit is a delta (migration 20261223000001_seller_sale_deltas.sql).
pub async fn post(
    conn: &mut PgConnection,
    sales: &[SellerCredits],
    hold: Duration,
) -> Result<(), LedgerError> {
    let lines = || {
        sales
            .iter()
            .flat_map(|s| s.credits.iter().map(move |c| (s.seller_no, c)))
    };
    if lines().next().is_none() {
        return Ok(());
    }
    for (_, c) in lines() {
        super::valid_amount(c.gross, &format!("line {}", c.payment_order_no))?;
    }
    let sellers: Vec<SellerNo> = sales.iter().map(|s| s.seller_no).collect();
    let accounts = accounts::for_sellers(conn, &sellers).await?;
    let keys: Vec<String> = lines()
        .map(|(_, c)| format!("sale:{}", c.payment_order_no))
        .collect();
    let seller_nos: Vec<i64> = lines().map(|(s, _)| s.0).collect();
    let line_nos: Vec<i64> = lines().map(|(_, c)| c.payment_order_no).collect();
    let orders: Vec<&str> = lines().map(|(_, c)| c.order_id.as_str()).collect();
    let events: Vec<i64> = lines().map(|(_, c)| c.payment_event_no).collect();
    let rates: Vec<Decimal> = lines().map(|(_, c)| c.fee_rate).collect();
    // Entries new to the ledger (an idempotency key seen before returns nothing).
    // `payment_order_no!`: written from a not-null array element. `as _`: the order ids are
    // borrowed (`&str`s), the checked type of a `text[]` is `Vec<String>`.
    let posted = sqlx::query!(
        r#"insert into ledger_entries
             (idempotency_key, kind, seller_no, order_id, payment_event_no, payment_order_no, fee_rate)
         select key, 'SALE', seller_no, order_id, event_no, line_no, rate
           from unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::numeric[])
                with ordinality as l(key, seller_no, order_id, event_no, line_no, rate, n)
          order by n
         on conflict (idempotency_key) do nothing
         returning id, payment_order_no as "payment_order_no!""#,
        &keys,
        &seller_nos,
        &orders as _,
        &events,
        &line_nos,
        &rates,
    )
    .fetch_all(&mut *conn)
    .await?;
    if posted.is_empty() {
        return Ok(());
    }
    let (mut entry_ids, mut account_ids, mut amounts) = (Vec::new(), Vec::new(), Vec::new());
    let mut sold: Vec<(i64, SellerNo, &Credit)> = Vec::with_capacity(posted.len());
    for row in &posted {
        let entry_id = &row.id;
        let Some((seller_no, c)) =
            lines().find(|(_, c)| c.payment_order_no == row.payment_order_no)
        else {
            continue;
        };
        let acc = accounts.get(&seller_no).ok_or(sqlx::Error::RowNotFound)?;
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
        sold.push((*entry_id, seller_no, c));
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
         select line_no, entry_id, seller_no, gross, fee, rate, now() + $7::bigint * interval '1 millisecond'
           from unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::numeric[], $5::numeric[], $6::numeric[])
                as s(line_no, entry_id, seller_no, gross, fee, rate)",
        &sold.iter().map(|(_, _, c)| c.payment_order_no).collect::<Vec<_>>(),
        &sold.iter().map(|(id, _, _)| *id).collect::<Vec<_>>(),
        &sold.iter().map(|(_, s, _)| s.0).collect::<Vec<_>>(),
        &sold.iter().map(|(_, _, c)| c.gross).collect::<Vec<_>>(),
        &sold.iter().map(|(_, _, c)| c.fee).collect::<Vec<_>>(),
        &sold.iter().map(|(_, _, c)| c.fee_rate).collect::<Vec<_>>(),
        hold_ms,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
