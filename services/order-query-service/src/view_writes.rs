//! The writes of a paid order and of a settlement to the read model, each written once over a
//! slice: the careful path (projection.rs) passes one event, a batch (projection_batch.rs) a
//! whole group. A statement over one unnested row plans and runs like the single-row one.

use chrono::{DateTime, Utc};
use events::PaymentConfirmed;
use rust_decimal::Decimal;
use sqlx::PgConnection;

/// Applies confirmed payments, each with its event's `occurredAt`. PAID beats FAILED in any
/// arrival order (money was taken; the state machine never leaves SUCCESS); between two PAID
/// events the newer `occurredAt` wins, so a late copy of an older event changes nothing.
/// `last_event_at` is the time of the event the row shows. `created_at` never moves, so an
/// order keeps its place in the member's pages. Returns the payment events whose view now shows
/// their event (their lines must then be replaced). One statement cannot upsert a row twice:
/// the payment events must be distinct.
pub async fn upsert_paid(
    conn: &mut PgConnection,
    orders: &[(&PaymentConfirmed, DateTime<Utc>)],
) -> Result<Vec<i64>, sqlx::Error> {
    let col =
        |f: fn(&PaymentConfirmed) -> i64| orders.iter().map(|(o, _)| f(o)).collect::<Vec<_>>();
    let text =
        |f: fn(&PaymentConfirmed) -> &str| orders.iter().map(|(o, _)| f(o)).collect::<Vec<&str>>();
    let time = |f: fn(&PaymentConfirmed) -> DateTime<Utc>| {
        orders.iter().map(|(o, _)| f(o)).collect::<Vec<_>>()
    };
    let totals: Vec<Decimal> = orders.iter().map(|(o, _)| o.total_amount).collect();
    let occurred: Vec<DateTime<Utc>> = orders.iter().map(|(_, at)| *at).collect();
    // `payment_event_no!`: written from a not-null array element. `as _`: borrowed `&str`s for
    // `text[]`s.
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
        &col(|o| o.payment_event_no),
        &col(|o| o.member_no),
        &text(|o| o.order_id.as_str()) as _,
        &text(|o| o.order_name.as_str()) as _,
        &totals,
        &text(|o| o.payment_key.as_str()) as _,
        &text(|o| o.method.as_str()) as _,
        &time(|o| o.approved_at),
        &time(|o| o.ordered_at),
        &occurred,
    )
    .fetch_all(conn)
    .await
}

/// The lines of the events the views now show, replacing any earlier version: one delete and
/// one insert for all of them.
pub async fn replace_lines(
    conn: &mut PgConnection,
    shown: &[&PaymentConfirmed],
) -> Result<(), sqlx::Error> {
    if shown.is_empty() {
        return Ok(());
    }
    let events: Vec<i64> = shown.iter().map(|o| o.payment_event_no).collect();
    sqlx::query!(
        "delete from order_view_lines where payment_event_no = any($1)",
        &events,
    )
    .execute(&mut *conn)
    .await?;
    let lines = || {
        shown
            .iter()
            .flat_map(|o| o.lines.iter().map(move |l| (o.payment_event_no, l)))
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

/// One `wallet.settled`: its payment event, order id and time.
pub struct Settlement<'a> {
    pub payment_event_no: i64,
    pub order_id: &'a str,
    pub settled_at: DateTime<Utc>,
}

/// Records settlements and completes the views that exist; a view not there yet finds its
/// record when its confirmed event comes ([`upsert_paid`]). Settled only ever goes
/// false → true, so it needs no time guard, and it leaves `last_event_at` (the order events'
/// clock) alone. A second settlement of one payment event (a re-emitted event) keeps the
/// first. Returns how many views were completed.
pub async fn record_settlements(
    conn: &mut PgConnection,
    settled: &[Settlement<'_>],
) -> Result<u64, sqlx::Error> {
    let nos: Vec<i64> = settled.iter().map(|s| s.payment_event_no).collect();
    let order_ids: Vec<&str> = settled.iter().map(|s| s.order_id).collect();
    let times: Vec<DateTime<Utc>> = settled.iter().map(|s| s.settled_at).collect();
    // `as _`: the checked type of a `text[]` is `Vec<String>`.
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
    let completed = sqlx::query!(
        "update order_views set is_wallet_done = true where payment_event_no = any($1)",
        &nos,
    )
    .execute(&mut *conn)
    .await?;
    Ok(completed.rows_affected())
}
