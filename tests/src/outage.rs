//! The demo's outage (`just recover`, tools/paymsa-ops/src/demo/recover.rs) for tests of dead
//! letters: order-query cannot store order lines, so a paid order's event ends as
//! order-query-projection's dead letter while the subject's other consumers take it. Used by
//! tests/tests/e2e/dead_letter_replay.rs and tests/tests/e2e/ops_console.rs.

use events::{Envelope, PaymentConfirmed};
use sqlx::PgPool;

use crate::{
    eventually,
    order_history::{at, base_time, event, paid, WAIT},
    streams::Bus,
};

/// The name of the check that fails every insert while the outage lasts.
pub const OUTAGE: &str = "e2e_outage";

/// A dead letter of order-query-projection: the outage begun, member `member`'s paid order
/// `pen` published; returns the event and the letter's id once it is stored.
pub async fn projection_dead_letter(
    db: &PgPool,
    bus: &Bus,
    member: i64,
    pen: i64,
) -> (Envelope<PaymentConfirmed>, i64) {
    sqlx::query(&format!(
        "alter table order_view_lines add constraint {OUTAGE} check (false) not valid"
    ))
    .execute(db)
    .await
    .expect("outage");
    let confirmed = event(
        paid(pen, member, at(base_time(), 0), 2),
        at(base_time(), 500),
    );
    bus.publish(&confirmed).await;
    let id: i64 = eventually(WAIT, "order-query's dead letter", || async {
        sqlx::query_scalar(
            "select id from dead_letters where event_id = $1 and consumer = 'order-query-projection'",
        )
        .bind(confirmed.event_id)
        .fetch_optional(db)
        .await
        .ok()
        .flatten()
    })
    .await;
    (confirmed, id)
}

/// Ends the outage: order-query stores order lines again.
pub async fn end_projection_outage(db: &PgPool) {
    sqlx::query(&format!(
        "alter table order_view_lines drop constraint {OUTAGE}"
    ))
    .execute(db)
    .await
    .expect("outage over");
}
