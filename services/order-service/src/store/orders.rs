//! An order as one statement: written at checkout (event, lines and their first history rows
//! together) and read with its lines where a confirm needs both. `just bench e2e` counted
//! 27.2 statements per paid order in order-service's database before, 22.1 after
//! (docs/benchmarks.md, "Settling an order's sellers together").

use rust_decimal::Decimal;
use sqlx::PgConnection;

use super::{NewLine, PaymentEventRow, PaymentOrderRow};
use crate::status::PaymentStatus;

/// A [`PaymentOrderRow`] from a row of the joined queries below (each `query!` row is its own
/// type, so a function could not take both).
macro_rules! line_row {
    ($r:ident, $refunded:expr) => {
        PaymentOrderRow {
            payment_order_no: $r.payment_order_no,
            product_no: $r.product_no,
            seller_no: $r.seller_no,
            product_name: $r.product_name,
            amount: $r.amount,
            refunded_amount: $refunded,
            status: $r.status,
            failed_count: $r.failed_count,
            threshold: $r.threshold,
        }
    };
}

/// An order as checkout writes it.
pub struct NewOrder<'a> {
    pub payment_event_no: i64,
    pub member_no: i64,
    pub order_id: &'a str,
    pub order_name: &'a str,
    pub total: Decimal,
    pub lines: &'a [NewLine],
    /// One per line, for its NOT_STARTED history row.
    pub history_ids: &'a [i64],
}

/// The order at checkout: its event, its lines, and each line's NOT_STARTED history row, in
/// one statement (data-modifying CTEs; the lines' foreign key is checked at the statement's
/// end, when the event is there).
pub async fn insert_order(conn: &mut PgConnection, order: NewOrder<'_>) -> Result<(), sqlx::Error> {
    let lines = order.lines;
    let nos: Vec<i64> = lines.iter().map(|l| l.payment_order_no).collect();
    let products: Vec<i64> = lines.iter().map(|l| l.product_no).collect();
    let sellers: Vec<i64> = lines.iter().map(|l| l.seller_no).collect();
    let names: Vec<String> = lines.iter().map(|l| l.product_name.clone()).collect();
    let amounts: Vec<Decimal> = lines.iter().map(|l| l.amount).collect();
    sqlx::query!(
        "with event as (
            insert into payment_events (payment_event_no, member_no, order_id, order_name, total_amount)
            values ($1, $2, $3, $4, $5)
            returning payment_event_no
         ), lines as (
            insert into payment_orders
                (payment_order_no, payment_event_no, order_id, product_no, seller_no, product_name, amount)
            select l.no, e.payment_event_no, $3, l.product, l.seller, l.name, l.amount
              from event e,
                   unnest($6::bigint[], $7::bigint[], $8::bigint[], $9::text[], $10::numeric[])
                   as l(no, product, seller, name, amount)
            returning payment_order_no
         )
         insert into payment_order_histories
             (id, payment_order_no, previous_status, new_status, reason, changed_by)
         select ($11::bigint[])[row_number() over (order by payment_order_no)], payment_order_no,
                null, 'NOT_STARTED', 'CHECKOUT', 'checkout-api'
           from lines",
        order.payment_event_no,
        order.member_no,
        order.order_id,
        order.order_name,
        order.total,
        &nos,
        &products,
        &sellers,
        &names,
        &amounts,
        order.history_ids,
    )
    .execute(conn)
    .await
    .map(|_| ())
}

/// What a confirm decides on.
pub struct OrderToConfirm {
    pub event: PaymentEventRow,
    pub lines: Vec<PaymentOrderRow>,
    /// The order has no key yet and `payment_key` already paid another order (one PSP payment
    /// never pays two: payment_events_payment_key_key).
    pub key_taken: bool,
}

/// The order's event, row-locked for the caller's transaction, with its lines and whether
/// the confirm's key is taken: what `find_event(.., true)`, `find_lines` and a separate key
/// check read, in one round trip. `None` if there is no such order (every order has a line: checkout
/// writes them in one statement).
///
/// The lines are locked too (FOR NO KEY UPDATE, as the transition that follows takes anyway):
/// a statement that waited for the event's lock sees the lock holder's committed rows only
/// for the rows it locks; unlocked lines would come from the snapshot taken before the wait,
/// and a confirm would decide on statuses a concurrent confirm had already changed. Every
/// writer of lines locks the event first, so taking both here cannot deadlock.
///
/// `key_taken` reads other orders, which are not locked: after a wait it is as of the
/// statement's start, not the wait's end (the separate check it replaced ran after the wait).
/// Another order paid with the same key during that wait is still refused twice over: the
/// PSP's payment belongs to that other order, and `payment_events_payment_key_key` refuses a
/// second paid order with the key (migration 20261121000005_payment_key_unique_when_paid.sql).
pub async fn lock_order_for_confirm(
    conn: &mut PgConnection,
    order_id: &str,
    payment_key: &str,
) -> Result<Option<OrderToConfirm>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select e.payment_event_no, e.member_no, e.order_id, e.order_name, e.payment_key,
                  e.method, e.approved_at, e.is_payment_done, e.is_wallet_done, e.total_amount,
                  e.currency, e.refunded_amount, e.attempt_no, e.confirmed_event_id, e.created_at,
                  l.payment_order_no, l.product_no, l.seller_no, l.product_name, l.amount,
                  l.refunded_amount as line_refunded_amount,
                  l.status as "status: PaymentStatus", l.failed_count, l.threshold,
                  e.payment_key is null and exists (
                      select 1 from payment_events o
                       where o.payment_key = $2 and o.payment_event_no <> e.payment_event_no
                         and o.is_payment_done) as "key_taken!"
             from payment_events e
             join payment_orders l on l.payment_event_no = e.payment_event_no
            where e.order_id = $1
            order by l.payment_order_no
              for update of e for no key update of l"#,
        order_id,
        payment_key,
    )
    .fetch_all(conn)
    .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let key_taken = first.key_taken;
    let event = PaymentEventRow {
        payment_event_no: first.payment_event_no,
        member_no: first.member_no,
        order_id: first.order_id.clone(),
        order_name: first.order_name.clone(),
        payment_key: first.payment_key.clone(),
        method: first.method.clone(),
        approved_at: first.approved_at,
        is_payment_done: first.is_payment_done,
        is_wallet_done: first.is_wallet_done,
        total_amount: first.total_amount,
        currency: first.currency.clone(),
        refunded_amount: first.refunded_amount,
        attempt_no: first.attempt_no,
        confirmed_event_id: first.confirmed_event_id,
        created_at: first.created_at,
    };
    let lines = rows
        .into_iter()
        .map(|r| line_row!(r, r.line_refunded_amount))
        .collect();
    Ok(Some(OrderToConfirm {
        event,
        lines,
        key_taken,
    }))
}

