//! The read model's SQL. Functions take a connection so the caller (a projection handler or an
//! HTTP handler) owns the transaction. Public because the keyset benchmark runs these very
//! statements.

use chrono::{DateTime, Utc};
use events::PaymentFailed;
use rust_decimal::Decimal;
use sqlx::PgConnection;

/// A paid order; beats FAILED whatever the arrival order (see `view_writes::upsert_paid`).
pub const PAID: &str = "PAID";
pub const FAILED: &str = "FAILED";

/// One row of `order_views`. `FromRow`: the pages are read by statements shared with the
/// keyset benchmark ([`FIRST_PAGE_SQL`]).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ViewRow {
    pub payment_event_no: i64,
    pub member_no: i64,
    pub order_id: String,
    pub order_name: Option<String>,
    pub status: String,
    pub total_amount: Option<Decimal>,
    pub payment_key: Option<String>,
    pub method: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub failure_code: Option<String>,
    pub is_wallet_done: bool,
    pub created_at: DateTime<Utc>,
    pub last_event_at: DateTime<Utc>,
}

/// One row of `order_view_lines` (`FromRow`: read by [`LINES_SQL`]).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct LineRow {
    pub payment_order_no: i64,
    pub payment_event_no: i64,
    pub product_no: i64,
    pub seller_no: i64,
    pub product_name: String,
    pub amount: Decimal,
}

macro_rules! view_columns {
    () => {
        "payment_event_no, member_no, order_id, order_name, status, total_amount, payment_key, \
         method, approved_at, failure_code, is_wallet_done, created_at, last_event_at"
    };
}

// The three statements of the pages are consts, not checked queries (a checked query is a
// literal in the macro): benches/keyset_pages.rs EXPLAINs these very texts, so the plan it
// measures is the one the service runs.

/// The first page of a member's orders, newest first.
pub const FIRST_PAGE_SQL: &str = concat!(
    "select ",
    view_columns!(),
    " from order_views where member_no = $1
      order by created_at desc, payment_event_no desc limit $2"
);

/// The page after a cursor. Deliberately a separate statement from the first page: an
/// `$2 is null or (...)` variant would make a generic plan filter instead of seek, and a deep
/// page would then scan every newer row of the member. The row comparison matches the index
/// `(member_no, created_at desc, payment_event_no desc)`, so the scan starts at the cursor.
pub const PAGE_AFTER_SQL: &str = concat!(
    "select ",
    view_columns!(),
    " from order_views
      where member_no = $1 and (created_at, payment_event_no) < ($2, $3)
      order by created_at desc, payment_event_no desc limit $4"
);

/// The lines of a whole page in one round trip.
pub const LINES_SQL: &str = "select payment_order_no, payment_event_no, product_no, seller_no, \
     product_name, amount from order_view_lines where payment_event_no = any($1)
     order by payment_event_no, payment_order_no";

pub async fn first_page(
    conn: &mut PgConnection,
    member_no: i64,
    limit: i64,
) -> Result<Vec<ViewRow>, sqlx::Error> {
    sqlx::query_as(FIRST_PAGE_SQL)
        .bind(member_no)
        .bind(limit)
        .fetch_all(conn)
        .await
}

pub async fn page_after(
    conn: &mut PgConnection,
    member_no: i64,
    created_at: DateTime<Utc>,
    payment_event_no: i64,
    limit: i64,
) -> Result<Vec<ViewRow>, sqlx::Error> {
    sqlx::query_as(PAGE_AFTER_SQL)
        .bind(member_no)
        .bind(created_at)
        .bind(payment_event_no)
        .bind(limit)
        .fetch_all(conn)
        .await
}

pub async fn lines_of(
    conn: &mut PgConnection,
    payment_event_nos: &[i64],
) -> Result<Vec<LineRow>, sqlx::Error> {
    if payment_event_nos.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(LINES_SQL)
        .bind(payment_event_nos)
        .fetch_all(conn)
        .await
}

