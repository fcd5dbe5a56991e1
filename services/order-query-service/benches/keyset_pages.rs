//! Keyset pagination stays flat with depth (docs/architecture.md §6: page 1,000 costs what page 1 costs).
//!
//! Loads a 1,000,000-order read model into a scratch database (`paymsa_order_query_bench`,
//! dropped and re-created each run): member 1 has 200,000 orders (four at a time share one
//! millisecond, so ties on `created_at` are everywhere), 999,800 more go to 8,000 other
//! members, one line per order. Then it times, with the very statements the service runs
//! (`store::first_page` / `store::page_after` with limit+1, then `store::lines_of` for the
//! page), the first page and a page whose cursor sits at order 150,000 of member 1, and prints
//! p50/p95 over the runs, an OFFSET query for contrast, and the plans (custom and generic).
//!
//! `cargo bench -p order-query-service --bench keyset_pages`; `BENCH_DATABASE_URL` (server, no
//! database; default `TEST_DATABASE_URL` or postgres://postgres@127.0.0.1:5432),
//! `BENCH_RUNS` (default 300), `BENCH_KEEP=1` (keep the scratch database afterwards).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use order_query_service::{store, SCHEMA};
use sqlx::{Connection, PgConnection};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const ORDERS: i64 = 1_000_000;
const HEAVY_MEMBER_ORDERS: i64 = 200_000;
const DEEP_POSITION: i64 = 150_000;
const LIMIT: i64 = 10;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

