//! Who bought what: the consumer `review-purchases` records every (member, product) of a paid
//! order from `order.payment.confirmed`, so that a review can require a purchase without a
//! call to order-service (docs/identity.md). It also takes `order.payment.canceled`: a purchase
//! whose every line was refunded in full is no longer held, and a review written on it is
//! withdrawn (refunds.rs). Idempotent through `claim_event` and the tables' keys (the first
//! purchase is kept; a line's refunds are counted once per cancel).
//!
//! Every paid order comes through here, so the deliveries in flight are committed together
//! ([`messaging::GroupCommit`], one lane): one commit per group instead of one per order
//! (the review database committed 1.25 transactions per paid order in `just bench e2e`,
//! docs/benchmarks.md). The inserts lock no row another group needs but the purchase keys,
//! taken in each order's product order; one lane means one group at a time.

use events::{Event, PaymentCanceled, PaymentConfirmed};
use messaging::{
    claim_event, ConsumerSpec, Delivery, GroupCommit, GroupHandler, HandlerError, ServiceRuntime,
};
use outbox::{Outbox, OutboxTx};
use rust_decimal::Decimal;
use service_kit::StartupError;
use sqlx::{PgConnection, PgPool};

use crate::refunds;

pub const PURCHASES: &str = "review-purchases";

/// Records the order's products as bought by its member, and its refunds.
pub struct PurchaseRecorder {
    /// A withdrawn review is announced (`review.product.deleted`) in the group's transaction.
    pub outbox: Outbox,
    /// `REVIEW_REQUIRES_PURCHASE`: only then does a review rest on a purchase.
    pub purchase_required: bool,
}

impl GroupHandler for PurchaseRecorder {
    type Tx = OutboxTx;

    async fn begin(&self, pool: &PgPool) -> Result<Self::Tx, sqlx::Error> {
        self.outbox.begin(pool).await
    }

    async fn apply(&self, conn: &mut OutboxTx, delivery: &Delivery) -> Result<(), HandlerError> {
        if delivery.event.event_type == PaymentCanceled::TYPE {
            let event = delivery.decode::<PaymentCanceled>()?;
            if claim_event(conn, PURCHASES, event.event_id).await? {
                refunds::apply(conn, &self.outbox, &event.payload, self.purchase_required).await?;
            }
            return Ok(());
        }
        let event = delivery.decode::<PaymentConfirmed>()?;
        if !claim_event(conn, PURCHASES, event.event_id).await? {
            return Ok(());
        }
        let paid = &event.payload;
        let mut products: Vec<i64> = paid.lines.iter().map(|l| l.product_no).collect();
        products.sort_unstable();
        products.dedup();
        record(
            conn,
            paid.member_no,
            &products,
            &paid.order_id,
            paid.approved_at,
        )
        .await?;
        let lines: Vec<(i64, i64, Decimal)> = paid
            .lines
            .iter()
            .map(|l| (l.payment_order_no, l.product_no, l.amount))
            .collect();
        record_lines(conn, paid.member_no, &lines).await?;
        Ok(())
    }
}

/// One statement for all the order's products; an earlier purchase of one stays as it was.
async fn record(
    conn: &mut PgConnection,
    member_no: i64,
    product_nos: &[i64],
    order_id: &str,
    purchased_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into review_purchases (member_no, product_no, order_id, purchased_at)
         select $1, product_no, $3, $4 from unnest($2::bigint[]) as p(product_no)
         on conflict (member_no, product_no) do nothing",
    )
    .bind(member_no)
    .bind(product_nos)
    .bind(order_id)
    .bind(purchased_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The order's lines `(payment_order_no, product_no, amount)`; a line a cancel reached first
/// keeps what that cancel recorded.
async fn record_lines(
    conn: &mut PgConnection,
    member_no: i64,
    lines: &[(i64, i64, Decimal)],
) -> Result<(), sqlx::Error> {
    let (nos, products, amounts): (Vec<i64>, Vec<i64>, Vec<Decimal>) =
        lines.iter().copied().fold(Default::default(), |mut v, l| {
            v.0.push(l.0);
            v.1.push(l.1);
            v.2.push(l.2);
            v
        });
    sqlx::query(
        "insert into review_purchase_lines (payment_order_no, member_no, product_no, line_amount)
         select no, $1, product_no, amount
           from unnest($2::bigint[], $3::bigint[], $4::numeric[]) as l(no, product_no, amount)
         on conflict (payment_order_no) do nothing",
    )
    .bind(member_no)
    .bind(&nos)
    .bind(&products)
    .bind(&amounts)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether `member_no` holds a purchase of `product_no` (bought, and not every line of it
/// refunded in full), locking the purchase row so that two reviews of one purchase written at
/// once, or a review and the refund that withdraws the purchase, are decided one after the
/// other.
pub async fn lock_purchase(
    conn: &mut PgConnection,
    member_no: i64,
    product_no: i64,
) -> Result<bool, sqlx::Error> {
    // A purchase recorded before its lines were (migration 20261228000001) has none: held.
    let held: Option<bool> = sqlx::query_scalar(
        "select not exists (select 1 from review_purchase_lines l
                             where l.member_no = p.member_no and l.product_no = p.product_no)
                or exists (select 1 from review_purchase_lines l
                            where l.member_no = p.member_no and l.product_no = p.product_no
                              and l.refunded < l.line_amount)
           from review_purchases p
          where p.member_no = $1 and p.product_no = $2
            for update of p",
    )
    .bind(member_no)
    .bind(product_no)
    .fetch_optional(conn)
    .await?;
    Ok(held.unwrap_or(false))
}

/// Creates the durable on the ORDERS stream and starts recording purchases and refunds.
pub async fn spawn(
    rt: &ServiceRuntime,
    outbox: Outbox,
    purchase_required: bool,
) -> Result<(), StartupError> {
    let spec = ConsumerSpec::new(
        PURCHASES,
        events::topology::ORDERS,
        vec![PaymentConfirmed::TYPE, PaymentCanceled::TYPE],
    );
    let grouped = GroupCommit::spawn(
        "review-purchases-groups",
        rt.pool.clone(),
        PurchaseRecorder {
            outbox,
            purchase_required,
        },
        rt.lanes(1, spec.concurrency),
        &rt.shutdown,
    );
    rt.consume(spec, grouped).await
}
