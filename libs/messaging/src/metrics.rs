//! Consumer metrics on the service's own registry.
//!
//! One service runs several consumers, and each registers its counters. A registry refuses
//! the same metric twice unless the const labels differ, so the consumer's name is a const
//! label here: every consumer registers its own series of the shared metric families.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts};
use service_kit::Metrics;

#[derive(Clone)]
pub(crate) struct ConsumerMetrics {
    outcomes: IntCounterVec,
    pub redeliveries: IntCounter,
    pub handle_seconds: Histogram,
}

impl ConsumerMetrics {
    pub fn new(metrics: &Metrics, consumer: &str) -> Self {
        let outcomes = IntCounterVec::new(
            Opts::new(
                "consumer_messages_total",
                "Messages handled by a consumer, by outcome (ack, retry, term)",
            )
            .const_label("consumer", consumer),
            &["outcome"],
        )
        .expect("static metric definition");
        let redeliveries = IntCounter::with_opts(
            Opts::new(
                "consumer_redeliveries_total",
                "Deliveries of a message seen before (retries and ack-wait expiries)",
            )
            .const_label("consumer", consumer),
        )
        .expect("static metric definition");
        let handle_seconds = Histogram::with_opts(
            HistogramOpts::new("consumer_handle_seconds", "Handler latency")
                .const_label("consumer", consumer)
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
                ]),
        )
        .expect("static metric definition");
        metrics.register(outcomes.clone());
        metrics.register(redeliveries.clone());
        metrics.register(handle_seconds.clone());
        // Pre-create the three series so dashboards see zeros rather than gaps.
        for outcome in ["ack", "retry", "term"] {
            outcomes.with_label_values(&[outcome]);
        }
        Self {
            outcomes,
            redeliveries,
            handle_seconds,
        }
    }

    pub fn outcome(&self, outcome: &str) {
        self.outcomes.with_label_values(&[outcome]).inc();
    }
}
