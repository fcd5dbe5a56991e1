//! Consumer metrics on the service's own registry.
//!
//! One service runs several consumers, and each registers its counters. A registry refuses
//! the same metric twice unless the const labels differ, so the consumer's name is a const
//! label here: every consumer registers its own series of the shared metric families.

use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts};
use service_kit::Metrics;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub(crate) struct ConsumerMetrics {
    outcomes: IntCounterVec,
    /// Dead-letter replays run through this consumer's handler (`replay.rs`), by outcome.
    replays: IntCounterVec,
    pub redeliveries: IntCounter,
    pub handle_seconds: Histogram,
    /// Messages on the stream matching the filter not yet delivered (the consumer's lag).
    pub pending: IntGauge,
    /// Messages delivered and not yet acknowledged (in flight or waiting for redelivery).
    pub ack_pending: IntGauge,
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
        let replays = IntCounterVec::new(
            Opts::new(
                "consumer_replays_total",
                "Dead letters replayed through a consumer's handler, by outcome \
                 (applied, duplicate, failed)",
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
        let gauge = |name: &str, help: &str| {
            IntGauge::with_opts(Opts::new(name, help).const_label("consumer", consumer))
                .expect("static metric definition")
        };
        let pending = gauge(
            "consumer_pending_messages",
            "Messages matching the consumer's filter not yet delivered (num_pending)",
        );
        let ack_pending = gauge(
            "consumer_ack_pending_messages",
            "Messages delivered but not yet acknowledged (num_ack_pending)",
        );
        metrics.register(outcomes.clone());
        metrics.register(replays.clone());
        metrics.register(redeliveries.clone());
        metrics.register(handle_seconds.clone());
        metrics.register(pending.clone());
        metrics.register(ack_pending.clone());
        // Pre-create the three series so dashboards see zeros rather than gaps.
        for outcome in ["ack", "retry", "term"] {
            outcomes.with_label_values(&[outcome]);
        }
        for outcome in ["applied", "duplicate", "failed"] {
            replays.with_label_values(&[outcome]);
        }
        Self {
            outcomes,
            replays,
            redeliveries,
            handle_seconds,
            pending,
            ack_pending,
        }
    }

    pub fn outcome(&self, outcome: &str) {
        self.outcomes.with_label_values(&[outcome]).inc();
    }

    pub fn replay(&self, outcome: &str) {
        self.replays.with_label_values(&[outcome]).inc();
    }
}

/// Refreshes the pending gauges from the server's consumer info every `interval` until `stop`.
/// While NATS is unreachable the gauges keep their last value.
pub(crate) async fn poll_consumer_info(
    consumer: PullConsumer,
    metrics: ConsumerMetrics,
    interval: Duration,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(10)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let info = tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => tokio::select! {
                _ = stop.cancelled() => return,
                info = consumer.get_info() => info,
            },
        };
        match info {
            Ok(info) => {
                metrics
                    .pending
                    .set(i64::try_from(info.num_pending).unwrap_or(i64::MAX));
                metrics
                    .ack_pending
                    .set(i64::try_from(info.num_ack_pending).unwrap_or(i64::MAX));
            }
            Err(e) => tracing::debug!(error = %e, "consumer info unavailable; pending gauges kept"),
        }
    }
}
