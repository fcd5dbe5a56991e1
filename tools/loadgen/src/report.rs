//! The benchmark's figures: printed, and written as Markdown plus a latency histogram.

use std::{fmt::Write as _, path::Path, time::Duration};

use crate::stats::Latencies;

pub struct ServiceUsage {
    pub label: String,
    pub peak_rss_mib: f64,
    /// Share of one core over the measured run (load and drain).
    pub cpu_percent: f64,
}

pub struct BenchReport {
    pub duration: Duration,
    /// Set for an open-loop run (`--rate`): its schedule and latency over time.
    pub open: Option<crate::report_open::OpenLoopReport>,
    pub shoppers: usize,
    pub db_connections: u32,
    /// Services whose pool is not `db_connections` (`--db-connections-for`).
    pub db_connections_for: Vec<(&'static str, u32)>,
    pub consumer_concurrency: usize,
    /// WORKER_THREADS of every service; 0: one per core.
    pub worker_threads: usize,
    /// The sandbox sent its webhooks (`--webhooks`).
    pub webhooks: bool,
    pub payments: u64,
    pub paid: u64,
    pub errors: u64,
    pub load_seconds: f64,
    pub drain_seconds: f64,
    pub end_to_end_seconds: f64,
    /// Outbox events the run produced (all services).
    pub events: i64,
    /// Postgres transactions committed in the run's databases during load and drain, and how
    /// many of them were the PSP sandbox's.
    pub transactions: i64,
    pub psp_transactions: i64,
    /// Those transactions by database, and the statements seen running during the load.
    pub pg: crate::pg_profile::PgProfile,
    pub confirm: Latencies,
    /// `POST /api/payments/{orderId}/cancel` answered 200 DONE.
    pub cancel: Latencies,
    /// Cancels answered 200, and how many of them were partial.
    pub cancels: u64,
    pub partial_cancels: u64,
    pub settlement: Latencies,
    pub projection: Latencies,
    pub usage: Vec<ServiceUsage>,
    pub pg_commits_per_s: f64,
    pub js_publish_per_s: f64,
}

/// What the figures were measured on.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let rev = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "{cores} cores, {mem_gib:.0} GiB RAM, load average {} at the end, commit {rev}, {}",
        load.join(" "),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    )
}

/// The fsync policy of the run's nats-server, as service_kit::nats_server::jetstream_config
/// chose it (`NATS_SYNC_INTERVAL`; `always` unless another valid interval is named).
fn broker_sync_interval() -> String {
    let config = service_kit::nats_server::jetstream_config();
    config
        .lines()
        .find_map(|l| l.trim().strip_prefix("sync_interval:"))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| "default (2m)".into())
}

/// `DB_MAX_CONNECTIONS` of every service, with the ones set apart:
/// `` `DB_MAX_CONNECTIONS=3` (order-service 6) ``.
fn pools(every: u32, apart: &[(&str, u32)]) -> String {
    let every = format!("`DB_MAX_CONNECTIONS={every}`");
    if apart.is_empty() {
        return every;
    }
    let apart: Vec<String> = apart.iter().map(|(s, n)| format!("{s} {n}")).collect();
    format!("{every} ({})", apart.join(", "))
}

/// The group-commit settings the services inherited from this process's environment
/// (docs/configuration.md), each with its default when unset.
fn group_commit_settings() -> String {
    let var = |name: &str, default: &str| {
        let value = std::env::var(name).unwrap_or_else(|_| format!("{default} (default)"));
        format!("`{name}={value}`")
    };
    format!(
        "{}, {}",
        var("GROUP_COMMIT_LINGER_MS", "10"),
        var("SETTLEMENT_GROUP_LANES", "2")
    )
}

