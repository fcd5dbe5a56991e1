//! Clock faults and sequence exhaustion, driven by a clock the test steps by hand.

use std::thread;
use std::time::{Duration, Instant};

use snowflake::{
    decode, ManualClock, Snowflake, SnowflakeError, DEFAULT_BACKWARDS_TOLERANCE_MS, EPOCH_UNIX_MS,
    MAX_NODE_ID, MAX_SEQUENCE, MAX_TIMESTAMP_MS,
};

/// An arbitrary instant well after the epoch, so tests can step back from it.
const T: u64 = EPOCH_UNIX_MS + 1_000_000;
/// Long enough that a call which did not block cannot be mistaken for one that did.
const DELAY: Duration = Duration::from_millis(150);

fn generator(clock: &ManualClock) -> Snowflake<ManualClock> {
    Snowflake::with_clock(5, clock.clone()).expect("valid node id")
}

/// Runs `step` on another thread after `DELAY`, returning when the caller may start timing.
fn after_delay(step: impl FnOnce() + Send + 'static) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        thread::sleep(DELAY);
        step();
    })
}

fn assert_blocked_for_delay(started: Instant) {
    let waited = started.elapsed();
    assert!(
        waited >= DELAY - Duration::from_millis(20),
        "returned after {waited:?}, before the clock was moved"
    );
}

#[test]
fn ids_in_one_millisecond_count_the_sequence_up() {
    let clock = ManualClock::new(T);
    let ids = generator(&clock);
    for expected in 0..=2 {
        let parts = decode(ids.next_id().expect("clock is sane")).expect("positive id");
        assert_eq!(
            (parts.unix_ms, parts.node_id, parts.sequence),
            (T, 5, expected)
        );
    }
    clock.advance(1);
    let parts = decode(ids.next_id().expect("clock is sane")).expect("positive id");
    assert_eq!(
        (parts.unix_ms, parts.sequence),
        (T + 1, 0),
        "new ms restarts the sequence"
    );
}

#[test]
fn sequence_overflow_waits_for_the_next_millisecond() {
    let clock = ManualClock::new(T);
    let ids = generator(&clock);
    for expected in 0..=MAX_SEQUENCE {
        let parts = decode(ids.next_id().expect("clock is sane")).expect("positive id");
        assert_eq!((parts.unix_ms, parts.sequence), (T, expected));
    }

    let started = Instant::now();
    let advancer = after_delay({
        let clock = clock.clone();
        move || clock.advance(1)
    });
    let id = ids.next_id().expect("clock is sane");
    assert_blocked_for_delay(started);
    advancer.join().expect("advancer panicked");

    let parts = decode(id).expect("positive id");
    assert_eq!((parts.unix_ms, parts.sequence), (T + 1, 0));
}

#[test]
fn small_backwards_step_waits_until_the_clock_passes_the_last_id() {
    let clock = ManualClock::new(T);
    let ids = generator(&clock);
    let before = ids.next_id().expect("clock is sane");

    clock.rewind(DEFAULT_BACKWARDS_TOLERANCE_MS); // the boundary still waits
    let started = Instant::now();
    let restorer = after_delay({
        let clock = clock.clone();
        move || clock.set(T + 1)
    });
    let id = ids
        .next_id()
        .expect("a step within the tolerance is waited out");
    assert_blocked_for_delay(started);
    restorer.join().expect("restorer panicked");

    assert!(id > before);
    assert_eq!(decode(id).expect("positive id").unix_ms, T + 1);
}

#[test]
fn clock_returning_to_the_last_millisecond_continues_its_sequence() {
    let clock = ManualClock::new(T);
    let ids = generator(&clock);
    let before = ids.next_id().expect("clock is sane");

    clock.rewind(3);
    let restorer = after_delay({
        let clock = clock.clone();
        move || clock.set(T)
    });
    let parts = decode(ids.next_id().expect("small step")).expect("positive id");
    restorer.join().expect("restorer panicked");

    assert_eq!((parts.unix_ms, parts.sequence), (T, 1));
    assert!(parts.sequence > decode(before).expect("positive id").sequence);
}

