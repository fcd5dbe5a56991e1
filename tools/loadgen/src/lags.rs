//! Lags read from the databases after a run, all on the Postgres server's clock: an
//! `order.payment.confirmed` event is born when order-service commits its outbox row, and is
//! applied when a consumer's transaction records it in `processed_events`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    stack::{producers, Stack},
    stats::Latencies,
};

pub struct Lags {
    /// order-service commit → wallet-service settlement.
    pub settlement: Latencies,
    /// order-service commit → order-query projection.
    pub projection: Latencies,
    /// (seconds from `since` to the commit, lag in ms) per event, for plots over time.
    pub settlement_series: Vec<(f64, f64)>,
    pub projection_series: Vec<(f64, f64)>,
}

async fn applied(
    stack: &mut Stack,
    service: &'static str,
    consumer: &str,
) -> anyhow::Result<HashMap<Uuid, DateTime<Utc>>> {
    let db = stack.db(service).await?;
    Ok(
        sqlx::query_as("select event_id, processed_at from processed_events where consumer = $1")
            .bind(consumer)
            .fetch_all(&db)
            .await?
            .into_iter()
            .collect(),
    )
}

pub async fn measure(stack: &mut Stack, since: DateTime<Utc>) -> anyhow::Result<Lags> {
    let order = stack.db("order-service").await?;
    let born: Vec<(Uuid, DateTime<Utc>)> = sqlx::query_as(
        "select (payload->>'eventId')::uuid, created_at from outbox
          where event_type = 'order.payment.confirmed'",
    )
    .fetch_all(&order)
    .await?;
    let settled = applied(stack, "wallet-service", "wallet-settlement").await?;
    let projected = applied(stack, "order-query-service", "order-query-projection").await?;
    let ms = |d: chrono::TimeDelta| d.num_microseconds().unwrap_or(0) as f64 / 1000.0;
    let lag = |seen: &HashMap<Uuid, DateTime<Utc>>| {
        let mut l = Latencies::default();
        let mut series = Vec::new();
        for (id, at) in &born {
            if let Some(done) = seen.get(id) {
                l.push_ms(ms(*done - *at));
                series.push((ms(*at - since) / 1000.0, ms(*done - *at)));
            }
        }
        (l, series)
    };
    let (settlement, settlement_series) = lag(&settled);
    let (projection, projection_series) = lag(&projected);
    Ok(Lags {
        settlement,
        projection,
        settlement_series,
        projection_series,
    })
}

/// Outbox rows written since `since` by every producing service (events the run caused).
pub async fn events_since(stack: &mut Stack, since: DateTime<Utc>) -> anyhow::Result<i64> {
    let mut total = 0;
    for service in producers() {
        let db = stack.db(service).await?;
        let n: i64 = sqlx::query_scalar("select count(*) from outbox where created_at >= $1")
            .bind(since)
            .fetch_one(&db)
            .await?;
        total += n;
    }
    Ok(total)
}

/// Transactions committed so far in the run's databases, read-only ones included (Postgres
/// counts every commit; its statistics lag by up to a second): (all, the PSP sandbox's own).
/// The sandbox stands in for the PSP, so its share is reported apart from the system's.
pub async fn transactions(stack: &mut Stack) -> anyhow::Result<(i64, i64)> {
    let order = stack.db("order-service").await?;
    let n: (i64, i64) = sqlx::query_as(
        "select coalesce(sum(xact_commit), 0)::bigint,
                coalesce(sum(xact_commit) filter (where datname like 'paymsa\\_psp\\_%'), 0)::bigint
           from pg_stat_database where datname like $1",
    )
    .bind(format!("%\\_{}", stack.namespace))
    .fetch_one(&order)
    .await?;
    Ok(n)
}
