//! Where Postgres's work goes during a benchmark: transactions committed per database, and the
//! statements most often found running (sampled from `pg_stat_activity`, with what they were
//! waiting on). This is the profile issue 13 asks for before and after each change; the
//! per-statement counts come from
//! [`crate::pg_statements`] when the server has `pg_stat_statements` loaded.
//!
//! The sampler connects to the server's `postgres` database, so its own queries are not
//! counted in the run's databases (`lags::transactions`).

use std::{collections::BTreeMap, fmt::Write as _, time::Duration};

use sqlx::PgPool;
use tokio::{sync::oneshot, task::JoinHandle};

/// Transactions committed so far per database of the run (namespace suffix removed).
pub async fn commits_by_database(
    server: &PgPool,
    namespace: &str,
) -> anyhow::Result<BTreeMap<String, i64>> {
    let suffix = format!("_{namespace}");
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "select datname::text, xact_commit from pg_stat_database where datname like $1",
    )
    .bind(format!("%\\_{namespace}"))
    .fetch_all(server)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(db, n)| (db.trim_end_matches(&suffix).to_string(), n))
        .collect())
}

/// Samples the run's active statements every `every` until [`ActivitySampler::finish`].
pub struct ActivitySampler {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Activity>,
}

/// What the sampler saw: (database, wait event, statement) → times seen active.
#[derive(Default)]
pub struct Activity {
    pub samples: u64,
    pub seen: BTreeMap<(String, String, String), u64>,
}

impl ActivitySampler {
    pub fn start(server: PgPool, namespace: &str, every: Duration) -> Self {
        let (stop, mut stopped) = oneshot::channel();
        let pattern = format!("%\\_{namespace}");
        let suffix = format!("_{namespace}");
        let task = tokio::spawn(async move {
            let mut activity = Activity::default();
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => {}
                }
                // The statement's first 80 characters, whitespace folded: enough to name it.
                let rows: Result<Vec<(String, String, String)>, _> = sqlx::query_as(
                    "select datname::text,
                            coalesce(wait_event_type || ':' || wait_event, 'CPU'),
                            left(regexp_replace(query, '\\s+', ' ', 'g'), 80)
                       from pg_stat_activity
                      where state = 'active' and datname like $1 and pid <> pg_backend_pid()",
                )
                .bind(&pattern)
                .fetch_all(&server)
                .await;
                let Ok(rows) = rows else { continue };
                activity.samples += 1;
                for (db, wait, query) in rows {
                    let db = db.trim_end_matches(&suffix).to_string();
                    *activity.seen.entry((db, wait, query)).or_default() += 1;
                }
            }
            activity
        });
        Self { stop, task }
    }

    pub async fn finish(self) -> Activity {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}

/// The run's Postgres profile, for the report.
#[derive(Default)]
pub struct PgProfile {
    /// Transactions committed during the run, per database.
    pub commits: BTreeMap<String, i64>,
    pub activity: Activity,
    /// The server's `autovacuum` setting: with it off nothing is vacuumed or analysed during
    /// the run, so tables keep their dead rows and plans their first statistics.
    pub autovacuum: String,
    /// Every statement's calls and time, when the server has `pg_stat_statements` loaded.
    pub statements: Option<Vec<crate::pg_statements::StatementCost>>,
}

/// The server's `autovacuum` setting (`on` / `off`; `?` if it cannot be read).
pub async fn autovacuum(server: &PgPool) -> String {
    sqlx::query_scalar::<_, String>("show autovacuum")
        .fetch_one(server)
        .await
        .unwrap_or_else(|_| "?".into())
}

impl PgProfile {
    /// Two Markdown tables: transactions per paid order by database, and the statements most
    /// often active.
    pub fn markdown(&self, paid: u64) -> String {
        let mut md = String::new();
        let total: i64 = self.commits.values().sum();
        let _ = writeln!(md, "Postgres's `autovacuum`: {}.\n", self.autovacuum);
        // Statements per paid order by database, when `pg_stat_statements` counted them.
        let mut calls: BTreeMap<&str, i64> = BTreeMap::new();
        for s in self.statements.iter().flatten() {
            *calls.entry(s.database.as_str()).or_default() += s.calls;
        }
        let _ = writeln!(
            md,
            "| database | transactions | per paid order | share | statements per paid order |\n|---|---|---|---|---|"
        );
        let mut by_count: Vec<_> = self.commits.iter().collect();
        by_count.sort_by_key(|(_, n)| std::cmp::Reverse(**n));
        for (db, n) in by_count {
            let statements = calls.get(db.as_str()).map_or("–".to_string(), |c| {
                format!("{:.1}", *c as f64 / paid.max(1) as f64)
            });
            let _ = writeln!(
                md,
                "| {db} | {n} | {:.2} | {:.0} % | {statements} |",
                *n as f64 / paid.max(1) as f64,
                *n as f64 * 100.0 / total.max(1) as f64
            );
        }
        let active: u64 = self.activity.seen.values().sum();
        let _ = writeln!(
            md,
            "\nStatements found active in {} samples of `pg_stat_activity` ({:.1} active on average; \"CPU\" = not waiting):\n\n| seen | database | waiting on | statement |\n|---|---|---|---|",
            self.activity.samples,
            active as f64 / self.activity.samples.max(1) as f64
        );
        let mut top: Vec<_> = self.activity.seen.iter().collect();
        top.sort_by_key(|(_, n)| std::cmp::Reverse(**n));
        for ((db, wait, query), n) in top.into_iter().take(15) {
            let query = query.replace('|', "\\|");
            let _ = writeln!(md, "| {n} | {db} | {wait} | `{query}` |");
        }
        md.push('\n');
        md.push_str(&crate::pg_statements::markdown(
            self.statements.as_deref(),
            paid,
            20,
        ));
        md
    }
}
