//! For tests: every log event of the process, with the fields of the spans it happened in, so a
//! test can prove what a service logged and under which `trace_id` (tests host several
//! services in one process, so one subscriber sees them all).

use std::{
    collections::BTreeMap,
    fmt,
    sync::{Arc, Mutex, OnceLock},
};

use tracing::{
    field::{Field, Visit},
    span, Event, Level, Subscriber,
};
use tracing_subscriber::{
    filter::LevelFilter, fmt as tfmt, layer::Context, prelude::*, registry::LookupSpan, EnvFilter,
    Layer,
};

/// One captured event.
#[derive(Debug, Clone)]
pub struct CapturedEvent {
    pub level: Level,
    pub target: String,
    pub message: String,
    /// Names of the spans it happened in, outermost first.
    pub spans: Vec<String>,
    /// Fields of those spans (an inner span's value wins), then the event's own.
    pub fields: BTreeMap<String, String>,
}

impl CapturedEvent {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    pub fn in_span(&self, name: &str) -> bool {
        self.spans.iter().any(|s| s == name)
    }
}

/// The events captured so far; cheap to clone.
#[derive(Clone, Default)]
pub struct LogCapture {
    events: Arc<Mutex<Vec<CapturedEvent>>>,
}

static GLOBAL: OnceLock<LogCapture> = OnceLock::new();

impl LogCapture {
    /// Installs the capture (DEBUG and above) as the process's global subscriber, once; later
    /// calls return the same capture. With `TEST_LOG` set, events are also printed as usual.
    /// Call it before anything logs (callsites cache whether they are enabled). If another
    /// subscriber was installed first, the capture stays empty.
    pub fn install() -> LogCapture {
        GLOBAL
            .get_or_init(|| {
                let capture = LogCapture::default();
                let print = std::env::var_os("TEST_LOG").map(|_| {
                    let filter = EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| EnvFilter::new("info"));
                    tfmt::layer().with_target(false).with_filter(filter)
                });
                let installed = tracing_subscriber::registry()
                    .with(capture.layer().with_filter(LevelFilter::DEBUG))
                    .with(print)
                    .try_init();
                if installed.is_err() {
                    eprintln!("LogCapture: a global subscriber was already installed");
                }
                capture
            })
            .clone()
    }

    /// The layer that records into this capture (for a subscriber of the test's own).
    pub fn layer<S>(&self) -> impl Layer<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        CaptureLayer {
            events: self.events.clone(),
        }
    }

    pub fn events(&self) -> Vec<CapturedEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// The events whose span or own fields have `name = value`.
    pub fn with_field(&self, name: &str, value: &str) -> Vec<CapturedEvent> {
        self.events
            .lock()
            .map(|events| {
                events
                    .iter()
                    .filter(|e| e.field(name) == Some(value))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

struct CaptureLayer {
    events: Arc<Mutex<Vec<CapturedEvent>>>,
}

/// A span's fields, kept in its extensions.
#[derive(Default)]
struct SpanFields(BTreeMap<String, String>);

struct Collect<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Collect<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
}

impl<S> Layer<S> for CaptureLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = SpanFields::default();
        attrs.record(&mut Collect(&mut fields.0));
        span.extensions_mut().insert(fields);
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<SpanFields>() {
            values.record(&mut Collect(&mut fields.0));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        let mut spans = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                spans.push(span.name().to_string());
                if let Some(own) = span.extensions().get::<SpanFields>() {
                    fields.extend(own.0.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        let mut own = BTreeMap::new();
        event.record(&mut Collect(&mut own));
        let message = own.remove("message").unwrap_or_default();
        fields.extend(own);
        let captured = CapturedEvent {
            level: *event.metadata().level(),
            target: event.metadata().target().to_string(),
            message,
            spans,
            fields,
        };
        if let Ok(mut events) = self.events.lock() {
            events.push(captured);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_the_fields_of_their_spans() {
        let capture = LogCapture::default();
        let subscriber = tracing_subscriber::registry().with(capture.layer());
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("consume", service = "wallet-service", trace_id = %"abc", status = tracing::field::Empty);
            outer.in_scope(|| {
                tracing::info_span!("db", service = "inner").in_scope(|| {
                    tracing::debug!(rows = 2, "updated");
                });
            });
            outer.record("status", 200);
            outer.in_scope(|| tracing::info!("done"));
            tracing::info!("outside");
        });
        let events = capture.events();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].message, "updated");
        assert_eq!(events[0].spans, ["consume", "db"]);
        assert_eq!(events[0].field("trace_id"), Some("abc"));
        assert_eq!(events[0].field("service"), Some("inner"));
        assert_eq!(events[0].field("rows"), Some("2"));
        assert_eq!(events[1].field("status"), Some("200"));
        assert!(events[2].spans.is_empty());
        assert_eq!(capture.with_field("trace_id", "abc").len(), 2);
    }
}
