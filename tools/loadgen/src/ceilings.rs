//! The machine's ceilings, measured in the same run as the system: how many two-write
//! transactions Postgres commits per second, and how many messages JetStream accepts per
//! second from an async publisher. Our figures are reported as ratios of these.

use std::{
    sync::{
        atomic::{AtomicI64, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use async_nats::{jetstream, HeaderMap};

/// Commits/s of `begin; insert; insert; commit` (an order row and its outbox row, the shape
/// of our write transactions) over `connections` connections for `duration`.
pub async fn postgres_two_write(
    server: &str,
    namespace: &str,
    connections: u32,
    duration: Duration,
) -> anyhow::Result<f64> {
    let url = url::Url::parse(&format!(
        "{}/paymsa_ceiling_{namespace}",
        server.trim_end_matches('/')
    ))?;
    service_kit::db::ensure_database(&url).await?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(connections)
        .connect(url.as_str())
        .await?;
    sqlx::raw_sql(
        "create table orders (id bigint primary key, member_no bigint not null,
                              total numeric(19, 2) not null, created_at timestamptz not null default now());
         create table outbox (id bigint primary key, subject text not null, payload jsonb not null,
                              created_at timestamptz not null default now());",
    )
    .execute(&pool)
    .await?;
    let next = Arc::new(AtomicI64::new(1));
    let commits = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (pool, next, commits) = (pool.clone(), next.clone(), commits.clone());
        workers.push(tokio::spawn(async move {
            while started.elapsed() < duration {
                let id = next.fetch_add(1, Ordering::Relaxed);
                let mut tx = pool.begin().await?;
                sqlx::query("insert into orders (id, member_no, total) values ($1, $2, 12000)")
                    .bind(id)
                    .bind(id % 1000)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("insert into outbox (id, subject, payload) values ($1, 'order.payment.confirmed', $2)")
                    .bind(id)
                    .bind(serde_json::json!({"orderId": id, "amount": "12000"}))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                commits.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, sqlx::Error>(())
        }));
    }
    for w in workers {
        w.await??;
    }
    let rate = commits.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    pool.close().await;
    let _ = service_kit::db::drop_database(&url).await;
    Ok(rate)
}

/// Messages/s JetStream acknowledges from one async publisher keeping `window` publishes in
/// flight, each with a `Nats-Msg-Id` (deduplication, as the relay publishes) and a payload the
/// size of our event envelopes.
pub async fn jetstream_publish(
    urls: &str,
    namespace: &str,
    window: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    let client = service_kit::infra::connect_nats(urls, "paymsa-loadgen").await?;
    let js = jetstream::new(client);
    let name = format!("{}_CEILING", namespace.to_uppercase());
    let subject = format!("{namespace}.ceiling");
    js.create_stream(jetstream::stream::Config {
        name: name.clone(),
        subjects: vec![format!("{subject}.>")],
        ..Default::default()
    })
    .await?;
    let payload = bytes_of_envelope();
    let started = Instant::now();
    let mut sent = 0u64;
    while started.elapsed() < duration {
        let mut acks = Vec::with_capacity(window);
        for _ in 0..window {
            let mut headers = HeaderMap::new();
            headers.insert(
                async_nats::header::NATS_MESSAGE_ID,
                format!("c-{sent}").as_str(),
            );
            acks.push(
                js.publish_with_headers(format!("{subject}.e"), headers, payload.clone().into())
                    .await?,
            );
            sent += 1;
        }
        for ack in acks {
            ack.await?;
        }
    }
    let rate = sent as f64 / started.elapsed().as_secs_f64();
    let _ = js.delete_stream(&name).await;
    Ok(rate)
}

fn bytes_of_envelope() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "eventId": uuid::Uuid::new_v4(),
        "type": "order.payment.confirmed",
        "version": 1,
        "occurredAt": "2026-11-21T12:00:00Z",
        "payload": {
            "paymentEventNo": "590421391628288000", "orderId": "3c3f0a9e-6d9b-4c7e-9a55-0f6e5b7d2a11",
            "memberNo": "1007", "paymentKey": "tviva20261121120000abcd",
            "lines": [{"paymentOrderNo": "590421391628288001", "productNo": "590421391628200000",
                       "sellerNo": "590421391628100000", "amount": "12000"}]
        }
    }))
    .unwrap_or_default()
}