/// One order, only if it is `member_no`'s (another member's order is as absent as a missing one).
pub async fn find_order(
    conn: &mut PgConnection,
    payment_event_no: i64,
    member_no: i64,
) -> Result<Option<ViewRow>, sqlx::Error> {
    sqlx::query_as!(
        ViewRow,
        "select payment_event_no, member_no, order_id, order_name, status, total_amount,
                payment_key, method, approved_at, failure_code, is_wallet_done, created_at,
                last_event_at
           from order_views where payment_event_no = $1 and member_no = $2",
        payment_event_no,
        member_no,
    )
    .fetch_optional(conn)
    .await
}

/// Serializes every projection write of one payment event until the transaction ends. Without
/// it, `wallet.settled` and `order.payment.confirmed` committed concurrently could each miss
/// the other's uncommitted row and the view would stay "not settled" forever. This database
/// belongs to this service alone, so the bare event number is a safe lock key. The shared
/// gate lock (two-int key space, which never overlaps the bigint one) lets a rebuild wait for
/// every projection in flight and hold new ones back, without lock-order deadlocks on tables.
pub async fn lock_order(conn: &mut PgConnection, payment_event_no: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "select pg_advisory_xact_lock_shared($1, $2), pg_advisory_xact_lock($3)",
        GATE.0,
        GATE.1,
        payment_event_no,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// [`lock_order`] for several orders, in ascending order (the order every group takes them
/// in, so two groups cannot deadlock); taking one again later in the transaction is free.
pub async fn lock_orders(conn: &mut PgConnection, orders: &[i64]) -> Result<(), sqlx::Error> {
    let mut orders = orders.to_vec();
    orders.sort_unstable();
    orders.dedup();
    if orders.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "select pg_advisory_xact_lock_shared($1, $2), pg_advisory_xact_lock(n)
           from (select n from unnest($3::bigint[]) as n order by n) o",
        GATE.0,
        GATE.1,
        &orders,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The projection gate: shared by projections, exclusive for a rebuild.
const GATE: (i32, i32) = (8087, 0);

/// Applies a failed payment: never over a PAID row, and only if newer than the FAILED event the
/// row shows.
pub async fn upsert_failed(
    conn: &mut PgConnection,
    order: &PaymentFailed,
    occurred_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let applied = sqlx::query!(
        "insert into order_views (payment_event_no, member_no, order_id, order_name, status,
             total_amount, failure_code, is_wallet_done, created_at, last_event_at)
         values ($1, $2, $3, $4, 'FAILED', $5, $6,
             exists (select 1 from wallet_settlements where payment_event_no = $1),
             date_trunc('milliseconds', $7::timestamptz), $8)
         on conflict (payment_event_no) do update set
             order_name = excluded.order_name, total_amount = excluded.total_amount,
             failure_code = excluded.failure_code, last_event_at = excluded.last_event_at
         where order_views.status = 'FAILED' and order_views.last_event_at <= excluded.last_event_at",
        order.payment_event_no,
        order.member_no,
        &order.order_id,
        &order.order_name,
        order.total_amount,
        &order.reason_code,
        order.ordered_at,
        occurred_at,
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(applied == 1)
}

/// Empties the read model and forgets which events `consumers` applied, in one transaction.
/// The exclusive gate waits for the projections in flight and holds later ones back until
/// commit, so each event's effect and its processed record are either both wiped (and the
/// replay applies it again) or both kept (and the replay skips it). Returns the views dropped.
pub async fn reset_read_model(
    conn: &mut PgConnection,
    consumers: &[&str],
) -> Result<i64, sqlx::Error> {
    sqlx::query!("select pg_advisory_xact_lock($1, $2)", GATE.0, GATE.1)
        .execute(&mut *conn)
        .await?;
    let views = sqlx::query_scalar!(r#"select count(*) as "views!" from order_views"#)
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query!(
        "truncate order_view_lines, order_views, wallet_settlements, order_cancel_lines, order_cancels",
    )
    .execute(&mut *conn)
    .await?;
    // `as _`: the names are `&str`s, the checked type of a `text[]` is `Vec<String>`.
    sqlx::query!(
        "delete from processed_events where consumer = any($1)",
        consumers as _,
    )
    .execute(conn)
    .await?;
    Ok(views)
}

/// Whether the read model holds any order (a rebuild of an empty one loses nothing).
pub async fn has_views(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(r#"select exists (select 1 from order_views) as "any!""#)
        .fetch_one(conn)
        .await
}
