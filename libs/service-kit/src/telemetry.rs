//! One place that sets up tracing: readable lines for people, JSON lines for log shippers.
//!
//! Every request and every consumed message runs in a span with `service`, `trace_id` and
//! `span_id` fields (see [`crate::trace`]). The pretty format shows them in each line's span
//! context; the JSON format (`LOG_FORMAT=json`) writes one object per line and lifts the
//! innermost `trace_id` to a top-level field, so a log shipper can join one payment's lines
//! across services without looking into the span list.
//!
//! With span export on (crate::otel) the same spans also go to the OTLP collector, through a
//! layer beside the log layer.

use tracing::{Event, Subscriber};
use tracing_subscriber::{
    field::Visit,
    fmt::{
        self,
        format::{Json, JsonFields, Writer},
        FmtContext, FormatEvent, FormattedFields, MakeWriter,
    },
    prelude::*,
    registry::LookupSpan,
    EnvFilter, Layer,
};

use crate::{config::LogFormat, otel::TraceExport};

/// Installs the global subscriber. A second call (several services hosted in one test process)
/// is a no-op rather than a panic.
pub fn init_tracing(format: LogFormat) {
    init_tracing_with(Some(format), None);
}

/// Installs the global subscriber: logs in `format` (none: no log lines), and spans exported
/// through `export` when given. `RUST_LOG` (default `info`) filters both. Like
/// [`init_tracing`], only the first call of a process counts.
pub fn init_tracing_with(format: Option<LogFormat>, export: Option<&TraceExport>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (pretty, json) = match format {
        Some(LogFormat::Pretty) => (Some(fmt::layer().with_target(false)), None),
        Some(LogFormat::Json) => (None, Some(json_layer(std::io::stdout))),
        None => (None, None),
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(export.map(TraceExport::layer))
        .with(pretty)
        .with(json)
        .try_init();
}

/// For tests: logs only when `TEST_LOG` is set, so a failing test can be rerun with output.
pub fn init_test_tracing() {
    if std::env::var_os("TEST_LOG").is_some() {
        init_tracing(LogFormat::Pretty);
    }
}

/// For tests that export spans (to a receiver of their own): `export` always, log lines only
/// when `TEST_LOG` is set. Call it before any service starts: callsites remember the first
/// subscriber's interest.
pub fn init_test_tracing_with(export: &TraceExport) {
    let logs = std::env::var_os("TEST_LOG").map(|_| LogFormat::Pretty);
    init_tracing_with(logs, Some(export));
}

/// The `LOG_FORMAT=json` layer writing to `make_writer`: one JSON object per line, event fields
/// flattened to the top level, the current span and the span list included, and `trace_id`
/// (from the innermost span that has one, else from the task's trace context) at the top.
pub fn json_layer<S, W>(make_writer: W) -> impl Layer<S> + Send + Sync + 'static
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    fmt::layer()
        .json()
        .event_format(JsonWithTraceId {
            inner: fmt::format()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(true),
        })
        .with_writer(make_writer)
}

/// Wraps tracing-subscriber's JSON format, adding a top-level `trace_id`.
struct JsonWithTraceId {
    inner: fmt::format::Format<Json>,
}

impl<S> FormatEvent<S, JsonFields> for JsonWithTraceId
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        let trace_id = if has_field(event, "trace_id") {
            None
        } else {
            span_trace_id(ctx).or_else(|| crate::trace::current().map(|c| c.trace_id()))
        };
        match (trace_id, line.strip_prefix('{')) {
            // The line is one JSON object; the id (hex digits only) needs no escaping.
            (Some(id), Some(rest)) => {
                let sep = if rest.trim_start().starts_with('}') {
                    ""
                } else {
                    ","
                };
                write!(writer, "{{\"trace_id\":\"{id}\"{sep}{rest}")
            }
            _ => writer.write_str(&line),
        }
    }
}

/// The `trace_id` of the innermost span of the event's scope that records one.
fn span_trace_id<S>(ctx: &FmtContext<'_, S, JsonFields>) -> Option<String>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    ctx.event_scope()?.find_map(|span| {
        let extensions = span.extensions();
        let fields = extensions.get::<FormattedFields<JsonFields>>()?;
        let fields: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&fields.fields).ok()?;
        let id = fields.get("trace_id")?.as_str()?;
        id.bytes()
            .all(|b| b.is_ascii_hexdigit())
            .then(|| id.to_string())
    })
}

fn has_field(event: &Event<'_>, name: &'static str) -> bool {
    struct Find(&'static str, bool);
    impl Visit for Find {
        fn record_debug(&mut self, field: &tracing::field::Field, _: &dyn std::fmt::Debug) {
            self.1 |= field.name() == self.0;
        }
    }
    let mut find = Find(name, false);
    event.record(&mut find);
    find.1
}

#[cfg(test)]
mod tests {
    use std::{
        io,
        sync::{Arc, Mutex},
    };

    use super::*;
    use crate::trace::{self, TraceContext};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("buffer lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'w self) -> Self::Writer {
            self.clone()
        }
    }

    fn lines(buffer: &Buffer) -> Vec<serde_json::Map<String, serde_json::Value>> {
        let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf-8");
        assert!(text.ends_with('\n'), "every line ends: {text:?}");
        text.lines()
            .map(|line| match serde_json::from_str(line) {
                Ok(serde_json::Value::Object(map)) => map,
                other => panic!("not one JSON object per line: {line:?} ({other:?})"),
            })
            .collect()
    }

    #[test]
    fn json_logs_are_one_object_per_line_with_the_trace_id_of_the_span() {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::registry().with(json_layer(buffer.clone()));
        let ctx = TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .expect("valid");
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(answer = 42, "outside any span");
            let span = tracing::info_span!(
                "consume",
                service = "wallet-service",
                trace_id = %ctx.trace_id(),
                span_id = %ctx.span_id(),
            );
            span.in_scope(|| {
                tracing::info!(order_id = "o-1", "settled\nwith \"quotes\"");
                let inner = tracing::debug_span!("db", statement = "update");
                inner.in_scope(|| tracing::warn!("inside a nested span"));
            });
            // A unit of work with a trace context but no traced span (e.g. a spawned task).
            trace::sync_scope(ctx, || tracing::info!("task-local only"));
        });
        let lines = lines(&buffer);
        assert_eq!(lines.len(), 4, "{lines:?}");

        assert!(!lines[0].contains_key("trace_id"), "{:?}", lines[0]);
        assert_eq!(lines[0]["message"], "outside any span");
        assert_eq!(lines[0]["answer"], 42);
        assert_eq!(lines[0]["level"], "INFO");

        let want = "4bf92f3577b34da6a3ce929d0e0e4736";
        for line in &lines[1..] {
            assert_eq!(line["trace_id"], want, "{line:?}");
        }
        assert_eq!(lines[1]["message"], "settled\nwith \"quotes\"");
        assert_eq!(lines[1]["order_id"], "o-1");
        assert_eq!(lines[1]["span"]["service"], "wallet-service");
        assert_eq!(lines[1]["span"]["name"], "consume");
        // Nested: the current span is the inner one; the id still comes from its parent.
        assert_eq!(lines[2]["span"]["name"], "db");
        assert_eq!(lines[2]["spans"][0]["trace_id"], want);
        assert_eq!(lines[3]["message"], "task-local only");
    }
}
