//! The analyser of src/statistics.rs against a real Postgres: which tables it picks, that an
//! analysis replaces a generic plan made while a table was small (the wallet's credited-lines
//! count, stop 19), and that it runs by itself where autovacuum is off.

use std::time::Duration;

use service_kit::{
    statistics::{self, AnalyzerSchedule},
    Shutdown,
};
use sqlx::{Connection, PgConnection, PgPool};

struct Db {
    pool: PgPool,
    url: url::Url,
}

impl Db {
    /// A database of its own, with a table shaped like wallet_transactions: two partial
    /// indexes on CREDIT rows, one of them unique per line. Autovacuum is off for the table,
    /// so a server that runs it cannot analyse it in the middle of a test.
    async fn new() -> Self {
        let server = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let name = format!("stats_{}", uuid::Uuid::new_v4().simple());
        let mut url = url::Url::parse(&server).expect("TEST_DATABASE_URL");
        url.set_path(&name);
        service_kit::db::ensure_database(&url)
            .await
            .expect("database");
        let pool = PgPool::connect(url.as_str()).await.expect("connect");
        sqlx::raw_sql(
            "create table credits (id bigint primary key, event_no bigint not null,
                                   line_no bigint not null, seller_no bigint not null,
                                   type text not null)
                    with (autovacuum_enabled = off);
             create unique index credits_line_key on credits (line_no) where type = 'CREDIT';
             create index credits_event_idx on credits (event_no) where type = 'CREDIT';",
        )
        .execute(&pool)
        .await
        .expect("table");
        Self { pool, url }
    }

    /// Rows `from..to`, five sellers, and the statistics counters flushed so
    /// `pg_stat_user_tables` shows them at once.
    async fn insert(&self, conn: &mut PgConnection, from: i64, to: i64) {
        sqlx::query(
            "insert into credits select g, g / 2, g, g % 5, 'CREDIT'
               from generate_series($1::bigint, $2::bigint - 1) g",
        )
        .bind(from)
        .bind(to)
        .execute(&mut *conn)
        .await
        .expect("rows");
        sqlx::query("select pg_stat_force_next_flush()")
            .execute(&mut *conn)
            .await
            .expect("flush");
    }

    /// The tables due, once the counters have caught up with `rows`.
    async fn due_with(&self, rows: i64) -> Vec<String> {
        let mut caught_up = false;
        for _ in 0..100 {
            let live: Option<i64> = sqlx::query_scalar(
                "select n_live_tup from pg_stat_user_tables where relname = 'credits'",
            )
            .fetch_optional(&self.pool)
            .await
            .expect("counters");
            if live == Some(rows) || (rows == 0 && live.is_none()) {
                caught_up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            caught_up,
            "the statistics counters never showed {rows} rows"
        );
        statistics::due_for_analysis(&self.pool).await.expect("due")
    }

    async fn drop(self) {
        self.pool.close().await;
        let _ = service_kit::db::drop_database(&self.url).await;
    }
}

/// The plan `explain` shows for the prepared count on `conn`: which index it reads.
async fn count_plan(conn: &mut PgConnection) -> String {
    let rows: Vec<String> =
        sqlx::query_scalar("explain (costs off) execute credited(1, array[100, 101]::bigint[])")
            .fetch_all(&mut *conn)
            .await
            .expect("explain");
    rows.join("\n")
}

#[tokio::test]
async fn a_table_is_analysed_once_it_has_rows_and_again_when_it_has_doubled() {
    let db = Db::new().await;
    let mut conn = db.pool.acquire().await.expect("connection");
    assert!(db.due_with(0).await.is_empty(), "an empty table waits");
    db.insert(&mut conn, 0, 50).await;
    assert!(db.due_with(50).await.is_empty(), "so does a small one");

    db.insert(&mut conn, 50, 300).await;
    assert_eq!(db.due_with(300).await, ["credits"], "no statistics yet");
    statistics::analyze(&db.pool, "credits")
        .await
        .expect("analyze");
    assert!(db.due_with(300).await.is_empty(), "analysed");

    db.insert(&mut conn, 300, 650).await;
    assert!(
        db.due_with(650).await.is_empty(),
        "650 rows: not twice 300 and a hundred"
    );
    db.insert(&mut conn, 650, 800).await;
    assert_eq!(db.due_with(800).await, ["credits"], "doubled");
    drop(conn);
    db.drop().await;
}

/// The premise and the cure: a generic plan made on 300 rows without statistics scans every
/// CREDIT row through the event index (its cost grows with the table); after the analysis
/// the statement is planned again and probes the unique index per line.
#[tokio::test]
async fn an_analysis_replaces_a_generic_plan_made_while_the_table_was_small() {
    let db = Db::new().await;
    let mut conn = PgConnection::connect(db.url.as_str())
        .await
        .expect("connection");
    db.insert(&mut conn, 0, 300).await;
    sqlx::raw_sql(
        "prepare credited(bigint, bigint[]) as
           select count(*) from credits
            where type = 'CREDIT' and seller_no = $1 and line_no = any($2)",
    )
    .execute(&mut conn)
    .await
    .expect("prepare");
    // Five custom plans, then the generic one is compared and kept.
    for _ in 0..6 {
        sqlx::raw_sql("execute credited(1, array[1, 2]::bigint[])")
            .execute(&mut conn)
            .await
            .expect("execute");
    }
    db.insert(&mut conn, 300, 40_000).await;
    let before = count_plan(&mut conn).await;
    assert!(
        before.contains("credits_event_idx"),
        "the premise: a generic plan made at 300 rows reads every CREDIT row:\n{before}"
    );

    assert_eq!(db.due_with(40_000).await, ["credits"]);
    statistics::analyze(&db.pool, "credits")
        .await
        .expect("analyze");
    let after = count_plan(&mut conn).await;
    assert!(
        after.contains("credits_line_key"),
        "planned again, by line:\n{after}"
    );
    conn.close().await.expect("close");
    db.drop().await;
}

/// The task itself (told to run whatever the server's autovacuum setting, which services
/// leave to autovacuum where it runs).
#[tokio::test]
async fn the_analyzer_analyses_a_table_that_has_rows_and_no_statistics() {
    let db = Db::new().await;
    let shutdown = Shutdown::new();
    let schedule = AnalyzerSchedule {
        interval: Duration::from_millis(50),
        with_autovacuum: true,
    };
    statistics::spawn_analyzer(db.pool.clone(), schedule, &shutdown);
    let mut conn = db.pool.acquire().await.expect("connection");
    db.insert(&mut conn, 0, 300).await;
    let mut analysed = false;
    for _ in 0..200 {
        let n: i64 = sqlx::query_scalar(
            "select analyze_count from pg_stat_user_tables where relname = 'credits'",
        )
        .fetch_one(&mut *conn)
        .await
        .expect("count");
        sqlx::query("select pg_stat_clear_snapshot()")
            .execute(&mut *conn)
            .await
            .expect("clear");
        if n > 0 {
            analysed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(analysed, "the analyser never analysed the table");
    shutdown.trigger();
    drop(conn);
    db.drop().await;
}