/// Row-locks the order's event and reads its current attempt (the fencing token) with its
/// lines, locked as in [`lock_order_for_confirm`] (and for its reason): `lock_attempt` then
/// `find_lines` in one round trip. The attempt is `None` when the order has none (or no such
/// order).
pub async fn lock_attempt_with_lines(
    conn: &mut PgConnection,
    payment_event_no: i64,
) -> Result<(Option<i64>, Vec<PaymentOrderRow>), sqlx::Error> {
    let rows = sqlx::query!(
        r#"select e.attempt_no,
                  l.payment_order_no, l.product_no, l.seller_no, l.product_name, l.amount,
                  l.refunded_amount, l.status as "status: PaymentStatus", l.failed_count,
                  l.threshold
             from payment_events e
             join payment_orders l on l.payment_event_no = e.payment_event_no
            where e.payment_event_no = $1
            order by l.payment_order_no
              for update of e for no key update of l"#,
        payment_event_no,
    )
    .fetch_all(conn)
    .await?;
    let attempt_no = rows.first().and_then(|r| r.attempt_no);
    let lines = rows
        .into_iter()
        .map(|r| line_row!(r, r.refunded_amount))
        .collect();
    Ok((attempt_no, lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A confirm that waited for the order's lock decides on the lines as the lock holder left
    /// them, not as they were when it started waiting (the reason the lines are locked too).
    #[tokio::test]
    async fn a_confirm_that_waited_for_the_lock_sees_the_holders_lines() {
        let db = crate::store::scratch::ScratchDb::new(3).await;
        let pool = db.pool.clone();
        sqlx::raw_sql(
            "insert into payment_events (payment_event_no, member_no, order_id, order_name, total_amount)
             values (1, 1, 'order-1', 'o', 1000), (2, 1, 'order-2', 'o', 1000);
             insert into payment_orders (payment_order_no, payment_event_no, order_id,
                                         product_no, seller_no, product_name, amount)
             values (11, 1, 'order-1', 1, 1, 'p', 400), (12, 1, 'order-1', 2, 1, 'p', 600),
                    (21, 2, 'order-2', 1, 1, 'p', 1000);",
        )
        .execute(&pool)
        .await
        .expect("order");

        // Another confirm holds the order and starts its attempt.
        let mut holder = pool.begin().await.expect("holder");
        sqlx::raw_sql("select 1 from payment_events where payment_event_no = 1 for update")
            .execute(&mut *holder)
            .await
            .expect("locked");
        let waiter = tokio::spawn({
            let pool = pool.clone();
            async move {
                let mut tx = pool.begin().await.expect("waiter");
                lock_order_for_confirm(&mut tx, "order-1", "pk-1").await
            }
        });
        // Until the waiter is blocked by the holder.
        db.until_blocked("the second confirm").await;
        sqlx::raw_sql(
            "update payment_orders set status = 'EXECUTING' where payment_event_no = 1;
             update payment_events set payment_key = 'pk-1', attempt_no = 5 where payment_event_no = 1;",
        )
        .execute(&mut *holder)
        .await
        .expect("attempt started");
        holder.commit().await.expect("committed");

        let found = waiter
            .await
            .expect("joined")
            .expect("read")
            .expect("the order");
        // Once order-1 is paid with its key, a confirm of order-2 with that key is refused.
        sqlx::raw_sql(
            "update payment_events set is_payment_done = true where payment_event_no = 1",
        )
        .execute(&pool)
        .await
        .expect("paid");
        let mut conn = pool.acquire().await.expect("connection");
        let other = lock_order_for_confirm(&mut conn, "order-2", "pk-1")
            .await
            .expect("read")
            .expect("order-2");
        let own = lock_order_for_confirm(&mut conn, "order-1", "pk-1")
            .await
            .expect("read")
            .expect("order-1");
        drop(conn);
        db.drop().await;
        assert_eq!(found.event.attempt_no, Some(5));
        let statuses: Vec<PaymentStatus> = found.lines.iter().map(|l| l.status).collect();
        assert_eq!(
            statuses,
            [PaymentStatus::Executing, PaymentStatus::Executing]
        );
        assert!(!found.key_taken, "its own key");
        assert!(other.key_taken, "order-1 paid with pk-1");
        assert!(!own.key_taken, "order-1's own key");
    }
}
