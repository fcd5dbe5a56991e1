//! How a [`super::GroupCommit`]'s lanes form their groups: what is queued, and with a linger
//! what arrives shortly after the first.

use std::time::Duration;

use service_kit::Shutdown;
use tokio::{sync::mpsc, time::Instant};

use super::Job;

/// How a [`super::GroupCommit`] groups: `lanes` workers, each committing up to `max_group` deliveries
/// at once, waiting up to `linger` after a group's first delivery for the rest of it.
#[derive(Debug, Clone, Copy)]
pub struct Lanes {
    /// 0: no workers, every delivery commits alone in the consumer's own task.
    pub lanes: usize,
    pub max_group: usize,
    /// `GROUP_COMMIT_LINGER_MS` ([`crate::ServiceRuntime::lanes`]); zero: never waits.
    pub linger: Duration,
}

impl Lanes {
    /// `lanes` workers taking what is queued, without waiting for more.
    pub fn new(lanes: usize, max_group: usize) -> Self {
        Self {
            lanes,
            max_group,
            linger: Duration::ZERO,
        }
    }
}

/// A group: `first`, what else is queued, and with `linger` what arrives that long after it,
/// up to `max_group` deliveries. The lane holds the queue meanwhile, so the other lanes wait
/// for the next group rather than splitting this one.
pub(super) async fn fill(
    queue: &mut mpsc::Receiver<Job>,
    first: Job,
    max_group: usize,
    linger: Option<Duration>,
    stop: &Shutdown,
) -> Vec<Job> {
    let deadline = linger.map(|linger| Instant::now() + linger);
    let mut group = vec![first];
    while group.len() < max_group {
        let job = match (queue.try_recv(), deadline) {
            (Ok(job), _) => job,
            (Err(_), None) => break,
            // A shutdown ends the wait: the group goes as it is.
            (Err(_), Some(deadline)) => tokio::select! {
                job = tokio::time::timeout_at(deadline, queue.recv()) => match job {
                    Ok(Some(job)) => job,
                    _ => break,
                },
                _ = stop.triggered() => break,
            },
        };
        group.push(job);
    }
    group
}
