//! Waiting for what the system does asynchronously, and one-number queries of its databases.

use std::{future::Future, time::Duration};

/// Polls `check` every 100 ms until it returns `Some`, or panics after `timeout` with `what`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The single number a `select count(*) …` (or any one-`bigint` query) answers.
pub async fn count(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Waits until `sessions` of the pool's database wait for a lock in a statement naming `table`:
/// a test holding a row lock knows the requests it staged behind it are there.
pub async fn lock_waiters(pool: &sqlx::PgPool, table: &str, sessions: i64) {
    let sql = format!(
        "select count(*) from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock'
            and query like '%{table}%'"
    );
    eventually(
        Duration::from_secs(30),
        &format!("{sessions} sessions waiting for a lock on {table}"),
        || async { (count(pool, &sql).await == sessions).then_some(()) },
    )
    .await
}
