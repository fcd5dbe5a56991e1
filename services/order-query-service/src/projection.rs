//! The projection: events → read model. Two streams need two durables:
//!
//! - [`ORDER_CONSUMER`] on ORDERS (`order.payment.confirmed`, `order.payment.failed`,
//!   `order.payment.canceled`),
//! - [`WALLET_CONSUMER`] on WALLETS (`wallet.settled`).
//!
//! Both run through [`messaging::GroupCommit`]: the events a consumer handles at once are
//! projected in one transaction (a savepoint each, or for a group of confirmed orders or of settlements one
//! batch of shared statements: projection_batch.rs), after the group has taken the per-order
//! locks of all its orders in order (so two groups, of either consumer, cannot deadlock).
//! Every handler is idempotent ([`claim_event`]: a redelivered or replayed event is skipped) and
//! order-safe, because the two consumers race and redeliveries reorder events:
//!
//! - PAID beats FAILED whatever arrives first; among events of the same status the newer
//!   `occurredAt` wins (`last_event_at`), so a late older copy changes nothing;
//! - a settlement that arrives before its order is kept in `wallet_settlements` and completes
//!   the view when the confirmed event comes;
//! - a cancel is kept per `cancelNo` in `order_cancels` whatever arrived before it; the view's
//!   refunded amount and cancel status are derived from those rows when read, so a cancel
//!   projected before its order shows as soon as the order does;
//! - all writes for one payment event are serialized by an advisory lock (see
//!   [`store::lock_order`]), so the two consumers never miss each other's rows.
//!
//! The same event under a new `eventId` (a producer re-emitting it) passes `apply_once` but
//! meets the guards above, so the read model ends up the same.

use events::{PaymentCanceled, PaymentConfirmed, PaymentFailed, WalletSettled};
use messaging::{claim_event, BatchItem, Delivery, GroupHandler, HandlerError};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::{
    cancels, store,
    view_writes::{self, Settlement},
};

/// Durable on ORDERS (docs/architecture.md §4).
pub const ORDER_CONSUMER: &str = "order-query-projection";
/// Durable on WALLETS: a consumer belongs to one stream, so `wallet.settled` needs its own.
pub const WALLET_CONSUMER: &str = "order-query-wallet";

/// `order.payment.confirmed`, `order.payment.failed` and `order.payment.canceled` → the
/// member's order view.
pub struct OrderProjection;

/// The payment event an ORDERS or WALLETS event is about (`None` if it does not decode: the
/// delivery then fails on its own in `apply`).
fn payment_event_no(delivery: &Delivery) -> Option<i64> {
    match delivery.event.event_type.as_str() {
        <PaymentConfirmed as events::Event>::TYPE => delivery
            .decode::<PaymentConfirmed>()
            .ok()
            .map(|e| e.payload.payment_event_no),
        <PaymentFailed as events::Event>::TYPE => delivery
            .decode::<PaymentFailed>()
            .ok()
            .map(|e| e.payload.payment_event_no),
        <PaymentCanceled as events::Event>::TYPE => delivery
            .decode::<PaymentCanceled>()
            .ok()
            .map(|e| e.payload.payment_event_no),
        <WalletSettled as events::Event>::TYPE => delivery
            .decode::<WalletSettled>()
            .ok()
            .map(|e| e.payload.payment_event_no),
        _ => None,
    }
}

/// Every order of the group, locked in order before any is written.
async fn lock_group(conn: &mut PgConnection, group: &[Delivery]) -> Result<(), HandlerError> {
    let orders: Vec<i64> = group.iter().filter_map(payment_event_no).collect();
    Ok(store::lock_orders(conn, &orders).await?)
}

impl GroupHandler for OrderProjection {
    type Tx = Transaction<'static, Postgres>;

    const BATCHES: bool = true;

    async fn begin(&self, pool: &PgPool) -> Result<Self::Tx, sqlx::Error> {
        pool.begin().await
    }

    async fn prepare(
        &self,
        conn: &mut PgConnection,
        group: &[Delivery],
    ) -> Result<(), HandlerError> {
        lock_group(conn, group).await
    }

    /// A group of confirmed orders in shared statements (projection_batch.rs).
    async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        group: &[BatchItem],
    ) -> Result<bool, HandlerError> {
        self.project_batch(conn, group).await
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery,
    ) -> Result<(), HandlerError> {
        match delivery.event.event_type.as_str() {
            <PaymentConfirmed as events::Event>::TYPE => confirmed(conn, delivery).await,
            <PaymentFailed as events::Event>::TYPE => failed(conn, delivery).await,
            <PaymentCanceled as events::Event>::TYPE => canceled(conn, delivery).await,
            // The filter lets nothing else through; anything else can never be applied here.
            other => Err(HandlerError::reject(format!(
                "{ORDER_CONSUMER} does not handle {other}"
            ))),
        }
    }
}

