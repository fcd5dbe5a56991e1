//! Confirmed orders projected a whole group at once ([`messaging::GroupHandler::apply_batch`]):
//! one statement claims every event, one writes every view, two replace every shown order's
//! lines, where the careful path (projection.rs) spends a savepoint and five statements on each
//! (docs/benchmarks.md, stop 27).
//!
//! Only a plain group takes this path: every delivery an `order.payment.confirmed` that decodes,
//! and no two fresh events of one payment event (one statement cannot upsert a row twice).
//! Anything else declines and goes one savepoint per delivery, as before; so does a group whose
//! statement fails (an order id already shown for another payment event: the careful path
//! rejects that one alone). The group's `prepare` holds every order's lock.
//!
//! A group of `wallet.settled` ([`record_settlements`]) is claimed, kept and marked on the
//! views in three statements, where the careful path spends a savepoint and four on each; one
//! that does not decode sends its group the careful way, so it is dead-lettered alone.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use events::{Envelope, PaymentConfirmed, WalletSettled};
use messaging::{claim_fresh, BatchItem, HandlerError};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::projection::{OrderProjection, ORDER_CONSUMER, WALLET_CONSUMER};

impl OrderProjection {
    /// `Ok(false)`: declined, nothing written (see the module docs).
    pub(crate) async fn project_batch(
        &self,
        conn: &mut PgConnection,
        group: &[BatchItem],
    ) -> Result<bool, HandlerError> {
        let mut orders: Vec<Envelope<PaymentConfirmed>> = Vec::with_capacity(group.len());
        for item in group {
            let delivery = &item.delivery;
            if delivery.event.event_type != <PaymentConfirmed as events::Event>::TYPE {
                return Ok(false);
            }
            let Ok(event) = delivery.decode::<PaymentConfirmed>() else {
                return Ok(false);
            };
            orders.push(event);
        }
        let orders = claim_fresh(conn, ORDER_CONSUMER, orders, |e| e.event_id).await?;
        let mut events = HashSet::new();
        if !orders
            .iter()
            .all(|e| events.insert(e.payload.payment_event_no))
        {
            return Ok(false);
        }
        if orders.is_empty() {
            return Ok(true);
        }
        let shown = upsert_paid_many(conn, &orders).await?;
        replace_lines_many(conn, &orders, &shown).await?;
        Ok(true)
    }
}

/// [`crate::store::upsert_paid`] for many orders: the payment events whose view now shows
/// their event.
async fn upsert_paid_many(
    conn: &mut PgConnection,
    orders: &[Envelope<PaymentConfirmed>],
) -> Result<Vec<i64>, sqlx::Error> {
    let col = |f: fn(&Envelope<PaymentConfirmed>) -> i64| orders.iter().map(f).collect::<Vec<_>>();
    let text = |f: fn(&PaymentConfirmed) -> &str| {
        orders.iter().map(|e| f(&e.payload)).collect::<Vec<&str>>()
    };
    let totals: Vec<Decimal> = orders.iter().map(|e| e.payload.total_amount).collect();
    let approved: Vec<DateTime<Utc>> = orders.iter().map(|e| e.payload.approved_at).collect();
    let ordered: Vec<DateTime<Utc>> = orders.iter().map(|e| e.payload.ordered_at).collect();
    let occurred: Vec<DateTime<Utc>> = orders.iter().map(|e| e.occurred_at).collect();
    // The statement of store::upsert_paid over unnested rows; `payment_event_no!`: written from
    // a not-null array element. `as _`: borrowed `&str`s for `text[]`s.
    sqlx::query_scalar!(
        r#"insert into order_views (payment_event_no, member_no, order_id, order_name, status,
             total_amount, payment_key, method, approved_at, failure_code, is_wallet_done,
             created_at, last_event_at)
         select o.no, o.member_no, o.order_id, o.order_name, 'PAID', o.total, o.payment_key,
                o.method, o.approved_at, null,
                exists (select 1 from wallet_settlements w where w.payment_event_no = o.no),
                date_trunc('milliseconds', o.ordered_at), o.occurred_at
           from unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::numeric[],
                       $6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[],
                       $10::timestamptz[])
                as o(no, member_no, order_id, order_name, total, payment_key, method,
                     approved_at, ordered_at, occurred_at)
         on conflict (payment_event_no) do update set
             order_name = excluded.order_name, status = 'PAID',
             total_amount = excluded.total_amount, payment_key = excluded.payment_key,
             method = excluded.method, approved_at = excluded.approved_at, failure_code = null,
             is_wallet_done = order_views.is_wallet_done or excluded.is_wallet_done,
             last_event_at = excluded.last_event_at
         where order_views.status <> 'PAID' or order_views.last_event_at <= excluded.last_event_at
         returning payment_event_no as "payment_event_no!""#,
        &col(|e| e.payload.payment_event_no),
        &col(|e| e.payload.member_no),
        &text(|p| p.order_id.as_str()) as _,
        &text(|p| p.order_name.as_str()) as _,
        &totals,
        &text(|p| p.payment_key.as_str()) as _,
        &text(|p| p.method.as_str()) as _,
        &approved,
        &ordered,
        &occurred,
    )
    .fetch_all(conn)
    .await
}