impl BenchReport {
    pub fn paid_per_second(&self) -> f64 {
        self.paid as f64 / self.end_to_end_seconds.max(0.001)
    }

    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.end_to_end_seconds.max(0.001)
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# End-to-end benchmark (`just bench e2e`)\n");
        let _ = writeln!(md, "Machine: {}.\n", machine());
        let _ = writeln!(
            md,
            "Load: {} for {:.0} s (checkout of 1–3 products → sandbox approval → confirm; \
             per payment 30 % like, 5 % unlike, 10 % review, 2 % review delete; 5 % of paid orders \
             cancelled, half of them in part), release binaries, \
             one process per service, {}, `WORKER_THREADS={}`, \
             `CONSUMER_CONCURRENCY={}`, {}, {}, Postgres over {}, the broker's \
             `sync_interval: {}`; {}.\n",
            match &self.open {
                Some(o) => format!(
                    "**open loop**, {:.0} payments/s started on a fixed schedule whether or not \
                     earlier ones finished",
                    o.rate
                ),
                None => format!(
                    "**closed loop**, {} shoppers each starting a payment when their last one ended",
                    self.shoppers
                ),
            },
            self.duration.as_secs_f64(),
            pools(self.db_connections, &self.db_connections_for),
            match self.worker_threads {
                0 => "one per core".to_string(),
                n => n.to_string(),
            },
            match self.consumer_concurrency {
                0 => "each consumer's default (4; wallet settlement 16)".to_string(),
                n => n.to_string(),
            },
            group_commit_settings(),
            if self.webhooks {
                "the sandbox's webhooks sent to order-service and wallet-service"
            } else {
                "no PSP webhooks"
            },
            postgres_path(),
            broker_sync_interval(),
            crate::inherited::sentence(&crate::bench::set_by_the_bench(
                self.consumer_concurrency,
                self.worker_threads,
                self.webhooks
            )),
        );
        let _ = writeln!(
            md,
            "| figure | value | ceiling | ratio |\n|---|---|---|---|"
        );
        let _ = writeln!(
            md,
            "| paid orders/s, end to end (confirmed, settled, projected, ranked) | {:.1} | {:.0} two-write commits/s (raw Postgres) | {:.3} |",
            self.paid_per_second(),
            self.pg_commits_per_s,
            self.paid_per_second() / self.pg_commits_per_s.max(0.001)
        );
        let _ = writeln!(
            md,
            "| events published/s (all outboxes) | {:.1} | {:.0} msgs/s (raw JetStream async publish) | {:.3} |",
            self.events_per_second(),
            self.js_publish_per_s,
            self.events_per_second() / self.js_publish_per_s.max(0.001)
        );
        let _ = writeln!(
            md,
            "\n{} payments ({} paid, {} cancelled of which {} in part, {} client errors); load {:.1} s + drain {:.1} s = {:.1} s end to end; {} events.\n",
            self.payments, self.paid, self.cancels, self.partial_cancels, self.errors, self.load_seconds, self.drain_seconds, self.end_to_end_seconds, self.events
        );
        let per_paid = |n: i64| n as f64 / self.paid.max(1) as f64;
        let _ = writeln!(
            md,
            "Per paid order (the whole mix included): {:.1} events published, {:.1} Postgres transactions committed by the system ({} in all, read-only ones included), plus {:.1} by the PSP sandbox standing in for the PSP ({}).\n",
            per_paid(self.events),
            per_paid(self.transactions - self.psp_transactions),
            self.transactions - self.psp_transactions,
            per_paid(self.psp_transactions),
            self.psp_transactions
        );
        md.push_str(&self.pg.markdown(self.paid));
        let _ = writeln!(
            md,
            "\n| latency (ms) | samples | p50 / p95 / p99 / max |\n|---|---|---|"
        );
        for (name, l) in [
            ("confirm (HTTP, incl. PSP round trip)", &self.confirm),
            ("cancel (HTTP, incl. PSP refund)", &self.cancel),
            (
                "settlement lag (confirm commit → wallet credit)",
                &self.settlement,
            ),
            (
                "projection lag (confirm commit → order-query)",
                &self.projection,
            ),
        ] {
            let _ = writeln!(md, "| {name} | {} | {} |", l.len(), l.summary());
        }
        let _ = writeln!(md, "\n![confirm latency](confirm-latency.svg)\n");
        if let Some(open) = &self.open {
            md.push_str(&open.markdown());
        }
        let _ = writeln!(
            md,
            "| process | peak RSS (MiB) | CPU (% of one core; the machine has {} cores) |\n|---|---|---|",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        for u in &self.usage {
            let _ = writeln!(
                md,
                "| {} | {} | {:.1} |",
                u.label,
                if u.peak_rss_mib.is_nan() {
                    "–".to_string()
                } else {
                    format!("{:.1}", u.peak_rss_mib)
                },
                u.cpu_percent
            );
        }
        md
    }

    pub fn print(&self) {
        println!("\n{}", self.markdown());
    }

    pub fn write(&self, dir: &str) -> anyhow::Result<()> {
        let dir = Path::new(dir);
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("results.md"), self.markdown())?;
        std::fs::write(
            dir.join("confirm-latency.svg"),
            self.confirm.histogram_svg(&format!(
                "POST /api/payments/confirm, {}, {} paid",
                match &self.open {
                    Some(o) => format!("{:.0}/s open loop", o.rate),
                    None => format!("{} shoppers", self.shoppers),
                },
                self.paid
            )),
        )?;
        if let Some(open) = &self.open {
            std::fs::write(dir.join("stage-latency.svg"), open.svg())?;
        }
        Ok(())
    }
}

/// How the services and the ceiling reach Postgres (scripts/bench.sh prefers its Unix socket).
fn postgres_path() -> &'static str {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if url.contains("%2F") || url.contains("%2f") => "its Unix socket",
        _ => "TCP",
    }
}
