//! The periodic reconciliation's lease and progress on a scratch database: one instance runs
//! at a time, a run's result is recorded only while its lease holds, and the next run — on
//! another instance, or after a restart — starts from what the last one left.

use std::collections::BTreeSet;

use chrono::{Duration, SubsecRound, Utc};

use super::reconciliation::{carried, finish, lease, progress, release, Progress};

#[tokio::test]
async fn one_instance_leads_and_the_next_run_anywhere_starts_where_it_ended() {
    let db = crate::store::scratch::ScratchDb::new(2).await;
    let pool = db.pool.clone();
    let mut conn = pool.acquire().await.expect("connection");
    let nothing_yet = Progress {
        last_to: None,
        unrepaired: 0,
    };

    let first = lease(&mut conn, "node-1", 60.0).await.expect("lease");
    assert_eq!(
        first.map(|l| l.progress),
        Some(nothing_yet.clone()),
        "the first run has nothing to start from"
    );
    assert_eq!(
        lease(&mut conn, "node-2", 60.0).await.expect("lease"),
        None,
        "while node-1 runs, node-2 does not"
    );
    assert!(
        lease(&mut conn, "node-1", 60.0)
            .await
            .expect("lease")
            .is_some(),
        "node-1 renews its own lease while its run goes on"
    );
    let to = Utc::now().trunc_subsecs(6);
    let listed = BTreeSet::from(["order-a".to_string(), "order-b".to_string()]);
    let mut tx = pool.begin().await.expect("tx");
    assert!(finish(&mut tx, "node-1", to, 2, &listed)
        .await
        .expect("finish"));
    tx.commit().await.expect("commit");

    // node-1 is gone (say, restarted with another node id): node-2 carries on from its end.
    let after_one = Progress {
        last_to: Some(to),
        unrepaired: 2,
    };
    assert_eq!(progress(&mut conn).await.expect("progress"), after_one);
    assert_eq!(
        lease(&mut conn, "node-2", 60.0)
            .await
            .expect("lease")
            .map(|l| l.progress),
        Some(after_one.clone())
    );
    assert_eq!(carried(&mut conn).await.expect("carried"), listed);

    // A failed run gives the lease back and keeps what the last good run left.
    release(&mut conn, "node-2").await.expect("release");
    assert_eq!(
        lease(&mut conn, "node-3", 0.0)
            .await
            .expect("lease")
            .map(|l| l.progress),
        Some(after_one.clone())
    );
    // node-3's lease ran out (0 s) and node-2 took it: node-3's late result is not recorded.
    assert!(lease(&mut conn, "node-2", 60.0)
        .await
        .expect("lease")
        .is_some());
    let mut tx = pool.begin().await.expect("tx");
    let later = to + Duration::minutes(1);
    assert!(!finish(&mut tx, "node-3", later, 0, &BTreeSet::new())
        .await
        .expect("finish"));
    tx.commit().await.expect("commit");
    assert_eq!(progress(&mut conn).await.expect("progress"), after_one);
    assert_eq!(carried(&mut conn).await.expect("carried"), listed);

    // node-2 records its run: the carried orders are replaced, not added to.
    let mut tx = pool.begin().await.expect("tx");
    let still = BTreeSet::from(["order-b".to_string()]);
    assert!(finish(&mut tx, "node-2", later, 1, &still)
        .await
        .expect("finish"));
    tx.commit().await.expect("commit");
    assert_eq!(carried(&mut conn).await.expect("carried"), still);
    assert_eq!(
        progress(&mut conn).await.expect("progress"),
        Progress {
            last_to: Some(later),
            unrepaired: 1
        }
    );

    drop(conn);
    db.drop().await;
}
