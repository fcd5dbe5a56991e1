//! Retention of the bookkeeping tables that would otherwise grow forever: a consuming service's
//! `processed_events` and resolved `dead_letters` (docs/configuration.md, "Retention"), and, for
//! any service that needs it, another table through [`purge_older_than`] (order-service's
//! checkout idempotency keys).
//!
//! Why the defaults are safe: a `processed_events` record only has to outlive every way its
//! event can reach the consumer again — redelivery from its stream (kept 7 days,
//! `ProvisionOptions::max_age`) and the outbox's re-publish (minutes, inside the JetStream
//! duplicate window; the relay's re-send of rows the broker lost, within the outbox's one-hour
//! retention). A dead-letter replay reaches only the consumer that failed
//! (libs/messaging/src/replay.rs), which in most cases never recorded the event; the record of
//! one it did (an ack lost after the commit) is kept while its letter is open. 45 days is longer than the
//! stream's age plus the 30 days the DLQ stream keeps advisories. A resolved dead letter is
//! never run again, so after 30 days it is only history.
//!
//! Deletes run in batches (`limit` through a key subquery, `skip locked`), so several
//! instances may run the job at once and none holds locks for long.

use std::time::Duration;

use service_kit::{ConfigError, ServiceConfig, Shutdown};
use sqlx::PgPool;

/// What the job keeps, read from the service's environment at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionSettings {
    /// `PROCESSED_EVENTS_RETENTION_DAYS` (45).
    pub processed_events: Duration,
    /// `RESOLVED_DEAD_LETTER_RETENTION_DAYS` (30), counted from resolution.
    pub resolved_dead_letters: Duration,
    /// `RETENTION_INTERVAL_SECS` (3600): how often the job runs.
    pub interval: Duration,
}

const DAY: u64 = 24 * 3600;

impl RetentionSettings {
    pub fn from_config(config: &ServiceConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            processed_events: at_least(
                days(config, "PROCESSED_EVENTS_RETENTION_DAYS", 45)?,
                "PROCESSED_EVENTS_RETENTION_DAYS",
                MIN_PROCESSED_EVENTS_DAYS,
            )?,
            resolved_dead_letters: days(config, "RESOLVED_DEAD_LETTER_RETENTION_DAYS", 30)?,
            interval: Duration::from_secs(positive(config, "RETENTION_INTERVAL_SECS", 3600)?),
        })
    }
}

/// The business streams keep events 7 days (`ProvisionOptions::max_age`); a redelivery within
/// them must still find its record, so a shorter retention is refused at start.
const MIN_PROCESSED_EVENTS_DAYS: u64 = 8;

fn at_least(kept: Duration, name: &str, min_days: u64) -> Result<Duration, ConfigError> {
    if kept < Duration::from_secs(min_days * DAY) {
        return Err(ConfigError::new(
            name,
            format!("must be at least {min_days} days: the streams keep events 7 days"),
        ));
    }
    Ok(kept)
}

/// A whole number of days, at least 1 (0 would delete what a redelivery still needs).
pub fn days(config: &ServiceConfig, name: &str, default: u64) -> Result<Duration, ConfigError> {
    Ok(Duration::from_secs(positive(config, name, default)? * DAY))
}

fn positive(config: &ServiceConfig, name: &str, default: u64) -> Result<u64, ConfigError> {
    match config.extra_var(name) {
        None => Ok(default),
        Some(raw) => match raw.trim().parse::<u64>() {
            Ok(n) if (1..=36_500).contains(&n) => Ok(n),
            _ => Err(ConfigError::new(
                name,
                format!("must be a whole number from 1 to 36500 (got {raw:?})"),
            )),
        },
    }
}

/// Rows deleted per statement.
const BATCH: i64 = 1000;

/// Deletes, `BATCH` rows at a time, the rows of `table` whose `time_column` is older than
/// `older_than`; returns how many. `table`, `key` and the columns are the caller's constants,
/// never input.
pub async fn purge_older_than(
    pool: &PgPool,
    table: &str,
    key: &str,
    time_column: &str,
    older_than: Duration,
) -> Result<u64, sqlx::Error> {
    purge_where(pool, table, key, time_column, older_than, "").await
}

/// [`purge_older_than`], of the rows that also match `also` (`and …`, a constant).
async fn purge_where(
    pool: &PgPool,
    table: &str,
    key: &str,
    time_column: &str,
    older_than: Duration,
    also: &str,
) -> Result<u64, sqlx::Error> {
    // Built at run time, not a checked `query!`: the table and columns are the caller's (a
    // checked query must be a literal). The callers' tables are each service's own.
    let sql = format!(
        "delete from {table} where ({key}) in (
             select {key} from {table}
              where {time_column} < now() - make_interval(secs => $1) {also}
              limit $2 for update skip locked)"
    );
    let mut total = 0;
    loop {
        let deleted = sqlx::query(&sql)
            .bind(older_than.as_secs_f64())
            .bind(BATCH)
            .execute(pool)
            .await?
            .rows_affected();
        total += deleted;
        if deleted < BATCH as u64 {
            return Ok(total);
        }
    }
}

/// One pass over the messaging tables; returns (processed events, dead letters) deleted.
pub async fn purge_messaging(
    pool: &PgPool,
    settings: &RetentionSettings,
) -> Result<(u64, u64), sqlx::Error> {
    // Not the record of an event that an open dead letter holds: a consumer may have applied
    // it and still dead-lettered it (its ack lost after the commit, or a lane committing after
    // the handler's timeout), and a replay months later must still find it applied.
    let processed = purge_where(
        pool,
        "processed_events",
        "consumer, event_id",
        "processed_at",
        settings.processed_events,
        "and not exists (select 1 from dead_letters d
                          where d.consumer = processed_events.consumer
                            and d.event_id = processed_events.event_id
                            and d.resolved_at is null)",
    )
    .await?;
    // `resolved_at < …` is false for an open letter (null): those stay until resolved.
    let letters = purge_older_than(
        pool,
        "dead_letters",
        "id",
        "resolved_at",
        settings.resolved_dead_letters,
    )
    .await?;
    Ok((processed, letters))
}

/// Runs `pass` every `interval` until shutdown (first pass after one interval, so a start is
/// not slowed by it); a failed pass is logged and tried again next time.
pub fn spawn_job<F, Fut>(name: &'static str, interval: Duration, shutdown: &Shutdown, pass: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<String, sqlx::Error>> + Send,
{
    let stop = shutdown.clone();
    shutdown.spawn(name, async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            tokio::select! {
                _ = stop.triggered() => return,
                _ = ticks.tick() => {}
            }
            match pass().await {
                Ok(summary) => tracing::info!(job = name, %summary, "retention pass"),
                Err(e) => tracing::warn!(job = name, error = %e, "retention pass failed"),
            }
        }
    });
}

/// The messaging tables' job of a consuming service.
pub fn spawn_messaging_retention(pool: PgPool, settings: RetentionSettings, shutdown: &Shutdown) {
    spawn_job(
        "messaging-retention",
        settings.interval,
        shutdown,
        move || {
            let pool = pool.clone();
            async move {
                let (processed, letters) = purge_messaging(&pool, &settings).await?;
                Ok(format!(
                    "{processed} processed events, {letters} resolved dead letters deleted"
                ))
            }
        },
    );
}
