//! Polling the eventual steps (a saga, a settlement, a projection, the ranking): a check every
//! 0.25 s until it holds or the time is up. A check that fails (an answer it cannot read, a
//! payout that FAILED) stops the wait at once: waiting longer cannot help.

use std::{future::Future, time::Duration};

use anyhow::bail;
use tokio::time::Instant;

/// What a check saw: done (with what it found), or not yet (and what it saw instead, for the
/// message when the time runs out).
pub enum Poll<T> {
    Done(T),
    NotYet(String),
}

const EVERY: Duration = Duration::from_millis(250);

/// Runs `check` until it is done; its value and how long that took. On timeout:
/// "WHAT: not within N s (last seen: …)".
pub async fn until<T, F, Fut>(
    timeout_s: u64,
    what: &str,
    mut check: F,
) -> anyhow::Result<(T, Duration)>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Poll<T>>>,
{
    let started = Instant::now();
    loop {
        let last = match check().await? {
            Poll::Done(value) => return Ok((value, started.elapsed())),
            Poll::NotYet(last) => last,
        };
        if started.elapsed() > Duration::from_secs(timeout_s) {
            if last.is_empty() {
                bail!("{what}: not within {timeout_s} s");
            }
            bail!("{what}: not within {timeout_s} s (last seen: {last})");
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// `Done(())` when `holds`, else not yet with `seen`.
pub fn when(holds: bool, seen: String) -> Poll<()> {
    if holds {
        Poll::Done(())
    } else {
        Poll::NotYet(seen)
    }
}
