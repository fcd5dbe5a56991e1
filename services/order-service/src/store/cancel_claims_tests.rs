//! Recovery's batch claim of open cancels and its renewal just before each drive
//! (`cancels::claim_due`, `cancel_states::renew_claim`) on a scratch database: a claim that
//! ran out and was taken by another drive is not renewed, so two drives never run side by side.

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

/// A lease short enough to run out while the test waits, long enough for the statements
/// between a claim and the check that it holds on a loaded machine.
const BRIEF: f64 = 1.0;

async fn lapse() {
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
}

#[tokio::test]
async fn a_claim_is_renewed_until_another_drive_takes_the_cancel() {
    let db = scratch().await;
    let mut conn = db.pool.acquire().await.expect("connection");
    let claimed = claim_due(&mut conn, BRIEF, 10).await.expect("a claim");
    let [(no, first)] = claimed[..] else {
        panic!("one cancel claimed: {claimed:?}")
    };
    assert_eq!(no, 10);
    assert!(
        claim_due(&mut conn, LEASE, 10)
            .await
            .expect("again")
            .is_empty(),
        "claimed until its lease runs out"
    );
    // The lease ran out and nobody claimed the cancel since: still this batch's to drive.
    lapse().await;
    assert!(
        renew_claim(&mut conn, no, first, BRIEF)
            .await
            .expect("renew"),
        "a lapsed claim nobody took is renewed"
    );
    let renewed: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("select next_attempt_at from payment_cancels where cancel_no = 10")
            .fetch_one(&db.pool)
            .await
            .expect("the renewed lease");

    // It runs out again, and this time another instance's pass claims the cancel first.
    lapse().await;
    let theirs = claim_due(&mut conn, LEASE, 10).await.expect("their claim");
    let [(_, their_until)] = theirs[..] else {
        panic!("the other pass claims it: {theirs:?}")
    };
    assert!(
        !renew_claim(&mut conn, no, renewed, LEASE)
            .await
            .expect("renew"),
        "taken by another drive: not renewed"
    );
    assert!(renew_claim(&mut conn, no, their_until, LEASE)
        .await
        .expect("theirs renews"));
    drop(conn);
    db.drop().await;
}
