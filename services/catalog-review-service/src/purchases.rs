//! Who bought what: the consumer `review-purchases` records every (member, product) of a paid
//! order from `order.payment.confirmed`, so that a review can require a purchase without a
//! call to order-service (docs/identity.md). Idempotent through `claim_event` and the
//! table's key (the first purchase is kept); a cancelled order keeps its purchase — the
//! member did receive the product offer and may still say what they thought of it.
//!
//! Every paid order comes through here, so the deliveries in flight are committed together
//! ([`messaging::GroupCommit`], one lane): one commit per group instead of one per order
//! (the review database committed 1.25 transactions per paid order in `just bench e2e`,
//! docs/benchmarks.md). The inserts lock no row another group needs but the purchase keys,
//! taken in each order's product order; one lane means one group at a time.

use events::{Event, PaymentConfirmed};
use messaging::{
    claim_event, ConsumerSpec, Delivery, GroupCommit, GroupHandler, HandlerError, ServiceRuntime,
};
use service_kit::StartupError;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

pub const PURCHASES: &str = "review-purchases";

/// Records the order's products as bought by its member.
pub struct PurchaseRecorder;

impl GroupHandler for PurchaseRecorder {
    type Tx = Transaction<'static, Postgres>;

    async fn begin(&self, pool: &PgPool) -> Result<Self::Tx, sqlx::Error> {
        pool.begin().await
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery,
    ) -> Result<(), HandlerError> {
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

/// Whether `member_no` bought `product_no`, locking the purchase row so that two reviews of
/// one purchase written at once are decided one after the other.
pub async fn lock_purchase(
    conn: &mut PgConnection,
    member_no: i64,
    product_no: i64,
) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(
        "select member_no from review_purchases
          where member_no = $1 and product_no = $2 for update",
    )
    .bind(member_no)
    .bind(product_no)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
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