async fn confirmed(conn: &mut PgConnection, delivery: &Delivery) -> Result<(), HandlerError> {
    let event = delivery.decode::<PaymentConfirmed>()?;
    let order = &event.payload;
    if !claim_event(conn, ORDER_CONSUMER, event.event_id).await? {
        return Ok(());
    }
    store::lock_order(conn, order.payment_event_no).await?;
    let shown = !view_writes::upsert_paid(conn, &[(order, event.occurred_at)])
        .await
        .map_err(conflicting_order_id)?
        .is_empty();
    if shown {
        view_writes::replace_lines(conn, &[order]).await?;
    }
    tracing::debug!(
        payment_event_no = order.payment_event_no,
        shown,
        "order.payment.confirmed projected"
    );
    Ok(())
}

async fn failed(conn: &mut PgConnection, delivery: &Delivery) -> Result<(), HandlerError> {
    let event = delivery.decode::<PaymentFailed>()?;
    let order = &event.payload;
    if !claim_event(conn, ORDER_CONSUMER, event.event_id).await? {
        return Ok(());
    }
    store::lock_order(conn, order.payment_event_no).await?;
    store::upsert_failed(conn, order, event.occurred_at)
        .await
        .map_err(conflicting_order_id)?;
    tracing::debug!(
        payment_event_no = order.payment_event_no,
        "order.payment.failed projected"
    );
    Ok(())
}

/// Records the cancel once per `cancelNo`; no view needs to exist yet.
async fn canceled(conn: &mut PgConnection, delivery: &Delivery) -> Result<(), HandlerError> {
    let event = delivery.decode::<PaymentCanceled>()?;
    let cancel = &event.payload;
    if !claim_event(conn, ORDER_CONSUMER, event.event_id).await? {
        return Ok(());
    }
    // The per-order lock also takes the rebuild gate, so a rebuild never wipes a cancel while
    // keeping its processed record.
    store::lock_order(conn, cancel.payment_event_no).await?;
    cancels::record_cancel(conn, cancel).await?;
    tracing::debug!(
        payment_event_no = cancel.payment_event_no,
        cancel_no = cancel.cancel_no,
        "order.payment.canceled projected"
    );
    Ok(())
}

/// `wallet.settled` → `is_wallet_done`, now or when the order arrives.
pub struct WalletProjection;

impl GroupHandler for WalletProjection {
    type Tx = Transaction<'static, Postgres>;

    const BATCHES: bool = true;

    async fn begin(&self, pool: &PgPool) -> Result<Self::Tx, sqlx::Error> {
        pool.begin().await
    }

    async fn prepare(
        &self,
        conn: &mut PgConnection,
        group: &[Delivery],
    ) -> Result<(), HandlerError> {
        lock_group(conn, group).await
    }

    /// A group of settlements in shared statements (projection_batch.rs).
    async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        group: &[BatchItem],
    ) -> Result<bool, HandlerError> {
        crate::projection_batch::record_settlements(conn, group).await
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        delivery: &Delivery,
    ) -> Result<(), HandlerError> {
        let event = delivery.decode::<WalletSettled>()?;
        let settled = &event.payload;
        if !claim_event(conn, WALLET_CONSUMER, event.event_id).await? {
            return Ok(());
        }
        store::lock_order(conn, settled.payment_event_no).await?;
        let settlement = Settlement {
            payment_event_no: settled.payment_event_no,
            order_id: &settled.order_id,
            settled_at: event.occurred_at,
        };
        let completed = view_writes::record_settlements(conn, &[settlement]).await?;
        if completed == 0 {
            // Not an error: the confirmed event (other stream) completes the view later.
            tracing::debug!(
                payment_event_no = settled.payment_event_no,
                "wallet.settled before its order; kept until the order arrives"
            );
        }
        Ok(())
    }
}

/// An order id already used by another payment event can never be stored: retrying would only
/// burn deliveries, so the event goes straight to the dead letters for an operator.
fn conflicting_order_id(err: sqlx::Error) -> HandlerError {
    let unique_order_id = err
        .as_database_error()
        .and_then(|e| e.constraint())
        .is_some_and(|c| c == "order_views_order_id_key");
    if unique_order_id {
        HandlerError::reject(format!("order id belongs to another payment event: {err}"))
    } else {
        err.into()
    }
}