#[test]
fn large_backwards_step_is_an_error_until_the_clock_recovers() {
    let clock = ManualClock::new(T);
    let ids = generator(&clock);
    let before = ids.next_id().expect("clock is sane");

    clock.rewind(DEFAULT_BACKWARDS_TOLERANCE_MS + 1);
    let by_ms = DEFAULT_BACKWARDS_TOLERANCE_MS + 1;
    assert_eq!(
        ids.next_id(),
        Err(SnowflakeError::ClockMovedBackwards { by_ms })
    );
    assert_eq!(
        ids.next_id(),
        Err(SnowflakeError::ClockMovedBackwards { by_ms }),
        "the error persists rather than issuing an id that may repeat"
    );

    clock.set(T + 1);
    let after = ids.next_id().expect("clock recovered");
    assert!(after > before);
}

#[test]
fn backwards_step_growing_during_the_wait_becomes_an_error() {
    let clock = ManualClock::new(T);
    let ids = generator(&clock);
    ids.next_id().expect("clock is sane");

    clock.rewind(10);
    let stepper = after_delay({
        let clock = clock.clone();
        move || clock.rewind(100)
    });
    let result = ids.next_id();
    stepper.join().expect("stepper panicked");
    assert_eq!(
        result,
        Err(SnowflakeError::ClockMovedBackwards { by_ms: 110 })
    );
}

#[test]
fn tolerance_is_configurable() {
    let clock = ManualClock::new(T);
    let ids = generator(&clock).with_backwards_tolerance_ms(0);
    assert_eq!(ids.backwards_tolerance_ms(), 0);
    ids.next_id().expect("clock is sane");
    clock.rewind(1);
    assert_eq!(
        ids.next_id(),
        Err(SnowflakeError::ClockMovedBackwards { by_ms: 1 })
    );
}

#[test]
fn invalid_node_id_is_rejected() {
    for node_id in [MAX_NODE_ID + 1, u16::MAX] {
        assert_eq!(
            Snowflake::new(node_id).map(|_| ()),
            Err(SnowflakeError::InvalidNodeId { node_id })
        );
    }
    for node_id in [0, MAX_NODE_ID] {
        let ids = Snowflake::new(node_id).expect("in range");
        assert_eq!(ids.node_id(), node_id);
        let parts = decode(ids.next_id().expect("clock is sane")).expect("positive id");
        assert_eq!(parts.node_id, node_id);
    }
}

#[test]
fn timestamp_range_is_the_41_bit_window_after_the_epoch() {
    let clock = ManualClock::new(EPOCH_UNIX_MS - 1);
    let ids = Snowflake::with_clock(MAX_NODE_ID, clock.clone()).expect("valid node id");
    assert_eq!(
        ids.next_id(),
        Err(SnowflakeError::ClockBeforeEpoch {
            unix_ms: EPOCH_UNIX_MS - 1
        })
    );

    clock.set(EPOCH_UNIX_MS);
    let first = ids.next_id().expect("the epoch itself is valid");
    assert_eq!(decode(first).expect("positive id").since_epoch_ms, 0);

    clock.set(EPOCH_UNIX_MS + MAX_TIMESTAMP_MS);
    let last = ids.next_id().expect("the last millisecond is valid");
    assert!(last > 0, "the sign bit stays clear");
    let parts = decode(last).expect("positive id");
    assert_eq!(
        (parts.since_epoch_ms, parts.node_id),
        (MAX_TIMESTAMP_MS, MAX_NODE_ID)
    );

    clock.advance(1);
    assert_eq!(
        ids.next_id(),
        Err(SnowflakeError::TimestampOverflow {
            since_epoch_ms: MAX_TIMESTAMP_MS + 1
        })
    );
}
