//! Prometheus metrics: one registry per running service (not a process-global one), so several
//! services hosted in one test process keep separate figures.

use std::sync::Arc;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    service: Arc<str>,
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    job_passes: IntGaugeVec,
}

impl Metrics {
    pub fn new(service: &str) -> Self {
        let labels = [("service".to_string(), service.to_string())]
            .into_iter()
            .collect();
        let registry = Registry::new_custom(Some("paymsa".into()), Some(labels))
            .unwrap_or_else(|_| Registry::new());
        let http_requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by operation and status",
            ),
            &["operation", "method", "status"],
        )
        .expect("static metric definition");
        let http_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ],
            ),
            &["operation"],
        )
        .expect("static metric definition");
        let job_passes = IntGaugeVec::new(
            Opts::new(
                "job_last_pass_timestamp_seconds",
                "When a background job last finished a pass (its start until the first)",
            ),
            // Not `job`: Prometheus's scrape job owns that label.
            &["task"],
        )
        .expect("static metric definition");
        let metrics = Self {
            service: service.into(),
            registry,
            http_requests,
            http_duration,
            job_passes,
        };
        metrics.register(metrics.http_requests.clone());
        metrics.register(metrics.http_duration.clone());
        metrics.register(metrics.job_passes.clone());
        metrics
    }

    /// The service these figures belong to (their `service` label); consumers and the HTTP
    /// middleware also put it on their spans.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Registers a collector; a name registered twice is logged, not fatal.
    pub fn register<C: prometheus::core::Collector + 'static>(&self, collector: C) {
        if let Err(e) = self.registry.register(Box::new(collector)) {
            tracing::warn!(error = %e, "metric registration failed");
        }
    }

    pub fn gauge(&self, name: &str, help: &str) -> IntGauge {
        let gauge = IntGauge::new(name, help).expect("valid metric name");
        self.register(gauge.clone());
        gauge
    }

    pub fn counter(&self, name: &str, help: &str) -> prometheus::IntCounter {
        let counter = prometheus::IntCounter::new(name, help).expect("valid metric name");
        self.register(counter.clone());
        counter
    }

    /// A latency histogram with the HTTP histogram's buckets (1 ms … 5 s, plus 10 s and 30 s
    /// for calls that can run into a peer's timeout).
    pub fn histogram_vec(&self, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
        let buckets = vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ];
        let histogram = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
            .expect("valid metric name");
        self.register(histogram.clone());
        histogram
    }

    pub fn counter_vec(&self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        let counter = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric name");
        self.register(counter.clone());
        counter
    }

    /// The heartbeat of background job `job`, set to now: a job that never finishes a pass
    /// is seen stalled from its start.
    pub fn job_passes(&self, job: &str) -> JobPasses {
        let passes = JobPasses(self.job_passes.with_label_values(&[job]));
        passes.passed();
        passes
    }

    pub(crate) fn observe_request(&self, operation: &str, method: &str, status: u16, secs: f64) {
        self.http_requests
            .with_label_values(&[operation, method, &status.to_string()])
            .inc();
        self.http_duration
            .with_label_values(&[operation])
            .observe(secs);
    }

    /// The text exposition format served at `/metrics`.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let encoder = TextEncoder::new();
        if let Err(e) = encoder.encode(&self.registry.gather(), &mut buf) {
            tracing::warn!(error = %e, "metric encoding failed");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// When a background job last finished a pass (`paymsa_job_last_pass_timestamp_seconds{task}`).
/// The gauges a job sets from its own pass (unresolved payments, cancels, payouts) freeze,
/// often at 0, when the job stops or its reads fail; the alert `PaymsaJobStalled`
/// (deploy/prometheus/rules.yml) watches this instead.
#[derive(Clone, Debug)]
pub struct JobPasses(IntGauge);

impl JobPasses {
    /// A pass finished: every step of it ran, whatever it found to do.
    pub fn passed(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.0.set(i64::try_from(now).unwrap_or(i64::MAX));
    }
}
