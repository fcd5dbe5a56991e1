//! Vacuuming a service's queue tables from the service itself. A queue table (the outbox,
//! the sandbox's webhook deliveries, the wallet's balance deltas) has every row updated or
//! deleted soon after it is written; the dead versions stay in the table and its indexes
//! until a vacuum, and a claim that walks an index full of them slows down with every
//! minute of traffic. Autovacuum does this where it runs, but it can be off (it is on this
//! project's development machine: docs/operations.md "Postgres: queue tables are vacuumed by
//! the services"), and its default thresholds wait for 20 % of a table to be dead, which a
//! small, busy queue table reaches many times a minute.
//!
//! The options: `skip_locked` gives up at once where it would wait; `truncate false` skips
//! the end-of-table truncation, the one step of a plain vacuum that takes an exclusive lock
//! (briefly, and replayed on standbys); `index_cleanup on` makes it clean the indexes even
//! when few pages have dead rows, which Postgres would otherwise skip — and the dead entries
//! of a queue's partial "pending" index (the outbox's `outbox_pending_idx`) are the very
//! thing every claim walks past. Nothing here blocks reads or writes.
//!
//! A pass also analyses a table that has no statistics yet (so an outbox that was empty at
//! the first pass is analysed once it has rows), and every [`ANALYZE_EVERY`]th pass analyses
//! them all: with autovacuum
//! off, nothing else ever gives the planner these tables' statistics, and without them it
//! takes `status <> 'SUCCESS'` to match nearly every row, so the outbox backlog gauge
//! (libs/outbox/src/store.rs `backlog`) scanned the whole retained outbox instead of its
//! pending index: 34 ms a call every 5 s in each service, growing with the table, in a
//! ten-minute `just bench e2e`. Rarely, because analysing a large outbox (its payloads
//! included) took 0.6–0.7 s when it ran every minute, and the shape the plans need (nearly
//! every row published) holds from the first minute on (docs/benchmarks.md, stop 17).

use std::time::Duration;

use sqlx::PgPool;

use crate::Shutdown;

/// How often [`spawn_vacuum`] vacuums by default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);

/// Every how many passes the vacuum also analyses (about ten minutes at the default
/// interval; a table without statistics is analysed at every pass until it has them).
pub const ANALYZE_EVERY: u64 = 40;

/// Which tables to vacuum, and how often; `interval` zero turns it off.
#[derive(Debug, Clone)]
pub struct VacuumSchedule {
    pub tables: Vec<&'static str>,
    pub interval: Duration,
}

impl VacuumSchedule {
    pub fn new(tables: &[&'static str]) -> Self {
        Self {
            tables: tables.to_vec(),
            interval: DEFAULT_INTERVAL,
        }
    }
}

/// One `vacuum` of `table` (a name from the code, never from input), with `analyze` when
/// asked.
pub async fn vacuum(pool: &PgPool, table: &str, analyze: bool) -> Result<(), sqlx::Error> {
    let analyze = if analyze { "analyze, " } else { "" };
    sqlx::raw_sql(&format!(
        "vacuum ({analyze}skip_locked, truncate false, index_cleanup on) {}",
        crate::statistics::quoted(table)
    ))
    .execute(pool)
    .await
    .map(|_| ())
}

/// Whether the planner has statistics for `table` (in the connection's schema); an error
/// counts as yes, so a failing check never adds an analyse to every pass.
async fn has_statistics(pool: &PgPool, table: &str) -> bool {
    sqlx::query_scalar::<_, bool>(
        "select exists (select 1 from pg_stats
                         where schemaname = current_schema() and tablename = $1)",
    )
    .bind(table)
    .fetch_one(pool)
    .await
    .unwrap_or(true)
}

/// Vacuums the schedule's tables every `interval` until shutdown (a vacuum under way is
/// finished first). A failure is logged and tried again at the next tick.
pub fn spawn_vacuum(pool: PgPool, schedule: VacuumSchedule, shutdown: &Shutdown) {
    if schedule.interval.is_zero() || schedule.tables.is_empty() {
        return;
    }
    let stop = shutdown.clone();
    shutdown.spawn("vacuum", async move {
        let mut ticks = tokio::time::interval(schedule.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate; a service that just started has nothing to vacuum.
        ticks.tick().await;
        for pass in 0_u64.. {
            tokio::select! {
                _ = stop.triggered() => return,
                _ = ticks.tick() => {}
            }
            for table in &schedule.tables {
                let analyze = pass % ANALYZE_EVERY == 0 || !has_statistics(&pool, table).await;
                if let Err(e) = vacuum(&pool, table, analyze).await {
                    tracing::warn!(table, error = %crate::error_chain(&e), "vacuum failed");
                }
            }
        }
    });
}
