//! Reconciliation's view of many orders at once (src/reconcile/): what each charged and
//! refunded, its lines' statuses and its open cancel, in one statement per [`LEDGER_CHUNK`]
//! orders instead of three statements per order (`find_event`, `find_lines`,
//! `cancels::list`). An hour's window of paid orders is compared every minute, so this was
//! most of order-service's reads under load (docs/benchmarks.md, stop 16).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::status::PaymentStatus;

/// Orders read per statement: a bound array of this many ids stays a small plan.
pub const LEDGER_CHUNK: usize = 500;

#[derive(Debug, Clone)]
pub struct OrderLedgerRow {
    pub order_id: String,
    pub total_amount: Decimal,
    pub refunded_amount: Decimal,
    /// The lines' statuses, in line order.
    pub statuses: Vec<PaymentStatus>,
    /// The oldest cancel still waiting for the PSP (REQUESTED or UNKNOWN), if any.
    pub open_cancel: Option<i64>,
}

/// The orders among `order_ids` that we have (the others are simply absent).
pub async fn order_ledgers(
    conn: &mut PgConnection,
    order_ids: &[String],
) -> Result<Vec<OrderLedgerRow>, sqlx::Error> {
    let mut out = Vec::with_capacity(order_ids.len());
    for chunk in order_ids.chunks(LEDGER_CHUNK) {
        let rows = sqlx::query!(
            r#"select e.order_id, e.total_amount, e.refunded_amount,
                      coalesce((select array_agg(o.status order by o.payment_order_no)
                                  from payment_orders o
                                 where o.payment_event_no = e.payment_event_no), '{}')
                        as "statuses!: Vec<String>",
                      (select c.cancel_no from payment_cancels c
                        where c.payment_event_no = e.payment_event_no
                          and c.status in ('REQUESTED', 'UNKNOWN')
                        order by c.created_at, c.cancel_no limit 1) as open_cancel
                 from payment_events e where e.order_id = any($1)"#,
            chunk,
        )
        .fetch_all(&mut *conn)
        .await?;
        for row in rows {
            let statuses = row
                .statuses
                .iter()
                .map(|s| {
                    PaymentStatus::parse(s).ok_or_else(|| {
                        sqlx::Error::Decode(format!("unknown payment status {s:?}").into())
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            out.push(OrderLedgerRow {
                order_id: row.order_id,
                total_amount: row.total_amount,
                refunded_amount: row.refunded_amount,
                statuses,
                open_cancel: row.open_cancel,
            });
        }
    }
    Ok(out)
}

/// Orders with a cancel completed between `from` and `to`, the time we recorded it done
/// (`payment_cancels_done_at_idx`).
pub async fn cancelled_between(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "select distinct order_id from payment_cancels
          where status = 'DONE' and canceled_at between $1 and $2",
        from,
        to,
    )
    .fetch_all(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// More orders than a chunk, some of them not ours: each order we have comes back once,
    /// with its lines' statuses in line order and its open cancel.
    #[tokio::test]
    async fn every_order_we_have_comes_back_once_across_chunks() {
        let db = crate::store::scratch::ScratchDb::new(2).await;
        let pool = db.pool.clone();
        let orders = (LEDGER_CHUNK + 100) as i64;
        // Order n: 1,000 won, refunded n won, two lines (SUCCESS then CANCELED for odd n,
        // SUCCESS twice for even n); order 7 has an open cancel, order 8 a done one.
        sqlx::raw_sql(&format!(
            "insert into payment_events (payment_event_no, member_no, order_id, order_name,
                                         total_amount, refunded_amount)
             select n, 1, 'order-' || n, 'o', 1000, n from generate_series(1, {orders}) n;
             insert into payment_orders (payment_order_no, payment_event_no, order_id,
                                         product_no, seller_no, product_name, amount, status)
             select n * 10 + l, n, 'order-' || n, 1, 1, 'p', 500,
                    case when l = 2 and n % 2 = 1 then 'CANCELED' else 'SUCCESS' end
               from generate_series(1, {orders}) n, generate_series(1, 2) l;
             insert into payment_cancels (cancel_no, payment_event_no, order_id, request_hash,
                                          cancel_reason, cancel_amount, status)
             values (70, 7, 'order-7', 'h', 'r', 1, 'REQUESTED'),
                    (80, 8, 'order-8', 'h', 'r', 1, 'DONE');"
        ))
        .execute(&pool)
        .await
        .expect("orders");
        let mut ids: Vec<String> = (1..=orders).map(|n| format!("order-{n}")).collect();
        ids.push("not-ours".into());
        let mut conn = pool.acquire().await.expect("connection");
        let rows = order_ledgers(&mut conn, &ids).await.expect("ledgers");
        drop(conn);
        db.drop().await;

        assert_eq!(rows.len(), orders as usize);
        let mut seen = std::collections::HashSet::new();
        for row in &rows {
            assert!(seen.insert(row.order_id.clone()), "{} twice", row.order_id);
            let n: i64 = row.order_id["order-".len()..].parse().expect("number");
            assert_eq!(row.refunded_amount, Decimal::from(n));
            let second = if n % 2 == 1 {
                PaymentStatus::Canceled
            } else {
                PaymentStatus::Success
            };
            assert_eq!(row.statuses, [PaymentStatus::Success, second], "{n}");
            assert_eq!(row.open_cancel, (n == 7).then_some(70), "{n}");
        }
    }
}
