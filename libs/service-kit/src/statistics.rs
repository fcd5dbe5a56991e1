//! Keeping the planner's statistics of a service's own tables where autovacuum does not.
//!
//! Postgres plans a prepared statement (sqlx prepares every query and keeps it per
//! connection) five times for its parameters and then settles on one generic plan, which it
//! keeps until the statistics of a table it reads change (an ANALYZE). A table never
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
//! So every [`DEFAULT_INTERVAL`] the service analyses each table of its schema that has rows
//! and either no statistics yet or twice the rows it had when they were taken — the count the
//! statistics (`pg_class.reltuples`) were made with. The ANALYZE invalidates the plans that
//! read the table, and they are made again from real figures; a table's plans change shape
//! with its size, so doubling bounds the analyses to a few per table over its life (the
//! queue tables' own vacuum keeps `reltuples` current, so they are left to it:
//! [`crate::vacuum`]). Where autovacuum runs, it analyses by its own thresholds and this
//! does nothing.

use std::time::Duration;

use sqlx::PgPool;

use crate::Shutdown;

/// How often [`spawn_analyzer`] looks for tables to analyse.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);

/// Whether this server runs autovacuum (an error counts as yes: then nothing is analysed here).
pub async fn autovacuum_on(pool: &PgPool) -> bool {
    sqlx::query_scalar::<_, String>("select current_setting('autovacuum')")
        .fetch_one(pool)
        .await
        .map(|on| on != "off")
        .unwrap_or(true)
}

/// The tables of the connection's schema the rule above says to analyse now (doubled, and by
/// a hundred rows at least: a queue table vacuumed empty has `reltuples` 0, and re-analysing
/// it for every row that passes through would only invalidate its plans).
pub async fn due_for_analysis(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    // `pg_stats`, not `pg_statistic`: the view is readable without superuser rights.
    sqlx::query_scalar::<_, String>(
        "select c.relname::text
           from pg_class c
           join pg_stat_user_tables s on s.relid = c.oid
          where c.relnamespace = current_schema()::regnamespace
            and c.relkind = 'r'
            and s.n_live_tup > 0
            and (c.reltuples < 0
                 or s.n_live_tup >= 2 * c.reltuples + 100
                 or not exists (select 1 from pg_stats p
                                 where p.schemaname = current_schema()
                                   and p.tablename = c.relname))
          order by c.relname",
    )
    .fetch_all(pool)
    .await
}

/// One `analyze` of `table`, a name read from the catalog (quoted), giving up at once on a
/// table another maintenance task holds (`skip_locked`: it is tried again at the next pass).
pub async fn analyze(pool: &PgPool, table: &str) -> Result<(), sqlx::Error> {
    let quoted = table.replace('"', "\"\"");
    sqlx::raw_sql(&format!("analyze (skip_locked) \"{quoted}\""))
        .execute(pool)
        .await
        .map(|_| ())
}

/// Analyses the schema's tables by the rule above every `interval` until shutdown, unless
/// the server runs autovacuum; `interval` zero turns it off. A failure is logged and tried
/// again at the next pass.
pub fn spawn_analyzer(pool: PgPool, interval: Duration, shutdown: &Shutdown) {
    if interval.is_zero() {
        return;
    }
    let stop = shutdown.clone();
    shutdown.spawn("analyzer", async move {
        if autovacuum_on(&pool).await {
            return;
        }
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.triggered() => return,
                _ = ticks.tick() => {}
            }
            let tables = match due_for_analysis(&pool).await {
                Ok(tables) => tables,
                Err(e) => {
                    tracing::warn!(error = %crate::error_chain(&e), "finding tables to analyse failed");
                    continue;
                }
            };
            for table in tables {
                match analyze(&pool, &table).await {
                    Ok(()) => tracing::debug!(table, "analysed"),
                    Err(e) => {
                        tracing::warn!(table, error = %crate::error_chain(&e), "analyse failed")
                    }
                }
            }
        }
    });
}
