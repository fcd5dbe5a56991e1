//! Recovery's batch claim of open cancels and its renewal just before each drive
//! (`cancels::claim_due`, `cancel_states::renew_claim`) on a scratch database: a claim that
//! ran out and was taken by another drive is not renewed, so two drives never run side by side.

use sqlx::PgPool;

use super::{cancel_states::renew_claim, cancels::claim_due, scratch::ScratchDb};

const LEASE: f64 = 60.0;

/// Order 1 paid; its cancel 10 open (UNKNOWN) and due.
async fn scratch() -> ScratchDb {
    let db = ScratchDb::new(2).await;
    sqlx::raw_sql(
        "insert into payment_events (payment_event_no, member_no, order_id, order_name,
                                     total_amount, payment_key, is_payment_done, approved_at)
         values (1, 1, 'order-1', 'o', 1000, 'pk-1', true, now() - interval '1 hour');
         insert into payment_cancels (cancel_no, payment_event_no, order_id, request_hash,
                                      cancel_reason, cancel_amount, status, next_attempt_at)
         values (10, 1, 'order-1', 'h', 'r', 500, 'UNKNOWN', now() - interval '1 second');",
    )
    .execute(&db.pool)
    .await
    .expect("an open cancel, due");
    db
}

async fn run_out(pool: &PgPool) {
    sqlx::query("update payment_cancels set next_attempt_at = now() - interval '1 second'")
        .execute(pool)
        .await
        .expect("the lease ran out");
}

#[tokio::test]
async fn a_claim_taken_by_another_drive_is_not_renewed() {
    let db = scratch().await;
    let mut conn = db.pool.acquire().await.expect("connection");
    let claimed = claim_due(&mut conn, LEASE, 10).await.expect("a claim");
    let [(no, until)] = claimed[..] else {
        panic!("one cancel claimed: {claimed:?}")
    };
    assert_eq!(no, 10);
    assert!(claim_due(&mut conn, LEASE, 10)
        .await
        .expect("again")
        .is_empty());
    assert!(
        renew_claim(&mut conn, no, until, LEASE)
            .await
            .expect("renew"),
        "still ours"
    );
    assert!(
        !renew_claim(&mut conn, no, until, LEASE)
            .await
            .expect("renew"),
        "a renewal moves the claim on: the old time proves nothing any more"
    );

    // The batch's lease runs out before this cancel's turn; another instance claims it.
    run_out(&db.pool).await;
    let theirs = claim_due(&mut conn, LEASE, 10).await.expect("their claim");
    assert_eq!(theirs.len(), 1);
    let stale_until = until;
    assert!(
        !renew_claim(&mut conn, no, stale_until, LEASE)
            .await
            .expect("renew"),
        "taken by another drive"
    );
    let [(_, their_until)] = theirs[..] else {
        unreachable!()
    };
    assert!(renew_claim(&mut conn, no, their_until, LEASE)
        .await
        .expect("theirs renews"));
    drop(conn);
    db.drop().await;
}
