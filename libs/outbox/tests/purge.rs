//! Purging: only SUCCESS rows older than the retention go, in batches; unpublished rows
//! stay however old they are.

mod common;

use std::time::Duration;

use common::{fast_config, wait_until, TestEnv};
use outbox::purge_published;

/// Ages rows by id: status, published_at and created_at relative to now.
async fn age(
    env: &TestEnv,
    keys: &[String],
    status: &str,
    published_ago: Option<&str>,
    created_ago: &str,
) {
    sqlx::query(
        "update outbox set status = $2, \
             published_at = now() - $3::interval, \
             created_at = now() - $4::interval \
         where idempotency_key = any($1)",
    )
    .bind(keys)
    .bind(status)
    .bind(published_ago)
    .bind(created_ago)
    .execute(&env.pool)
    .await
    .expect("age rows");
}

async fn remaining(env: &TestEnv) -> Vec<String> {
    sqlx::query_scalar("select idempotency_key from outbox order by idempotency_key")
        .fetch_all(&env.pool)
        .await
        .expect("keys")
}

#[tokio::test]
async fn purge_removes_only_success_rows_older_than_the_retention() {
    let env = TestEnv::new().await;
    let old_published = env.append_events(1..=5).await;
    let recent_published = env.append_events(10..=11).await;
    let old_pending = env.append_events(20..=21).await;
    let old_failed = env.append_events(30..=31).await;
    let fresh = env.append_events([40]).await;
    age(&env, &old_published, "SUCCESS", Some("2 hours"), "2 hours").await;
    age(
        &env,
        &recent_published,
        "SUCCESS",
        Some("10 minutes"),
        "2 hours",
    )
    .await;
    age(&env, &old_pending, "INIT", None, "3 hours").await;
    age(&env, &old_failed, "FAILURE", None, "3 hours").await;

    // Batches of 2 over 5 old rows: three statements, the last one short.
    let purged = purge_published(&env.pool, Duration::from_secs(3600), 2)
        .await
        .expect("purge");
    assert_eq!(purged, 5);
    let mut kept: Vec<String> = [recent_published, old_pending, old_failed, fresh].concat();
    kept.sort();
    assert_eq!(remaining(&env).await, kept);
    assert_eq!(
        purge_published(&env.pool, Duration::from_secs(3600), 2)
            .await
            .expect("purge"),
        0
    );
    env.cleanup().await;
}

#[tokio::test]
async fn the_relay_purges_on_its_own_schedule() {
    let env = TestEnv::new().await;
    env.provision_stream().await;
    let old_published = env.append_events(1..=3).await;
    let recent_published = env.append_events(4..=5).await;
    age(&env, &old_published, "SUCCESS", Some("2 hours"), "2 hours").await;
    age(
        &env,
        &recent_published,
        "SUCCESS",
        Some("1 minute"),
        "2 hours",
    )
    .await;

    let mut config = fast_config();
    config.purge_interval = Duration::from_millis(100);
    let (_, _, shutdown) = env.spawn_relay(config);
    let purged = wait_until(Duration::from_secs(3), || async {
        remaining(&env).await.len() == 2
    })
    .await;
    assert!(purged.is_some(), "old SUCCESS rows were not purged");
    let mut kept = recent_published;
    kept.sort();
    assert_eq!(remaining(&env).await, kept);

    shutdown.trigger();
    env.cleanup().await;
}

/// How often the outbox table was vacuumed (not counting autovacuum).
/// (vacuums, analyses) of the test's outbox so far.
async fn vacuum_count(env: &TestEnv) -> (i64, i64) {
    let mut conn = env.pool.acquire().await.expect("connection");
    // Statistics are read once per transaction unless the snapshot is cleared.
    sqlx::query("select pg_stat_clear_snapshot()")
        .execute(&mut *conn)
        .await
        .expect("clear snapshot");
    sqlx::query_as::<_, (i64, i64)>(
        "select vacuum_count, analyze_count from pg_stat_user_tables
          where relname = 'outbox' and schemaname = current_schema()",
    )
    .fetch_optional(&mut *conn)
    .await
    .expect("vacuum count")
    .unwrap_or((0, 0))
}

/// The relay vacuums its table itself (service_kit::vacuum): where autovacuum is off, dead
/// row versions would otherwise pile up in the pending index every claim walks.
#[tokio::test]
async fn the_relay_vacuums_its_table() {
    let env = TestEnv::new().await;
    env.provision_stream().await;
    let (vacuums, analyses) = vacuum_count(&env).await;
    let mut config = fast_config();
    config.vacuum_interval = Duration::from_millis(50);
    let (_nudge, _metrics, shutdown) = env.spawn_relay(config);
    // More passes than ANALYZE_EVERY: analysed on the first and again on a later one.
    let passes = service_kit::vacuum::ANALYZE_EVERY as i64 + 2;
    let vacuumed = wait_until(Duration::from_secs(40), || async {
        let (v, a) = vacuum_count(&env).await;
        v >= vacuums + passes && a >= analyses + 2
    })
    .await;
    assert!(
        vacuumed.is_some(),
        "the outbox was not vacuumed and analysed: {:?} from {:?}",
        vacuum_count(&env).await,
        (vacuums, analyses)
    );
    shutdown.trigger();
    env.cleanup().await;
}