async fn load(conn: &mut PgConnection) -> Result<(), BoxError> {
    let started = Instant::now();
    // Member 1 gets g = 1..200,000; four consecutive orders share a millisecond. The others
    // spread over 8,000 members and interleave in time with member 1.
    sqlx::query(
        "insert into order_views (payment_event_no, member_no, order_id, order_name, status,
             total_amount, payment_key, method, approved_at, is_wallet_done, created_at,
             last_event_at)
         select g, case when g <= $1 then 1 else 2 + g % 8000 end, 'bench-' || g,
             '상품A 외 1건', 'PAID', 3000, 'pk-' || g, '카드', t, true, t, t
         from generate_series(1, $2::bigint) g,
             lateral (select timestamptz '2025-01-01' + ((case when g <= $1 then g / 4
                 else (g - $1) / 5 end) * interval '1 millisecond') as t) ts",
    )
    .bind(HEAVY_MEMBER_ORDERS)
    .bind(ORDERS)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "insert into order_view_lines (payment_order_no, payment_event_no, product_no, seller_no,
             product_name, amount)
         select g, g, 1 + g % 3, 1, '상품A', 3000 from generate_series(1, $1::bigint) g",
    )
    .bind(ORDERS)
    .execute(&mut *conn)
    .await?;
    sqlx::query("vacuum analyze order_views")
        .execute(&mut *conn)
        .await?;
    sqlx::query("vacuum analyze order_view_lines")
        .execute(&mut *conn)
        .await?;
    println!(
        "loaded {ORDERS} orders + {ORDERS} lines in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One page as the handler fetches it: views (limit + 1), then the page's lines in one query.
async fn page(
    conn: &mut PgConnection,
    cursor: Option<(DateTime<Utc>, i64)>,
) -> Result<usize, BoxError> {
    let views = match cursor {
        None => store::first_page(conn, 1, LIMIT + 1).await?,
        Some((at, no)) => store::page_after(conn, 1, at, no, LIMIT + 1).await?,
    };
    let shown: Vec<i64> = views
        .iter()
        .take(LIMIT as usize)
        .map(|v| v.payment_event_no)
        .collect();
    let lines = store::lines_of(conn, &shown).await?;
    Ok(lines.len())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// Times the first page and the deep page alternately, so load on the machine (other builds,
/// autovacuum) hits both series alike. Returns (p50, p95) in ms for each.
async fn time_pages(
    conn: &mut PgConnection,
    deep: (DateTime<Utc>, i64),
    runs: usize,
) -> Result<[(f64, f64); 2], BoxError> {
    for _ in 0..20 {
        page(conn, None).await?; // warm caches and the prepared statements
        page(conn, Some(deep)).await?;
    }
    let mut times = [Vec::with_capacity(runs), Vec::with_capacity(runs)];
    for _ in 0..runs {
        for (series, cursor) in [(0, None), (1, Some(deep))] {
            let started = Instant::now();
            let lines = page(conn, cursor).await?;
            times[series].push(started.elapsed());
            assert_eq!(lines, LIMIT as usize, "a full page with one line per order");
        }
    }
    Ok(times.map(|mut t| {
        t.sort();
        (percentile(&t, 0.5), percentile(&t, 0.95))
    }))
}

async fn explain(conn: &mut PgConnection, at: DateTime<Utc>, no: i64) -> Result<(), BoxError> {
    let plan: Vec<String> = sqlx::query_scalar(&format!(
        "explain (analyze, buffers) {}",
        store::FIRST_PAGE_SQL
    ))
    .bind(1_i64)
    .bind(LIMIT + 1)
    .fetch_all(&mut *conn)
    .await?;
    println!("\nEXPLAIN first page:\n  {}", plan.join("\n  "));
    let plan: Vec<String> = sqlx::query_scalar(&format!(
        "explain (analyze, buffers) {}",
        store::PAGE_AFTER_SQL
    ))
    .bind(1_i64)
    .bind(at)
    .bind(no)
    .bind(LIMIT + 1)
    .fetch_all(&mut *conn)
    .await?;
    println!(
        "\nEXPLAIN deep page (custom plan):\n  {}",
        plan.join("\n  ")
    );
    // After five executions Postgres may switch a prepared statement to its generic plan; it
    // must seek the index too (no `$2 is null or …` that would turn the seek into a filter).
    sqlx::query("set plan_cache_mode = force_generic_plan")
        .execute(&mut *conn)
        .await?;
    sqlx::query(&format!(
        "prepare deep (bigint, timestamptz, bigint, bigint) as {}",
        store::PAGE_AFTER_SQL
    ))
    .execute(&mut *conn)
    .await?;
    let plan: Vec<String> = sqlx::query_scalar(&format!(
        "explain (analyze, buffers) execute deep (1, '{}', {no}, {})",
        at.to_rfc3339(),
        LIMIT + 1
    ))
    .fetch_all(&mut *conn)
    .await?;
    println!(
        "\nEXPLAIN deep page (generic plan):\n  {}",
        plan.join("\n  ")
    );
    let plan: Vec<String> =
        sqlx::query_scalar(&format!("explain (analyze, buffers) {}", store::LINES_SQL))
            .bind((1..=LIMIT).collect::<Vec<i64>>())
            .fetch_all(&mut *conn)
            .await?;
    println!("\nEXPLAIN lines of a page:\n  {}", plan.join("\n  "));
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let server = env_or(
        "BENCH_DATABASE_URL",
        &env_or("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432"),
    );
    let runs: usize = env_or("BENCH_RUNS", "300").parse()?;
    let server = server.trim_end_matches('/');
    let mut admin = PgConnection::connect(&format!("{server}/postgres")).await?;
    sqlx::query("drop database if exists paymsa_order_query_bench with (force)")
        .execute(&mut admin)
        .await?;
    let url = url::Url::parse(&format!("{server}/paymsa_order_query_bench"))?;
    let pool = service_kit::db::connect_and_migrate(&url, 2, &SCHEMA.migrators()).await?;
    pool.close().await;
    let mut conn = PgConnection::connect(url.as_str()).await?;
    load(&mut conn).await?;

    // The cursor a client holds after walking to order 150,000 of member 1.
    let (at, no): (DateTime<Utc>, i64) = sqlx::query_as(
        "select created_at, payment_event_no from order_views where member_no = 1
         order by created_at desc, payment_event_no desc offset $1 - 1 limit 1",
    )
    .bind(DEEP_POSITION)
    .fetch_one(&mut conn)
    .await?;
    let [(first_p50, first_p95), (deep_p50, deep_p95)] =
        time_pages(&mut conn, (at, no), runs).await?;
    let offset_started = Instant::now();
    let offset_runs = 10;
    for _ in 0..offset_runs {
        sqlx::query(
            "select payment_event_no from order_views where member_no = 1
             order by created_at desc, payment_event_no desc offset $1 limit $2",
        )
        .bind(DEEP_POSITION)
        .bind(LIMIT)
        .fetch_all(&mut conn)
        .await?;
    }
    let offset_ms = offset_started.elapsed().as_secs_f64() * 1000.0 / offset_runs as f64;

    println!("\nmember 1: {HEAVY_MEMBER_ORDERS} orders of {ORDERS}; limit {LIMIT}; {runs} runs");
    println!("first page           p50 {first_p50:.3} ms   p95 {first_p95:.3} ms");
    println!("page at #{DEEP_POSITION}      p50 {deep_p50:.3} ms   p95 {deep_p95:.3} ms");
    println!("deep / first (p50)   {:.2}x", deep_p50 / first_p50);
    println!(
        "for contrast, OFFSET {DEEP_POSITION}: {offset_ms:.1} ms per page (mean of {offset_runs})"
    );
    explain(&mut conn, at, no).await?;
    conn.close().await?;
    // The scratch database is some 400 MB; keep it only when asked to (BENCH_KEEP=1).
    if env_or("BENCH_KEEP", "0") != "1" {
        sqlx::query("drop database paymsa_order_query_bench with (force)")
            .execute(&mut admin)
            .await?;
    }
    Ok(())
}
