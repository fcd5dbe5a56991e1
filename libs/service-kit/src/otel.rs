//! Trace export over OTLP/HTTP (JSON) to Jaeger or any OpenTelemetry collector.
//!
//! Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set: then every `tracing` span (the HTTP request
//! in crate::middleware, the PSP call, the outbox relay's publish, each consumed message) is
//! also an OpenTelemetry span, batched and sent to `{endpoint}/v1/traces` with
//! `service.name` = `OTEL_SERVICE_NAME` (default: the service's name). The ids of those spans are
//! the ones crate::trace propagates in `traceparent` and logs as `trace_id` / `span_id`, so
//! one payment is one trace across services (docs/operations.md, "Traces").
//!
//! The exporter is process-wide (one subscriber per process): [`TraceExport::start`] once,
//! hand it to crate::telemetry, and [`TraceExport::shutdown`] on the way out so the last
//! batch is sent. Tests hosting every service in one process share one export.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::{trace::SdkTracerProvider, Resource};
use tracing::Subscriber;
use tracing_subscriber::{registry::LookupSpan, Layer};

use crate::config::{ConfigError, Env};

/// `OTEL_EXPORTER_OTLP_ENDPOINT` and `OTEL_SERVICE_NAME`, validated with the rest of the
/// configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtelConfig {
    /// The collector's base URL, without the signal path (`http://jaeger:4318`).
    pub endpoint: String,
    pub service_name: String,
}

impl OtelConfig {
    /// `None` when `OTEL_EXPORTER_OTLP_ENDPOINT` is unset or empty: nothing is exported.
    pub fn from_source(env: &dyn Env, service: &str) -> Result<Option<Self>, ConfigError> {
        const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
        let Some(raw) = env.var(ENDPOINT) else {
            return Ok(None);
        };
        let url = url::Url::parse(raw.trim())
            .map_err(|e| ConfigError::new(ENDPOINT, format!("{e} (got {raw:?})")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(ConfigError::new(
                ENDPOINT,
                format!("must be an http(s) URL with a host (got {raw:?})"),
            ));
        }
        Ok(Some(Self {
            endpoint: raw.trim().trim_end_matches('/').to_string(),
            service_name: env
                .var("OTEL_SERVICE_NAME")
                .unwrap_or_else(|| service.to_string()),
        }))
    }

    /// Where spans are POSTed: the base endpoint plus the OTLP traces path, as the OTLP spec
    /// derives it from `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn traces_url(&self) -> String {
        format!("{}/v1/traces", self.endpoint)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot start trace export to {url}: {source}")]
pub struct ExportError {
    url: String,
    #[source]
    source: opentelemetry_otlp::ExporterBuildError,
}

/// The running exporter: a tracer provider with a batch span processor.
#[derive(Clone)]
pub struct TraceExport {
    provider: SdkTracerProvider,
}

impl TraceExport {
    /// Builds the OTLP/HTTP exporter (JSON bodies) and its batch processor. Nothing is sent
    /// until spans end; an unreachable collector costs dropped batches, never a failed request.
    pub fn start(config: &OtelConfig) -> Result<Self, ExportError> {
        // The exporter's reqwest client needs the process's TLS provider (crate's lib.rs).
        crate::install_crypto_provider();
        let url = config.traces_url();
        let exporter = SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpJson)
            .with_endpoint(url.clone())
            .with_timeout(Duration::from_secs(5))
            .build()
            .map_err(|source| ExportError { url, source })?;
        let resource = Resource::builder()
            .with_service_name(config.service_name.clone())
            .build();
        let provider = SdkTracerProvider::builder()
            .with_resource(resource)
            .with_batch_exporter(exporter)
            .build();
        Ok(Self { provider })
    }

    /// The `tracing` layer that turns spans into OpenTelemetry spans of this export.
    pub fn layer<S>(&self) -> impl Layer<S> + 'static
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer("paymsa"))
            // Thread ids and names say nothing on a work-stealing runtime; source locations
            // and busy/idle times are noise next to the span's own fields.
            .with_threads(false)
            .with_location(false)
            .with_tracked_inactivity(false)
    }

    /// Sends every ended span now (blocks: call it outside async code, e.g. in
    /// `spawn_blocking`).
    pub fn flush(&self) {
        if let Err(e) = self.provider.force_flush() {
            tracing::warn!(error = %e, "flushing exported spans failed");
        }
    }

    /// Sends what is left and stops the exporter (blocks, like [`TraceExport::flush`]).
    pub fn shutdown(&self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("trace export did not shut down cleanly: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn export_is_off_without_an_endpoint_and_named_after_the_service_by_default() {
        assert_eq!(
            OtelConfig::from_source(&env(&[]), "order-service").ok(),
            Some(None)
        );
        let on = OtelConfig::from_source(
            &env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://jaeger:4318/")]),
            "order-service",
        )
        .expect("valid")
        .expect("on");
        assert_eq!(on.service_name, "order-service");
        assert_eq!(on.traces_url(), "http://jaeger:4318/v1/traces");
        let named = OtelConfig::from_source(
            &env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://jaeger:4318"),
                ("OTEL_SERVICE_NAME", "orders-eu"),
            ]),
            "order-service",
        )
        .expect("valid")
        .expect("on");
        assert_eq!(named.service_name, "orders-eu");
    }

    #[test]
    fn a_malformed_endpoint_names_the_variable() {
        for bad in ["jaeger:4318", "grpc://jaeger:4317", "not a url"] {
            let err = OtelConfig::from_source(
                &env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", bad)]),
                "order-service",
            )
            .expect_err(bad);
            assert_eq!(err.variable, "OTEL_EXPORTER_OTLP_ENDPOINT", "{bad}");
        }
    }

    /// With the OpenTelemetry layer, `trace::begin` answers the span's own ids: what the log
    /// fields say and what `traceparent` carries is the exported span.
    #[test]
    fn a_unit_of_work_has_the_ids_of_its_exported_span() {
        use opentelemetry::trace::TraceContextExt;
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        use tracing_subscriber::prelude::*;

        use crate::trace::{self, TraceContext};

        const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let unit = |name: &'static str| {
                tracing::info_span!(
                    "unit",
                    name,
                    trace_id = tracing::field::Empty,
                    span_id = tracing::field::Empty
                )
            };
            let span = unit("consume");
            let ctx = trace::begin(&span, Some(PARENT));
            let exported = span.context().span().span_context().clone();
            assert_eq!(TraceContext::of(&exported), Some(ctx));
            assert_eq!(ctx.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
            assert_ne!(ctx.span_id(), "00f067aa0ba902b7");

            // An outgoing call inside it is its child; a unit without a parent a new trace.
            let call = unit("psp");
            let called = trace::sync_scope(ctx, || trace::begin_child(&call));
            assert_eq!(called.trace_id(), ctx.trace_id());
            let call_cx = call.context();
            assert_eq!(
                TraceContext::of(call_cx.span().span_context()),
                Some(called)
            );
            let fresh = trace::begin(&unit("http"), Some("garbage"));
            assert_ne!(fresh.trace_id(), ctx.trace_id());
        });
    }
}
