//! A consumer's settings as the runner uses them, and the retry policy derived from them.

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};

/// A consumer as the runner sees it: names already namespaced, filters fully qualified.
#[derive(Debug, Clone)]
pub(crate) struct RunnerConfig {
    /// The service running the consumer (a field of every delivery's span).
    pub service: String,
    pub stream: String,
    pub durable: String,
    pub description: String,
    pub filters: Vec<String>,
    /// `-1` for unlimited deliveries (the dead-letter worker).
    pub max_deliver: i64,
    pub retry_delays: Vec<Duration>,
    pub ack_wait: Duration,
    pub handler_timeout: Duration,
    pub batch: usize,
    pub concurrency: usize,
}

impl RunnerConfig {
    pub(super) fn consumer_config(&self) -> pull::Config {
        pull::Config {
            durable_name: Some(self.durable.clone()),
            description: Some(self.description.clone()),
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.ack_wait,
            max_deliver: self.max_deliver,
            filter_subjects: self.filters.clone(),
            // Deliberately no `backoff`: see the module documentation.
            ..Default::default()
        }
    }

    /// The NAK delay after a failed delivery number `delivered` (1-based); `None` on the last
    /// delivery so the server gives up (and advises) at once.
    pub fn retry_delay(&self, delivered: u64) -> Option<Duration> {
        if self.is_last_delivery(delivered) {
            return None;
        }
        let index = usize::try_from(delivered.saturating_sub(1)).unwrap_or(usize::MAX);
        self.retry_delays
            .get(index)
            .or(self.retry_delays.last())
            .copied()
    }

    pub fn is_last_delivery(&self, delivered: u64) -> bool {
        u64::try_from(self.max_deliver).is_ok_and(|max| max > 0 && delivered >= max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(max_deliver: i64) -> RunnerConfig {
        RunnerConfig {
            service: "svc".into(),
            stream: "S".into(),
            durable: "d".into(),
            description: String::new(),
            filters: vec![],
            max_deliver,
            retry_delays: vec![Duration::from_secs(1), Duration::from_secs(2)],
            ack_wait: Duration::from_secs(30),
            handler_timeout: Duration::from_secs(120),
            batch: 1,
            concurrency: 1,
        }
    }

    #[test]
    fn delays_follow_the_delivery_count_and_the_last_delivery_has_none() {
        let c = cfg(3);
        assert_eq!(c.retry_delay(1), Some(Duration::from_secs(1)));
        assert_eq!(c.retry_delay(2), Some(Duration::from_secs(2)));
        assert_eq!(c.retry_delay(3), None);
        assert_eq!(c.retry_delay(4), None);
    }

    #[test]
    fn unlimited_deliveries_keep_the_longest_delay() {
        let c = cfg(-1);
        assert!(!c.is_last_delivery(1000));
        assert_eq!(c.retry_delay(10), Some(Duration::from_secs(2)));
    }
}
