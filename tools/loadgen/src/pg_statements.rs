//! Where Postgres's time goes, statement by statement, when the server has
//! `pg_stat_statements` loaded (`shared_preload_libraries`; it needs a server restart, so the
//! benchmark never loads it itself: docs/benchmarks.md says how). Sampling `pg_stat_activity`
//! ([`crate::pg_profile`]) sees what runs long; this counts every call, so a statement that is
//! cheap but called for every order shows up too.
//!
//! The counts are reset when the load starts, so they cover the load and its drain (and what
//! the services' background jobs did meanwhile), but not the market's opening.

use std::fmt::Write as _;

use sqlx::PgPool;

/// One statement's share of the run, in one database.
pub struct StatementCost {
    pub database: String,
    pub calls: i64,
    pub total_ms: f64,
    pub rows: i64,
    pub query: String,
}

/// Resets the counters if the extension is loaded; false (and nothing changed) if it is not.
pub async fn reset(server: &PgPool) -> bool {
    let loaded = sqlx::query_scalar::<_, String>("show shared_preload_libraries")
        .fetch_one(server)
        .await
        .is_ok_and(|libs| libs.split(',').any(|l| l.trim() == "pg_stat_statements"));
    if !loaded {
        return false;
    }
    // The view lives in the database the sampler is connected to (`postgres`); it reports
    // every database's statements.
    let created = sqlx::raw_sql("create extension if not exists pg_stat_statements")
        .execute(server)
        .await;
    created.is_ok()
        && sqlx::raw_sql("select pg_stat_statements_reset()")
            .execute(server)
            .await
            .is_ok()
}

/// The run's statements, most total execution time first.
pub async fn read(server: &PgPool, namespace: &str) -> anyhow::Result<Vec<StatementCost>> {
    let suffix = format!("_{namespace}");
    let rows: Vec<(String, i64, f64, i64, String)> = sqlx::query_as(
        "select d.datname::text, s.calls, s.total_exec_time, s.rows,
                left(regexp_replace(s.query, '\\s+', ' ', 'g'), 90)
           from pg_stat_statements s join pg_database d on d.oid = s.dbid
          where d.datname like $1
          order by s.total_exec_time desc",
    )
    .bind(format!("%\\_{namespace}"))
    .fetch_all(server)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(db, calls, total_ms, rows, query)| StatementCost {
            database: db.trim_end_matches(&suffix).to_string(),
            calls,
            total_ms,
            rows,
            query,
        })
        .collect())
}

/// A Markdown table of the `top` statements by execution time, with calls per paid order;
/// or why there is none.
pub fn markdown(statements: Option<&[StatementCost]>, paid: u64, top: usize) -> String {
    let Some(statements) = statements else {
        return "Statement costs: `pg_stat_statements` is not loaded on this server, or its \
                counters could not be reset or read (docs/benchmarks.md, \"Profiling statements\").\n"
            .into();
    };
    let total: f64 = statements.iter().map(|s| s.total_ms).sum();
    let calls: i64 = statements.iter().map(|s| s.calls).sum();
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Statements by execution time (`pg_stat_statements`; {calls} calls, {:.1} per paid \
         order, {:.1} s executing in all; planning and the commit's WAL flush not included):\n\n\
         | ms | share | calls | per paid order | µs per call | rows per call | database | statement |\n\
         |---|---|---|---|---|---|---|---|",
        calls as f64 / paid.max(1) as f64,
        total / 1000.0
    );
    for s in statements.iter().take(top) {
        let query = s.query.replace('|', "\\|");
        let _ = writeln!(
            md,
            "| {:.0} | {:.0} % | {} | {:.2} | {:.0} | {:.1} | {} | `{query}` |",
            s.total_ms,
            s.total_ms * 100.0 / total.max(f64::MIN_POSITIVE),
            s.calls,
            s.calls as f64 / paid.max(1) as f64,
            s.total_ms * 1000.0 / s.calls.max(1) as f64,
            s.rows as f64 / s.calls.max(1) as f64,
            s.database,
        );
    }
    md
}
