//! Properties of the generator on the real clock, under real thread contention.

use std::sync::Arc;
use std::thread;

use snowflake::{decode, Clock, Snowflake, SystemClock, EPOCH_UNIX_MS};

const THREADS: usize = 8;
const IDS_PER_THREAD: usize = 1_000_000;

#[test]
fn generator_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Snowflake>();
    assert_send_sync::<Arc<Snowflake>>();
}

#[test]
fn ids_are_unique_across_8_threads_of_1m_each() {
    let generator = Arc::new(Snowflake::new(42).expect("valid node id"));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let generator = Arc::clone(&generator);
            thread::spawn(move || {
                let mut ids = Vec::with_capacity(IDS_PER_THREAD);
                for _ in 0..IDS_PER_THREAD {
                    ids.push(generator.next_id().expect("clock is sane"));
                }
                ids
            })
        })
        .collect();

    let mut all = Vec::with_capacity(THREADS * IDS_PER_THREAD);
    for worker in workers {
        let ids = worker.join().expect("worker panicked");
        // Each thread sees the shared generator's ids in increasing order too.
        assert!(
            ids.windows(2).all(|pair| pair[0] < pair[1]),
            "a thread saw a non-increasing id"
        );
        all.extend_from_slice(&ids);
    }
    assert_eq!(all.len(), THREADS * IDS_PER_THREAD);
    assert!(all.iter().all(|&id| id > 0), "ids must be positive");

    all.sort_unstable();
    let issued = all.len();
    all.dedup();
    assert_eq!(all.len(), issued, "{} duplicate ids", issued - all.len());

    let first = decode(all[0]).expect("positive id");
    let last = decode(all[all.len() - 1]).expect("positive id");
    assert_eq!((first.node_id, last.node_id), (42, 42));
    // 8M ids at no more than 4,096 per ms need at least 1,953 distinct milliseconds; fewer
    // would mean the sequence wrapped into a reused slot.
    assert!(
        last.since_epoch_ms - first.since_epoch_ms >= 1_953,
        "8M ids spanned only {} ms",
        last.since_epoch_ms - first.since_epoch_ms
    );
}

#[test]
fn ids_strictly_increase_on_one_thread() {
    let generator = Snowflake::new(3).expect("valid node id");
    let mut previous = generator.next_id().expect("clock is sane");
    for _ in 0..1_000_000 {
        let id = generator.next_id().expect("clock is sane");
        assert!(id > previous, "{id} after {previous}");
        previous = id;
    }
}

#[test]
fn decode_round_trips_node_and_timestamp() {
    let generator = Snowflake::new(1023).expect("valid node id");
    for _ in 0..10_000 {
        let before = SystemClock.now_unix_ms();
        let id = generator.next_id().expect("clock is sane");
        let after = SystemClock.now_unix_ms();

        let parts = decode(id).expect("positive id");
        assert_eq!(parts.node_id, 1023);
        assert!(
            (before..=after).contains(&parts.unix_ms),
            "timestamp {} outside the clock readings {before}..={after}",
            parts.unix_ms
        );
        assert_eq!(parts.unix_ms, parts.since_epoch_ms + EPOCH_UNIX_MS);
        assert!(parts.sequence <= snowflake::MAX_SEQUENCE);
    }
}
