//! Who bought what: the consumer `review-purchases` records every (member, product) of a paid
//! order from `order.payment.confirmed`, and each of its lines, so that a review can require a
//! purchase without a call to order-service (docs/identity.md). A purchase is held while one
//! of its lines is not refunded in full (the cancels: refunds.rs). Idempotent through
//! `claim_event` and the tables' keys (the first purchase is kept).
//!
//! Every paid order comes through here, so the deliveries in flight are committed together
//! ([`messaging::GroupCommit`], one lane): one commit per group instead of one per order
//! (the review database committed 1.25 transactions per paid order in `just bench e2e`,
//! docs/benchmarks.md, before groups), and a group is recorded as one batch (three statements
//! for the group). One lane means one group at a time; a group and the refunds consumer
//! (refunds.rs) may write the same line, both in line order.

use events::{Event, PaymentConfirmed};
use messaging::{
    claim_event, claim_fresh, BatchItem, ConsumerSpec, Delivery, GroupCommit, GroupHandler,
    HandlerError, ServiceRuntime,
};
use rust_decimal::Decimal;
use service_kit::StartupError;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

pub const PURCHASES: &str = "review-purchases";

/// Records the order's products as bought by its member, and its lines.
pub struct PurchaseRecorder;

impl GroupHandler for PurchaseRecorder {
    type Tx = Transaction<'static, Postgres>;
    const BATCHES: bool = true;

    async fn begin(&self, pool: &PgPool) -> Result<Self::Tx, sqlx::Error> {
        pool.begin().await
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery,
    ) -> Result<(), HandlerError> {
        let event = delivery.decode::<PaymentConfirmed>()?;
        if claim_event(conn, PURCHASES, event.event_id).await? {
            record(conn, &[&event.payload]).await?;
        }
        Ok(())
    }

    /// A group of paid orders in three statements instead of a savepoint and three each. A
    /// group with an event that does not decode goes one delivery at a time, so that one is
    /// dead-lettered alone.
    async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        group: &[BatchItem],
    ) -> Result<bool, HandlerError> {
        let mut paid = Vec::with_capacity(group.len());
        for item in group {
            let Ok(event) = item.delivery.decode::<PaymentConfirmed>() else {
                return Ok(false);
            };
            paid.push(event);
        }
        // In delivery order, so the first purchase of a product is kept as one at a time
        // would keep it.
        let paid = claim_fresh(conn, PURCHASES, paid, |e| e.event_id).await?;
        let orders: Vec<&PaymentConfirmed> = paid.iter().map(|e| &e.payload).collect();
        if !orders.is_empty() {
            record(conn, &orders).await?;
        }
        Ok(true)
    }
}

/// The orders' products as bought by their members (an earlier purchase of one stays as it
/// was) and their lines (a line a cancel reached first keeps what that cancel recorded): two
/// statements for any number of orders.
async fn record(conn: &mut PgConnection, orders: &[&PaymentConfirmed]) -> Result<(), sqlx::Error> {
    let mut purchases = Purchases::default();
    let mut lines = Lines::default();
    for order in orders {
        let mut products: Vec<i64> = order.lines.iter().map(|l| l.product_no).collect();
        products.sort_unstable();
        products.dedup();
        for product_no in products {
            purchases.member_no.push(order.member_no);
            purchases.product_no.push(product_no);
            purchases.order_id.push(order.order_id.as_str());
            purchases.purchased_at.push(order.approved_at);
        }
        for line in &order.lines {
            lines.payment_order_no.push(line.payment_order_no);
            lines.member_no.push(order.member_no);
            lines.product_no.push(line.product_no);
            lines.order_id.push(order.order_id.as_str());
            lines.amount.push(line.amount);
        }
    }
    // `with ordinality … order by`: rows go in in the orders' order, so of two orders of one
    // product in a group the first is the purchase kept.
    sqlx::query(
        "insert into review_purchases (member_no, product_no, order_id, purchased_at)
         select member_no, product_no, order_id, purchased_at
           from unnest($1::bigint[], $2::bigint[], $3::text[], $4::timestamptz[])
                with ordinality as p(member_no, product_no, order_id, purchased_at, n)
          order by n
         on conflict (member_no, product_no) do nothing",
    )
    .bind(&purchases.member_no)
    .bind(&purchases.product_no)
    .bind(&purchases.order_id)
    .bind(&purchases.purchased_at)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "insert into review_purchase_lines
                (payment_order_no, member_no, product_no, order_id, line_amount)
         select * from unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::numeric[])
                as l(no, member_no, product_no, order_id, amount)
          order by no
         on conflict (payment_order_no) do nothing",
    )
    .bind(&lines.payment_order_no)
    .bind(&lines.member_no)
    .bind(&lines.product_no)
    .bind(&lines.order_id)
    .bind(&lines.amount)
    .execute(conn)
    .await?;
    Ok(())
}

/// Columns of `review_purchases` rows, bound as arrays.
#[derive(Default)]
struct Purchases<'a> {
    member_no: Vec<i64>,
    product_no: Vec<i64>,
    order_id: Vec<&'a str>,
    purchased_at: Vec<chrono::DateTime<chrono::Utc>>,
}

/// Columns of `review_purchase_lines` rows, bound as arrays.
#[derive(Default)]
struct Lines<'a> {
    payment_order_no: Vec<i64>,
    member_no: Vec<i64>,
    product_no: Vec<i64>,
    order_id: Vec<&'a str>,
    amount: Vec<Decimal>,
}

/// Whether `member_no` holds a purchase of `product_no` (bought, and not every line of it
/// refunded in full), locking the purchase row so that two reviews of one purchase written at
/// once, or a review and the refund that withdraws the purchase (refunds.rs), are decided one
/// after the other.
pub async fn lock_purchase(
    conn: &mut PgConnection,
    member_no: i64,
    product_no: i64,
) -> Result<bool, sqlx::Error> {
    // The lock first, the lines after, in a statement of its own: a statement that waited for
    // the lock would still read the lines as they were when it began, before the refund that
    // held the lock committed.
    let locked: Option<i64> = sqlx::query_scalar(
        "select member_no from review_purchases
          where member_no = $1 and product_no = $2 for update",
    )
    .bind(member_no)
    .bind(product_no)
    .fetch_optional(&mut *conn)
    .await?;
    if locked.is_none() {
        return Ok(false);
    }
    // Held: a purchase recorded before its lines were (migration 20261228000001: which of its
    // orders are refunded cannot be told), or a line of the product not refunded in full.
    sqlx::query_scalar(
        "select p.lines_unknown
                or exists (select 1 from review_purchase_lines l
                            where l.member_no = p.member_no and l.product_no = p.product_no
                              and l.refunded < l.line_amount)
           from review_purchases p where p.member_no = $1 and p.product_no = $2",
    )
    .bind(member_no)
    .bind(product_no)
    .fetch_one(conn)
    .await
}

/// Creates the durable on the ORDERS stream and starts recording purchases.
pub async fn spawn(rt: &ServiceRuntime) -> Result<(), StartupError> {
    let spec = ConsumerSpec::new(
        PURCHASES,
        events::topology::ORDERS,
        vec![PaymentConfirmed::TYPE],
    );
    let grouped = GroupCommit::spawn(
        "review-purchases-groups",
        rt.pool.clone(),
        PurchaseRecorder,
        rt.lanes(1, spec.concurrency),
        &rt.shutdown,
    );
    rt.consume(spec, grouped).await
}
