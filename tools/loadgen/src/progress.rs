//! A progress bar on stderr: redrawn in place on a terminal, a line every few seconds in CI
//! logs.

use std::{
    io::{IsTerminal, Write},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use tokio::task::JoinHandle;

/// Counters the workers bump; the bar reads them.
#[derive(Default)]
pub struct Counters {
    pub paid: AtomicU64,
    pub pending: AtomicU64,
    pub declined: AtomicU64,
    pub other: AtomicU64,
    pub errors: AtomicU64,
}

impl Counters {
    /// Counts a payment by how its confirm ended (`Err`: the client gave up).
    pub fn count(&self, outcome: Result<&crate::workload::Outcome, ()>) {
        use crate::workload::Outcome;
        let counter = match outcome {
            Ok(Outcome::Paid) => &self.paid,
            Ok(Outcome::Pending) => &self.pending,
            Ok(Outcome::Declined(_)) => &self.declined,
            Ok(Outcome::Refused(..)) => &self.other,
            Err(()) => &self.errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn done(&self) -> u64 {
        self.paid.load(Ordering::Relaxed)
            + self.pending.load(Ordering::Relaxed)
            + self.declined.load(Ordering::Relaxed)
            + self.other.load(Ordering::Relaxed)
            + self.errors.load(Ordering::Relaxed)
    }
}

/// What the bar measures progress against.
#[derive(Clone, Copy)]
pub enum Goal {
    Duration(Duration),
    Payments(u64),
}

pub struct Progress {
    task: JoinHandle<()>,
}

impl Progress {
    pub fn start(label: &'static str, goal: Goal, counters: Arc<Counters>) -> Self {
        let tty = std::io::stderr().is_terminal();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let mut last_line = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let elapsed = started.elapsed();
                let done = counters.done();
                let fraction = match goal {
                    Goal::Duration(d) => elapsed.as_secs_f64() / d.as_secs_f64(),
                    Goal::Payments(n) => done as f64 / n.max(1) as f64,
                }
                .min(1.0);
                let paid = counters.paid.load(Ordering::Relaxed);
                let line = format!(
                    "{label} [{}{}] {:>3.0}% {done} payments ({paid} paid, {} pending, {} declined, {} errors) {:.0}/s, {:.0}s",
                    "#".repeat((fraction * 30.0) as usize),
                    "-".repeat(30 - (fraction * 30.0) as usize),
                    fraction * 100.0,
                    counters.pending.load(Ordering::Relaxed),
                    counters.declined.load(Ordering::Relaxed),
                    counters.errors.load(Ordering::Relaxed),
                    done as f64 / elapsed.as_secs_f64().max(0.001),
                    elapsed.as_secs_f64(),
                );
                if tty {
                    eprint!("\r{line}\x1b[K");
                    let _ = std::io::stderr().flush();
                } else if last_line.elapsed() >= Duration::from_secs(5) {
                    eprintln!("{line}");
                    last_line = Instant::now();
                }
            }
        });
        Self { task }
    }

    pub fn finish(self) {
        self.task.abort();
        if std::io::stderr().is_terminal() {
            eprintln!();
        }
    }
}
