//! Throughput of `Snowflake::next_id`, printed as ids per second.
//!
//! On the system clock the layout caps a node at 4,096 ids per ms, so the first two figures
//! show how close the generator gets to that cap. The last four lift the cap (a clock whose
//! "milliseconds" are microseconds) to expose the generator's own cost per id, and compare
//! the lock-free generator with the same algorithm behind a `Mutex`.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use snowflake::{
    Clock, Snowflake, SnowflakeError, EPOCH_UNIX_MS, IDS_PER_SECOND_LIMIT, MAX_SEQUENCE,
    NODE_ID_BITS, SEQUENCE_BITS,
};

const CAPPED_RUN: Duration = Duration::from_secs(2);
const UNCAPPED_RUN: Duration = Duration::from_secs(1);

/// Real wall time, but each microsecond is reported as a millisecond: the per-"ms" sequence
/// then never runs out, while a clock reading still costs what a real one does.
struct MicrosAsMillisClock {
    base_micros: u128,
}

impl MicrosAsMillisClock {
    fn new() -> Self {
        Self {
            base_micros: unix_micros(),
        }
    }
}

impl Clock for MicrosAsMillisClock {
    fn now_unix_ms(&self) -> u64 {
        let elapsed = unix_micros().saturating_sub(self.base_micros);
        EPOCH_UNIX_MS + u64::try_from(elapsed).unwrap_or(u64::MAX)
    }
}

fn unix_micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_micros())
}

/// The same algorithm as `Snowflake`, with the state behind a lock, for comparison only.
struct MutexSnowflake<C> {
    state: Mutex<(u64, u64)>,
    node_bits: u64,
    clock: C,
}

impl<C: Clock> MutexSnowflake<C> {
    fn new(node_id: u16, clock: C) -> Self {
        Self {
            state: Mutex::new((0, 0)),
            node_bits: u64::from(node_id) << SEQUENCE_BITS,
            clock,
        }
    }

    fn next_id(&self) -> Result<i64, SnowflakeError> {
        loop {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let now = self.clock.now_unix_ms() - EPOCH_UNIX_MS;
            if now > state.0 {
                *state = (now, 0);
            } else if now == state.0 && state.1 < u64::from(MAX_SEQUENCE) {
                state.1 += 1;
            } else if state.0 - now > 50 {
                return Err(SnowflakeError::ClockMovedBackwards {
                    by_ms: state.0 - now,
                });
            } else {
                drop(state);
                thread::yield_now();
                continue;
            }
            let id = (state.0 << (SEQUENCE_BITS + NODE_ID_BITS)) | self.node_bits | state.1;
            return Ok(id as i64);
        }
    }
}

/// Calls `next_id` from `threads` threads for `run`, returning ids per second overall.
fn measure<F>(threads: usize, run: Duration, next_id: F) -> f64
where
    F: Fn() -> Result<i64, SnowflakeError> + Send + Sync + 'static,
{
    let next_id = Arc::new(next_id);
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (next_id, stop, start) = (next_id.clone(), stop.clone(), start.clone());
            thread::spawn(move || {
                let mut count = 0u64;
                start.wait();
                while !stop.load(Ordering::Relaxed) {
                    // Check the flag only every 1,024 ids so the loop measures `next_id`.
                    for _ in 0..1024 {
                        black_box(next_id().expect("clock is sane"));
                    }
                    count += 1024;
                }
                count
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    thread::sleep(run);
    stop.store(true, Ordering::Relaxed);
    let total: u64 = workers
        .into_iter()
        .map(|worker| worker.join().expect("worker panicked"))
        .sum();
    total as f64 / began.elapsed().as_secs_f64()
}

fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value);
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn threads_label(threads: usize) -> String {
    if threads == 1 {
        "1 thread".to_owned()
    } else {
        format!("{threads} threads")
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not and only wants a smoke run.
    let full = std::env::args().any(|arg| arg == "--bench");
    let (capped_run, uncapped_run) = if full {
        (CAPPED_RUN, UNCAPPED_RUN)
    } else {
        (Duration::from_millis(50), Duration::from_millis(50))
    };
    let limit = IDS_PER_SECOND_LIMIT as f64;

    for threads in [1, 8] {
        let ids = Snowflake::new(1).expect("valid node id");
        let rate = measure(threads, capped_run, move || ids.next_id());
        println!(
            "snowflake: {} ids/s on {} = {:.2} of the layout limit {}/s",
            thousands(rate),
            threads_label(threads),
            rate / limit,
            thousands(limit)
        );
    }

    println!("without the layout limit (clock reports microseconds as milliseconds):");
    for threads in [1, 8] {
        let atomic = Snowflake::with_clock(1, MicrosAsMillisClock::new()).expect("valid node id");
        let atomic_rate = measure(threads, uncapped_run, move || atomic.next_id());
        let mutex = MutexSnowflake::new(1, MicrosAsMillisClock::new());
        let mutex_rate = measure(threads, uncapped_run, move || mutex.next_id());
        println!(
            "  {:<10} AtomicU64 + CAS: {:>12} ids/s ({:>5.1} ns/id)   Mutex: {:>12} ids/s ({:>5.1} ns/id)",
            threads_label(threads),
            thousands(atomic_rate),
            1e9 / atomic_rate,
            thousands(mutex_rate),
            1e9 / mutex_rate
        );
    }
}
