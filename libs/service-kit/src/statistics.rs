//! Keeping the planner's statistics of a service's own tables where autovacuum does not.
//!
//! Postgres plans a prepared statement (sqlx prepares every query and keeps it per
//! connection) five times for its parameters and then, if a generic plan costs no more than
//! those did, settles on it and keeps it until the statistics of a table it reads change (an
//! ANALYZE). A table never
//! analysed has no statistics: the planner then guesses every selectivity, and the generic
//! plan it settles on while the table is small is kept however large the table grows. Where
//! autovacuum is off (this project's development machine: docs/operations.md) nothing ever
//! analyses the business tables, and such plans were the costs that grew through a run:
//! wallet-service's "how many of these lines are credited" count (src/reversal_store.rs) read
//! every CREDIT row through the wrong partial index, 2.2 ms a call and 5.6 ms at 40,000
//! rows, and the reversal's read of its sales (src/ledger/reversals.rs) read all of the
//! seller's sales through `ledger_sales_seller_idx`, where one primary-key probe per line
//! does (docs/benchmarks.md, stop 19).
//!
//! So every [`DEFAULT_INTERVAL`] the service analyses each table of its schema with a hundred
//! rows or more and either no statistics yet or twice the rows (and a hundred more) the
//! planner last learned: `pg_class.reltuples`, which ANALYZE, VACUUM and CREATE INDEX set. The
//! ANALYZE invalidates the plans that read the table, and they are made again from real
//! figures. A plan's shape follows the table's size, so doubling bounds the analyses to a few
//! per table over its life; a queue table, which the services vacuum themselves
//! ([`crate::vacuum`], which keeps its `reltuples` current), does not double and is left to
//! that vacuum. Where autovacuum runs, it analyses by its own thresholds and this does
//! nothing. The role must own the tables (the services run their own migrations, so they do):
//! otherwise Postgres only warns and analyses nothing.

use std::time::Duration;

use sqlx::PgPool;

use crate::Shutdown;

/// How often [`spawn_analyzer`] looks for tables to analyse.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);

/// A table smaller than this is not analysed here: its plans cannot cost much, and a queue
/// table emptied between the check and the ANALYZE would get no statistics and be picked
/// again at every pass.
pub const MIN_ROWS: i64 = 100;

/// When the analyser runs.
#[derive(Debug, Clone, Copy)]
pub struct AnalyzerSchedule {
    pub interval: Duration,
    /// Also where autovacuum runs (tests, which must not depend on the server's setting).
    pub with_autovacuum: bool,
}

impl Default for AnalyzerSchedule {
    fn default() -> Self {
        Self {
            interval: DEFAULT_INTERVAL,
            with_autovacuum: false,
        }
    }
}

/// Whether this server runs autovacuum.
pub async fn autovacuum_on(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar::<_, String>("select current_setting('autovacuum')")
        .fetch_one(pool)
        .await
        .map(|on| on != "off")
}

/// The tables of the connection's schema that the rule above says to analyse now.
pub async fn due_for_analysis(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    // `pg_stats`, not `pg_statistic`: the view is readable without superuser rights.
    sqlx::query_scalar::<_, String>(
        "select s.relname::text
           from pg_stat_user_tables s
           join pg_class c on c.oid = s.relid
          where s.schemaname = current_schema()
            and s.n_live_tup >= $1
            and (c.reltuples < 0
                 or s.n_live_tup >= 2 * c.reltuples + $1
                 or not exists (select 1 from pg_stats p
                                 where p.schemaname = s.schemaname
                                   and p.tablename = s.relname))
          order by s.relname",
    )
    .bind(MIN_ROWS)
    .fetch_all(pool)
    .await
}

/// `name` as a quoted SQL identifier.
pub(crate) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// One `analyze` of `table` in the connection's schema. `skip_locked`: where another
/// maintenance task holds the table it gives up at once (Postgres only warns), and the table
/// is picked again at the next pass.
pub async fn analyze(pool: &PgPool, table: &str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(&format!("analyze (skip_locked) {}", quoted(table)))
        .execute(pool)
        .await
        .map(|_| ())
}

/// Analyses the schema's tables by the rule above at every tick of `schedule` until shutdown,
/// skipping a pass where the server runs autovacuum (unless `with_autovacuum`). A failure is
/// logged and tried again at the next pass.
pub fn spawn_analyzer(pool: PgPool, schedule: AnalyzerSchedule, shutdown: &Shutdown) {
    let stop = shutdown.clone();
    shutdown.spawn("analyzer", async move {
        let mut ticks = tokio::time::interval(schedule.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.triggered() => return,
                _ = ticks.tick() => {}
            }
            if let Err(e) = pass(&pool, schedule).await {
                tracing::warn!(error = %crate::error_chain(&e), "analysing the service's tables failed");
            }
        }
    });
}

async fn pass(pool: &PgPool, schedule: AnalyzerSchedule) -> Result<(), sqlx::Error> {
    if !schedule.with_autovacuum && autovacuum_on(pool).await? {
        return Ok(());
    }
    for table in due_for_analysis(pool).await? {
        analyze(pool, &table).await?;
        tracing::debug!(table, "analyze issued");
    }
    Ok(())
}
