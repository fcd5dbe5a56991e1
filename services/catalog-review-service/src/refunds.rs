//! A cancel (`order.payment.canceled`, through the `review-purchases` consumer: purchases.rs)
//! adds what it refunded to each of its lines. Once every line behind a member's purchase of a
//! product is refunded in full, the purchase is no longer held: with `REVIEW_REQUIRES_PURCHASE`
//! no new review of it is accepted, and the member's live review of the product is withdrawn
//! as if its author deleted it (uncounted, `review.product.deleted`), so buying, reviewing and
//! cancelling writes no "bought" review. A partial refund keeps the purchase (the customer
//! kept the product: hot-catalog's purchases.rs counts it the same way), and so does another
//! paid order of the same product.
//!
//! Order and races: a cancel that arrives before its order records the lines it refunded, and
//! the order's purchase then starts refunded. The withdrawal takes the purchase row's lock
//! after the refunds are written, as a review takes it before reading them (reviews.rs), so a
//! review written meanwhile is either refused or withdrawn.

use events::PaymentCanceled;
use messaging::HandlerError;
use outbox::{Outbox, OutboxTx};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::{purchases, reviews, store};

pub async fn apply(
    conn: &mut OutboxTx,
    outbox: &Outbox,
    cancel: &PaymentCanceled,
    purchase_required: bool,
) -> Result<(), HandlerError> {
    let refunded = record_refunds(conn, cancel).await?;
    if !purchase_required {
        return Ok(());
    }
    let mut products: Vec<i64> = cancel
        .lines
        .iter()
        .filter(|l| refunded.contains(&l.payment_order_no))
        .map(|l| l.product_no)
        .collect();
    products.sort_unstable();
    products.dedup();
    let member_no = cancel.member_no;
    for product_no in products {
        if purchases::lock_purchase(conn, member_no, product_no).await? {
            continue;
        }
        let Some(review_no) = store::live_review_no(conn, member_no, product_no).await? else {
            continue;
        };
        reviews::delete(conn, outbox, review_no, member_no)
            .await
            .map_err(|e| HandlerError::retry_because("withdrawing a review", e))?;
        tracing::info!(
            member_no,
            product_no,
            review_no,
            order_id = %cancel.order_id,
            "review withdrawn: its purchase was refunded in full"
        );
    }
    Ok(())
}

/// Adds this cancel's refunds to its lines, once per cancel and line; the lines it counted now.
async fn record_refunds(
    conn: &mut PgConnection,
    cancel: &PaymentCanceled,
) -> Result<Vec<i64>, sqlx::Error> {
    let nos: Vec<i64> = cancel.lines.iter().map(|l| l.payment_order_no).collect();
    let fresh: Vec<i64> = sqlx::query_scalar(
        "insert into review_refunds (cancel_no, payment_order_no)
         select $1, no from unnest($2::bigint[]) as l(no)
         on conflict (cancel_no, payment_order_no) do nothing
         returning payment_order_no",
    )
    .bind(cancel.cancel_no)
    .bind(&nos)
    .fetch_all(&mut *conn)
    .await?;
    let lines: Vec<_> = cancel
        .lines
        .iter()
        .filter(|l| fresh.contains(&l.payment_order_no))
        .collect();
    if lines.is_empty() {
        return Ok(fresh);
    }
    let col = |f: fn(&events::CanceledLine) -> i64| lines.iter().map(|l| f(l)).collect::<Vec<_>>();
    let amounts =
        |f: fn(&events::CanceledLine) -> Decimal| lines.iter().map(|l| f(l)).collect::<Vec<_>>();
    // A line the order's confirmed event has not brought yet starts with the cancel's word on
    // its amount.
    sqlx::query(
        "insert into review_purchase_lines
                (payment_order_no, member_no, product_no, line_amount, refunded)
         select no, $1, product_no, line_amount, amount
           from unnest($2::bigint[], $3::bigint[], $4::numeric[], $5::numeric[])
                as l(no, product_no, line_amount, amount)
         on conflict (payment_order_no) do update
            set refunded = review_purchase_lines.refunded + excluded.refunded",
    )
    .bind(cancel.member_no)
    .bind(col(|l| l.payment_order_no))
    .bind(col(|l| l.product_no))
    .bind(amounts(|l| l.line_amount))
    .bind(amounts(|l| l.amount))
    .execute(conn)
    .await?;
    Ok(fresh)
}