/// [`crate::store::replace_lines`] for the orders whose view shows them now.
async fn replace_lines_many(
    conn: &mut PgConnection,
    orders: &[Envelope<PaymentConfirmed>],
    shown: &[i64],
) -> Result<(), sqlx::Error> {
    if shown.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "delete from order_view_lines where payment_event_no = any($1)",
        shown,
    )
    .execute(&mut *conn)
    .await?;
    let lines = || {
        orders
            .iter()
            .filter(|e| shown.contains(&e.payload.payment_event_no))
            .flat_map(|e| {
                e.payload
                    .lines
                    .iter()
                    .map(move |l| (e.payload.payment_event_no, l))
            })
    };
    let events: Vec<i64> = lines().map(|(no, _)| no).collect();
    let line_nos: Vec<i64> = lines().map(|(_, l)| l.payment_order_no).collect();
    let products: Vec<i64> = lines().map(|(_, l)| l.product_no).collect();
    let sellers: Vec<i64> = lines().map(|(_, l)| l.seller_no).collect();
    let names: Vec<&str> = lines().map(|(_, l)| l.product_name.as_str()).collect();
    let amounts: Vec<Decimal> = lines().map(|(_, l)| l.amount).collect();
    sqlx::query!(
        "insert into order_view_lines (payment_order_no, payment_event_no, product_no, seller_no,
             product_name, amount)
         select l.no, l.event_no, l.product_no, l.seller_no, l.name, l.amount
         from unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[],
                     $6::numeric[])
             as l(no, event_no, product_no, seller_no, name, amount)",
        &line_nos,
        &events,
        &products,
        &sellers,
        &names as _,
        &amounts,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// [`crate::store::record_settlement`] of a group (see the module docs); `Ok(false)`:
/// declined, nothing written.
pub(crate) async fn record_settlements(
    conn: &mut PgConnection,
    group: &[BatchItem],
) -> Result<bool, HandlerError> {
    let mut settled: Vec<Envelope<WalletSettled>> = Vec::with_capacity(group.len());
    for item in group {
        let Ok(event) = item.delivery.decode::<WalletSettled>() else {
            return Ok(false);
        };
        settled.push(event);
    }
    let settled = claim_fresh(conn, WALLET_CONSUMER, settled, |e| e.event_id).await?;
    if settled.is_empty() {
        return Ok(true);
    }
    let nos: Vec<i64> = settled.iter().map(|e| e.payload.payment_event_no).collect();
    let order_ids: Vec<&str> = settled
        .iter()
        .map(|e| e.payload.order_id.as_str())
        .collect();
    let times: Vec<DateTime<Utc>> = settled.iter().map(|e| e.occurred_at).collect();
    // `as _`: the checked type of a `text[]` is `Vec<String>`. A second settlement of one
    // payment event (a re-emitted event) keeps the first, as one at a time.
    sqlx::query!(
        "insert into wallet_settlements (payment_event_no, order_id, settled_at)
         select * from unnest($1::bigint[], $2::text[], $3::timestamptz[])
         on conflict (payment_event_no) do nothing",
        &nos,
        &order_ids as _,
        &times,
    )
    .execute(&mut *conn)
    .await?;
    // A view not there yet is completed by its confirmed event (store.rs).
    sqlx::query!(
        "update order_views set is_wallet_done = true where payment_event_no = any($1)",
        &nos,
    )
    .execute(&mut *conn)
    .await?;
    Ok(true)
}
