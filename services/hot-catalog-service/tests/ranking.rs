//! The Redis side of the ranking against a real Redis: dedupe atomic with the update, exact
//! take-backs, clean-up of products with nothing left, and epoch renormalisation that leaves
//! every displayed score (and later take-backs) unchanged.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use hot_catalog_service::{score::Change, Ranking, ScoreModel, Weights};
use service_kit::{infra::connect_redis, testing::unique_namespace};
use uuid::Uuid;

async fn ranking(half_life: Duration) -> Ranking {
    let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let conn = connect_redis(&url).await.expect("redis reachable");
    let model = ScoreModel::new(Weights::default(), half_life).expect("model");
    Ranking::new(conn, &unique_namespace(), model)
}

fn like(product_no: i64, at: DateTime<Utc>, sign: i64) -> Change {
    Change {
        product_no,
        weight: 2.0 * sign as f64,
        at_ms: at.timestamp_millis(),
        likes: sign,
        reviews: 0,
        stars: 0,
        paid_lines: 0,
    }
}

/// (product, displayed score, likes) at `now`, best first.
async fn scores(r: &Ranking, now: DateTime<Utc>) -> Vec<(i64, f64, i64)> {
    let snap = r.top(100).await.expect("top");
    let epoch = snap.epoch_ms.expect("epoch set");
    snap.entries
        .iter()
        .map(|e| {
            (
                e.product_no,
                r.model().decayed(e.stored, epoch, now),
                e.likes,
            )
        })
        .collect()
}

fn assert_close(a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-9 * a.abs().max(b.abs()), "{a} vs {b}");
}

#[tokio::test]
async fn a_duplicate_event_changes_nothing() {
    let r = ranking(Duration::from_secs(86_400)).await;
    let now = Utc::now();
    let event = Uuid::now_v7();
    assert!(r
        .apply(event, now, &[like(1, now, 1)])
        .await
        .expect("apply"));
    assert!(!r
        .apply(event, now, &[like(1, now, 1)])
        .await
        .expect("apply"));
    let s = scores(&r, now).await;
    assert_eq!(s.len(), 1);
    assert_close(s[0].1, 2.0);
    assert_eq!(s[0].2, 1);
    r.purge().await.expect("purge");
}

#[tokio::test]
async fn a_product_whose_contributions_are_all_taken_back_leaves_the_ranking() {
    let r = ranking(Duration::from_secs(86_400)).await;
    let now = Utc::now();
    let at = now - TimeDelta::minutes(7);
    r.apply(Uuid::now_v7(), now, &[like(5, now, 1)])
        .await
        .expect("apply");
    r.apply(Uuid::now_v7(), now, &[like(9, at, 1)])
        .await
        .expect("apply");
    r.apply(Uuid::now_v7(), now, &[like(9, at, -1)])
        .await
        .expect("apply");
    let s = scores(&r, now).await;
    assert_eq!(s.iter().map(|e| e.0).collect::<Vec<_>>(), vec![5]);
    r.purge().await.expect("purge");
}

#[tokio::test]
async fn renormalising_the_epoch_keeps_displayed_scores_and_exact_take_backs() {
    // A one-second half-life reaches the renormalisation threshold (64 half-lives) in 64 s of
    // (simulated) time.
    let r = ranking(Duration::from_secs(1)).await;
    let t = Utc::now();
    r.apply(Uuid::now_v7(), t, &[like(1, t, 1)])
        .await
        .expect("apply");
    let half = t + TimeDelta::milliseconds(500);
    r.apply(Uuid::now_v7(), t, &[like(1, half, 1)])
        .await
        .expect("apply");
    let epoch_before = r.top(1).await.expect("top").epoch_ms;
    let later = t + TimeDelta::seconds(100);
    let before = scores(&r, later).await;
    assert_close(before[0].1, 2.0 * 2f64.powi(-100) * (1.0 + 2f64.powf(0.5)));

    // A write at `later` moves the epoch by 100 half-lives and rescales the set.
    r.apply(Uuid::now_v7(), later, &[like(2, later, 1)])
        .await
        .expect("apply");
    let epoch_after = r.top(1).await.expect("top").epoch_ms;
    assert_eq!(
        epoch_after.zip(epoch_before).map(|(a, b)| a - b),
        Some(100_000),
        "epoch moved by whole half-lives"
    );
    let after = scores(&r, later).await;
    let product1 = after.iter().find(|e| e.0 == 1).expect("product 1 ranked");
    assert_close(product1.1, before[0].1);

    // Taking back the first like after the move leaves exactly the second one.
    r.apply(Uuid::now_v7(), later, &[like(1, t, -1)])
        .await
        .expect("apply");
    let rest = scores(&r, later).await;
    let product1 = rest.iter().find(|e| e.0 == 1).expect("product 1 ranked");
    assert_close(product1.1, 2.0 * 2f64.powf(-99.5));
    assert_eq!(product1.2, 1);
    r.purge().await.expect("purge");
}
