//! The consumer `review-refunds` (`order.payment.canceled`): a cancel adds what it refunded to
//! each of its lines. Once every line behind a member's purchase of a product is refunded in
//! full, the purchase is no longer held (purchases.rs `lock_purchase`): with
//! `REVIEW_REQUIRES_PURCHASE` no new review of it is accepted, and the member's live reviews of
//! the product are withdrawn as if their author deleted them (uncounted,
//! `review.product.deleted`), so buying, reviewing and cancelling writes no "bought" review. A
//! partial refund keeps the purchase (the customer kept the product: hot-catalog's
//! purchases.rs counts it the same way), and so does another paid order of the product.
//!
//! Each cancel is its own transaction, not a group: a withdrawal takes the purchase row, the
//! review row and then the product's counts row, the order a review's create (purchase, then
//! counts) and delete (review, then counts) take them in, and holding those of one cancel
//! while taking another's could close a cycle with them. The counts row is locked before it is
//! read (reviews.rs `withdraw`), so a withdrawal never loses the optimistic lock a concurrent
//! review wins, and the refund is never retried away into the dead letters.
//!
//! Order and races: a cancel that arrives before its order (the two consumers race) records the
//! lines it refunded, and the order's purchase then starts refunded. The withdrawal takes the
//! purchase row's lock after the refunds are written, as a review's create takes it before
//! reading them, so a review written meanwhile is either refused or withdrawn.

use events::{Event, PaymentCanceled};
use messaging::{
    claim_event, ConsumerSpec, Delivery, GroupCommit, GroupHandler, HandlerError, Lanes,
    ServiceRuntime,
};
use outbox::{Outbox, OutboxTx};
use rust_decimal::Decimal;
use service_kit::StartupError;
use sqlx::{PgConnection, PgPool};

use crate::{purchases, reviews, store};

pub const REFUNDS: &str = "review-refunds";

/// Applies a cancel's refunds to the purchases, withdrawing reviews of those no longer held.
pub struct RefundRecorder {
    pub outbox: Outbox,
    /// `REVIEW_REQUIRES_PURCHASE`: only then does a review rest on a purchase.
    pub purchase_required: bool,
}

impl GroupHandler for RefundRecorder {
    type Tx = OutboxTx;

    async fn begin(&self, pool: &PgPool) -> Result<Self::Tx, sqlx::Error> {
        self.outbox.begin(pool).await
    }

    async fn apply(&self, conn: &mut OutboxTx, delivery: &Delivery) -> Result<(), HandlerError> {
        let event = delivery.decode::<PaymentCanceled>()?;
        if !claim_event(conn, REFUNDS, event.event_id).await? {
            return Ok(());
        }
        let cancel = &event.payload;
        let refunded = record_refunds(conn, cancel).await?;
        if self.purchase_required {
            withdraw_unheld(conn, &self.outbox, cancel, &refunded).await?;
        }
        Ok(())
    }
}

/// The member's reviews of the cancel's products whose purchase is no longer held.
async fn withdraw_unheld(
    conn: &mut OutboxTx,
    outbox: &Outbox,
    cancel: &PaymentCanceled,
    refunded: &[i64],
) -> Result<(), HandlerError> {
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
        for review_no in store::live_review_nos(conn, member_no, product_no).await? {
            reviews::withdraw(conn, outbox, review_no, member_no)
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
    let ids = |f: fn(&events::CanceledLine) -> i64| lines.iter().map(|l| f(l)).collect::<Vec<_>>();
    let sums =
        |f: fn(&events::CanceledLine) -> Decimal| lines.iter().map(|l| f(l)).collect::<Vec<_>>();
    // A line the order's confirmed event has not brought yet starts with the cancel's word on
    // its amount.
    sqlx::query(
        "insert into review_purchase_lines
                (payment_order_no, member_no, product_no, order_id, line_amount, refunded)
         select no, $1, product_no, $2, line_amount, amount
           from unnest($3::bigint[], $4::bigint[], $5::numeric[], $6::numeric[])
                as l(no, product_no, line_amount, amount)
          order by no
         on conflict (payment_order_no) do update
            set refunded = review_purchase_lines.refunded + excluded.refunded",
    )
    .bind(cancel.member_no)
    .bind(&cancel.order_id)
    .bind(ids(|l| l.payment_order_no))
    .bind(ids(|l| l.product_no))
    .bind(sums(|l| l.line_amount))
    .bind(sums(|l| l.amount))
    .execute(conn)
    .await?;
    Ok(fresh)
}

/// Creates the durable on the ORDERS stream; each cancel in a transaction of its own (no lanes:
/// the module docs).
pub async fn spawn(
    rt: &ServiceRuntime,
    outbox: Outbox,
    purchase_required: bool,
) -> Result<(), StartupError> {
    let spec = ConsumerSpec::new(
        REFUNDS,
        events::topology::ORDERS,
        vec![PaymentCanceled::TYPE],
    );
    let alone = GroupCommit::spawn(
        "review-refunds",
        rt.pool.clone(),
        RefundRecorder {
            outbox,
            purchase_required,
        },
        Lanes::new(0, 1),
        &rt.shutdown,
    );
    rt.consume(spec, alone).await
}
