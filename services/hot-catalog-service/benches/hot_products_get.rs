//! `GET /api/hot-products` throughput with 10,000 ranked products: the service hosted
//! in-process (port 0) against the real Redis, Postgres and NATS, hammered by concurrent HTTP
//! clients for a few seconds; the same answer is also timed as a plain function call, which
//! shows what HTTP and JSON add.
//!
//! `TEST_NATS_URL=nats://127.0.0.1:4555 cargo bench -p hot-catalog-service --bench hot_products_get`
//! (`BENCH_PRODUCTS` 10000, `BENCH_SECS` 3, `BENCH_CONCURRENCY` 32). Uses a namespace and
//! database of its own and removes them afterwards.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{TimeDelta, Utc};
use futures::{stream, StreamExt};
use hot_catalog_service::{
    api::HotProductsApi, score::Change, Ranking, ScoreModel, SystemClock, Weights, SPEC,
};
use service_kit::{
    db,
    infra::connect_redis,
    testing::{test_config, unique_namespace},
};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Every product gets one contribution of a varying kind and age, so scores are distinct.
async fn seed(ranking: &Ranking, pool: &sqlx::PgPool, products: i64) {
    let now = Utc::now();
    let weights = Weights::default();
    stream::iter(1..=products)
        .map(|no| async move {
            let change = Change {
                product_no: no,
                weight: [
                    weights.like,
                    weights.review + 4.0 * weights.star,
                    weights.paid_line,
                ][(no % 3) as usize],
                at_ms: (now - TimeDelta::seconds(no * 7 % 172_800)).timestamp_millis(),
                likes: 1,
                reviews: 0,
                stars: 0,
                paid_lines: 0,
            };
            let applied = ranking
                .apply(uuid::Uuid::now_v7(), now, &[change])
                .await
                .expect("seed write");
            assert!(applied);
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await;
    sqlx::query(
        "insert into product_details (product_no, seller_no, name, price, source_version)
         select g, 1, 'product ' || g, 1000 + g, 1 from generate_series(1, $1) g",
    )
    .bind(products)
    .execute(pool)
    .await
    .expect("seed details");
}

struct Figures {
    requests: u64,
    secs: f64,
    p50: Duration,
    p99: Duration,
}

/// Runs `call` from `concurrency` tasks until `secs` have passed.
async fn hammer<F, Fut>(concurrency: u64, secs: u64, call: F) -> Figures
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let call = call.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    call().await;
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("client task"));
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort();
    let pick = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    Figures {
        requests: all.len() as u64,
        secs,
        p50: pick(0.5),
        p99: pick(0.99),
    }
}

fn report(label: &str, f: &Figures) {
    println!(
        "{label:<34} {:>8} {:>7.2} {:>10.0} {:>9.2} {:>9.2}",
        f.requests,
        f.secs,
        f.requests as f64 / f.secs,
        f.p50.as_secs_f64() * 1e3,
        f.p99.as_secs_f64() * 1e3
    );
}

#[tokio::main]
async fn main() {
    let products = env_or("BENCH_PRODUCTS", 10_000) as i64;
    let secs = env_or("BENCH_SECS", 3);
    let concurrency = env_or("BENCH_CONCURRENCY", 32);
    let namespace = unique_namespace();
    let config = test_config(&SPEC, &namespace);
    let app = hot_catalog_service::build(config.clone())
        .await
        .expect("service starts");
    let db_url = config.database_url.clone().expect("database");
    let pool = sqlx::PgPool::connect(db_url.as_str()).await.expect("db");
    let redis_url = config.redis_url.clone().expect("redis");
    let model = ScoreModel::new(Weights::default(), Duration::from_secs(86_400)).expect("model");
    let ranking = Ranking::new(
        connect_redis(&redis_url).await.expect("redis"),
        &namespace,
        model,
    );

    let seeding = Instant::now();
    seed(&ranking, &pool, products).await;
    let ranked = ranking.count().await.expect("zcard");
    println!(
        "seeded {ranked} ranked products in {:.2} s ({:.0} ranking writes/s through the Lua script)",
        seeding.elapsed().as_secs_f64(),
        products as f64 / seeding.elapsed().as_secs_f64()
    );
    println!(
        "{:<34} {:>8} {:>7} {:>10} {:>9} {:>9}",
        "GET /api/hot-products", "requests", "seconds", "req/s", "p50 ms", "p99 ms"
    );
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency as usize)
        .build()
        .expect("client");
    for limit in [10, 100] {
        let url = format!(
            "http://127.0.0.1:{}/api/hot-products?limit={limit}",
            app.port()
        );
        let http = http.clone();
        let figures = hammer(concurrency, secs, move || {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let response = http.get(&url).send().await.expect("request");
                assert_eq!(response.status(), 200);
                let _ = response.bytes().await.expect("body");
            }
        })
        .await;
        report(
            &format!("HTTP, limit={limit}, {concurrency} clients"),
            &figures,
        );
    }
    let api = Arc::new(HotProductsApi {
        ranking: ranking.clone(),
        pool: pool.clone(),
        clock: Arc::new(SystemClock),
    });
    for limit in [10, 100] {
        let api = api.clone();
        let figures = hammer(concurrency, secs, move || {
            let api = api.clone();
            async move {
                let answer = api.hot_products(limit).await.expect("answer");
                assert_eq!(answer.products.len(), limit);
            }
        })
        .await;
        report(
            &format!("query fn, limit={limit}, {concurrency} tasks"),
            &figures,
        );
    }

    // The Redis half alone (one Lua read per call), to show where the time goes.
    let figures = hammer(concurrency, secs, {
        let ranking = ranking.clone();
        move || {
            let ranking = ranking.clone();
            async move {
                let snapshot = ranking.top(10).await.expect("top");
                assert_eq!(snapshot.entries.len(), 10);
            }
        }
    })
    .await;
    report("ranking read only (Redis), limit=10", &figures);

    app.stop().await.expect("clean stop");
    let _ = ranking.purge().await;
    if let Ok(client) = async_nats::connect(config.nats_url.clone().unwrap_or_default()).await {
        let js = async_nats::jetstream::new(client);
        let topology = config.topology();
        for def in events::topology::BUSINESS_STREAMS {
            let _ = js.delete_stream(topology.stream_name(&def)).await;
        }
        let _ = js.delete_stream(topology.dlq_stream()).await;
    }
    pool.close().await;
    let _ = db::drop_database(&db_url).await;
}
