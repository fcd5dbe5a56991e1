//! The open-loop run's part of the report: how well the schedule was kept, each stage's
//! latency over time (confirm from its scheduled start, settlement and projection lags), the
//! first minute against the last, memory minute by minute against the end, and the CPU
//! of what is not a service (Postgres backends, nats-server, the load generator).

use std::{
    fmt::Write as _,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::task::JoinHandle;

use crate::{
    lags::Lags,
    procs,
    report::ServiceUsage,
    stats::Latencies,
    timeline::{self, Stage},
    workload::PaymentRecord,
};

/// Collects the paid payments' schedules.
#[derive(Default)]
pub struct OpenLoop {
    late: Latencies,
    to_confirm: Latencies,
    series: Vec<(f64, f64)>,
}

impl OpenLoop {
    pub fn record(&mut self, r: &PaymentRecord) {
        if let Some(s) = r.schedule {
            self.late.push(s.late);
            self.to_confirm.push(s.to_confirm);
            self.series
                .push((s.due.as_secs_f64(), s.to_confirm.as_secs_f64() * 1000.0));
        }
    }

    pub fn finish(self, rate: f64, lags: &Lags, rss: Vec<RssRow>) -> OpenLoopReport {
        OpenLoopReport {
            rate,
            late: self.late,
            to_confirm: self.to_confirm,
            stages: vec![
                Stage {
                    name: "scheduled start → confirmed",
                    colour: "#4a7ebb",
                    samples: self.series,
                },
                Stage {
                    name: "settlement lag",
                    colour: "#e76f51",
                    samples: lags.settlement_series.clone(),
                },
                Stage {
                    name: "projection lag",
                    colour: "#2a9d8f",
                    samples: lags.projection_series.clone(),
                },
            ],
            rss,
        }
    }
}

pub struct OpenLoopReport {
    pub rate: f64,
    /// How late payments started against their schedule (the load generator's own delay).
    pub late: Latencies,
    /// Scheduled start → confirm answered: checkout, approval and confirm.
    pub to_confirm: Latencies,
    pub stages: Vec<Stage>,
    pub rss: Vec<RssRow>,
}

impl OpenLoopReport {
    pub fn svg(&self) -> String {
        timeline::svg(
            &format!("p99 per 5 s at {:.0} payments/s (open loop)", self.rate),
            &self.stages,
            5.0,
        )
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(
            md,
            "Open loop: payments started late against their schedule by p50 / p95 / p99 / max {} ms; \
             scheduled start → confirm answered (checkout, approval, confirm) {} ms.\n",
            self.late.summary(),
            self.to_confirm.summary()
        );
        let _ = writeln!(md, "![latency per stage over time](stage-latency.svg)\n");
        md.push_str(&timeline::per_minute(&self.stages));
        let ratios: Vec<String> = self
            .stages
            .iter()
            .filter_map(|s| {
                timeline::last_over_first_minute(&s.samples).map(|r| format!("{} {r:.2}×", s.name))
            })
            .collect();
        if !ratios.is_empty() {
            let _ = writeln!(
                md,
                "\np99 of the last minute over the first: {}.",
                ratios.join(", ")
            );
        }
        if self.rss.iter().any(|r| r.after_first_minute().is_some()) {
            let _ = writeln!(
                md,
                "\n| process | RSS after 1 min (MiB) | RSS at the end of the load (MiB) | change | at the end of each minute (MiB) |\n|---|---|---|---|---|"
            );
            for r in &self.rss {
                if let (Some(a), Some(b)) = (r.after_first_minute(), r.at_end) {
                    let minutes: Vec<String> = r
                        .per_minute
                        .iter()
                        .map(|m| m.map_or_else(|| "–".to_string(), |m| format!("{m:.1}")))
                        .collect();
                    let _ = writeln!(
                        md,
                        "| {} | {a:.1} | {b:.1} | {:+.1} % | {} |",
                        r.label,
                        (b / a - 1.0) * 100.0,
                        minutes.join(" ")
                    );
                }
            }
        }
        md.push('\n');
        md
    }
}

/// CPU of the processes that are not services, from the start of the load.
pub struct OtherCpu {
    postgres: f64,
    nats: f64,
    own: f64,
}

impl OtherCpu {
    pub fn now() -> Self {
        Self {
            postgres: procs::cpu_seconds_of("postgres"),
            nats: procs::cpu_seconds_of("nats-server"),
            own: procs::own_cpu_seconds(),
        }
    }

    /// Rows for the CPU table over `wall` seconds (every Postgres backend of the server and
    /// every nats-server on the machine: nothing else should run during a bench).
    pub fn since(&self, wall: f64) -> Vec<ServiceUsage> {
        let now = Self::now();
        let row = |label: &str, used: f64| ServiceUsage {
            label: label.to_string(),
            peak_rss_mib: f64::NAN,
            cpu_percent: used / wall.max(0.001) * 100.0,
        };
        vec![
            row("Postgres (all backends)", now.postgres - self.postgres),
            row("nats-server", now.nats - self.nats),
            row("load generator (this process)", now.own - self.own),
        ]
    }
}

pub struct RssRow {
    pub label: String,
    /// Sampled at the end of every whole minute of the load.
    pub per_minute: Vec<Option<f64>>,
    pub at_end: Option<f64>,
}

impl RssRow {
    pub fn after_first_minute(&self) -> Option<f64> {
        self.per_minute.first().copied().flatten()
    }
}

/// Samples every service's resident memory at the end of every minute of the load, and again
/// at its end: a table of the minutes tells memory that levels off (a working set filling up)
/// from memory that climbs every minute (a leak), which two samples cannot.
pub struct RssSampler {
    pids: Vec<(String, Option<u32>)>,
    minutes: Arc<Mutex<Vec<Vec<Option<f64>>>>>,
    task: JoinHandle<()>,
}

fn sample(pids: &[(String, Option<u32>)]) -> Vec<Option<f64>> {
    pids.iter()
        .map(|(_, pid)| pid.and_then(procs::rss_mib))
        .collect()
}

impl RssSampler {
    pub fn start(pids: Vec<(String, Option<u32>)>, every: Duration) -> Self {
        let minutes = Arc::new(Mutex::new(Vec::new()));
        let (copy, into) = (pids.clone(), minutes.clone());
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                let row = sample(&copy);
                into.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(row);
            }
        });
        Self {
            pids,
            minutes,
            task,
        }
    }

    /// The rows; a run shorter than a minute has no per-minute figures.
    pub async fn finish(self) -> Vec<RssRow> {
        let end = sample(&self.pids);
        self.task.abort();
        let minutes =
            std::mem::take(&mut *self.minutes.lock().unwrap_or_else(PoisonError::into_inner));
        self.pids
            .into_iter()
            .enumerate()
            .map(|(i, (label, _))| RssRow {
                label,
                per_minute: minutes
                    .iter()
                    .map(|m| m.get(i).copied().flatten())
                    .collect(),
                at_end: end.get(i).copied().flatten(),
            })
            .collect()
    }
}
