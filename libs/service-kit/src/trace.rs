//! W3C trace context (`traceparent`) carried through one unit of work: an HTTP request, or one
//! consumed message, and every outbox event it writes.
//!
//! The context lives in a tokio task-local ([`scope`]), set by the HTTP middleware for each
//! request (from the caller's `traceparent`, or a new trace when there is none) and by the
//! consumer runner for each delivery (from the message's `traceparent` header). Code inside
//! reads it with [`current`] — the outbox writer does, so every event carries the trace of the
//! work that wrote it without any call site passing it along. The same ids are recorded as
//! `trace_id` / `span_id` fields on the unit's tracing span, so every log line inside shares
//! the trace id across services.
//!
//! Parsing and writing `traceparent` is OpenTelemetry's `TraceContextPropagator`, ids come from
//! its SDK's generator. [`begin`] ties a unit's context to its `tracing` span: when spans are
//! exported (crate::otel, `OTEL_EXPORTER_OTLP_ENDPOINT`) the context *is* the exported span's
//! ids, so log lines and the trace in Jaeger agree; without export it is a child of the parent
//! made here, as before.
//!
//! A task-local does not follow `tokio::spawn`: work moved to another task must be wrapped in
//! [`scope`] again (with [`current`] read before spawning).

use std::{collections::HashMap, fmt, future::Future};

use opentelemetry::{
    propagation::TextMapPropagator,
    trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState},
    Context,
};
use opentelemetry_sdk::{
    propagation::TraceContextPropagator,
    trace::{IdGenerator, RandomIdGenerator},
};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The header name, lowercase as W3C and NATS headers use it.
pub const TRACEPARENT: &str = "traceparent";

/// One position in a trace: the trace id shared by every service, and the span id of the work
/// at hand (the parent id of anything it calls or emits). The `tracestate` of a caller is not
/// kept: no vendor state is used here.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    trace_id: TraceId,
    span_id: SpanId,
    flags: TraceFlags,
}

impl TraceContext {
    /// A new trace (a request without a `traceparent`), sampled.
    pub fn new_root() -> Self {
        Self {
            trace_id: RandomIdGenerator::default().new_trace_id(),
            span_id: RandomIdGenerator::default().new_span_id(),
            flags: TraceFlags::SAMPLED,
        }
    }

    /// Parses a `traceparent` header, `{version}-{trace-id}-{parent-id}-{flags}`, with the W3C
    /// propagator. Before it, the fields must have their exact widths (2-32-16-2 lowercase hex
    /// digits): the propagator alone takes a short id as one with leading zeros.
    pub fn parse(traceparent: &str) -> Option<Self> {
        let value = traceparent.trim();
        let widths: Vec<usize> = value.split('-').take(4).map(str::len).collect();
        if widths != [2, 32, 16, 2] {
            return None;
        }
        let carrier = HashMap::from([(TRACEPARENT.to_string(), value.to_string())]);
        let cx = TraceContextPropagator::new().extract(&carrier);
        Self::of(cx.span().span_context())
    }

    /// The context of an OpenTelemetry span, if it is a valid one.
    pub fn of(span: &SpanContext) -> Option<Self> {
        span.is_valid().then(|| Self {
            trace_id: span.trace_id(),
            span_id: span.span_id(),
            flags: span.trace_flags(),
        })
    }

    /// This position as the remote parent of an OpenTelemetry span.
    pub fn as_parent(&self) -> Context {
        Context::new().with_remote_span_context(SpanContext::new(
            self.trace_id,
            self.span_id,
            self.flags,
            true,
            TraceState::default(),
        ))
    }

    /// The same trace, a new span id: the context of work caused by this one.
    pub fn child(&self) -> Self {
        Self {
            span_id: RandomIdGenerator::default().new_span_id(),
            ..*self
        }
    }

    /// The context for work caused by a message or request that carried `traceparent`: a
    /// child of it when it is valid, otherwise a new trace.
    pub fn continue_from(traceparent: Option<&str>) -> Self {
        match parent_of(traceparent) {
            Some(parent) => parent.child(),
            None => Self::new_root(),
        }
    }

    /// The context of the current unit of work, or a new trace outside of one.
    pub fn current_or_new() -> Self {
        current().unwrap_or_else(Self::new_root)
    }

    /// 32 lowercase hex digits.
    pub fn trace_id(&self) -> String {
        self.trace_id.to_string()
    }

    /// 16 lowercase hex digits.
    pub fn span_id(&self) -> String {
        self.span_id.to_string()
    }

    pub fn sampled(&self) -> bool {
        self.flags.is_sampled()
    }

    /// The `traceparent` header value (version 00), written by the W3C propagator.
    pub fn traceparent(&self) -> String {
        let mut carrier = HashMap::new();
        TraceContextPropagator::new().inject_context(&self.as_parent(), &mut carrier);
        carrier.remove(TRACEPARENT).unwrap_or_default()
    }
}

/// A valid `traceparent`, or `None` (an invalid one is logged at debug).
fn parent_of(traceparent: Option<&str>) -> Option<TraceContext> {
    let raw = traceparent?;
    let parsed = TraceContext::parse(raw);
    if parsed.is_none() {
        tracing::debug!(
            traceparent = raw,
            "invalid traceparent; starting a new trace"
        );
    }
    parsed
}

/// Begins the unit of work of `span` (declared with `trace_id` and `span_id` fields left
/// `Empty`) as a child of `traceparent`, or as a new trace without a valid one, and records
/// its ids on the span. With span export on, the ids are the exported span's own; otherwise
/// (no exporting layer, or the span disabled) a child context is made here.
pub fn begin(span: &tracing::Span, traceparent: Option<&str>) -> TraceContext {
    let parent = parent_of(traceparent);
    let exported = span
        .set_parent(parent.map(|p| p.as_parent()).unwrap_or_default())
        .ok()
        .and_then(|()| TraceContext::of(span.context().span().span_context()));
    let ctx = exported.unwrap_or_else(|| match parent {
        Some(parent) => parent.child(),
        None => TraceContext::new_root(),
    });
    span.record("trace_id", ctx.trace_id());
    span.record("span_id", ctx.span_id());
    ctx
}

/// Names the exported span of `span` once its name is known (an HTTP request's operation);
/// without span export nothing happens. (An `otel.name` field recorded late would not rename a
/// span [`begin`] has started already.)
pub fn rename(span: &tracing::Span, name: String) {
    span.context().span().update_name(name);
}

/// Marks the exported span of `span` failed, with `description`; without span export nothing
/// happens.
pub fn fail(span: &tracing::Span, description: String) {
    span.set_status(opentelemetry::trace::Status::error(description));
}

/// [`begin`] for work the current unit calls (an outgoing request): a child of [`current`].
pub fn begin_child(span: &tracing::Span) -> TraceContext {
    begin(span, current().map(|c| c.traceparent()).as_deref())
}

impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.traceparent())
    }
}

impl fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceContext({})", self.traceparent())
    }
}

tokio::task_local! {
    static CURRENT: TraceContext;
}

/// The trace context of the unit of work this code runs in, if any.
pub fn current() -> Option<TraceContext> {
    CURRENT.try_with(|ctx| *ctx).ok()
}

/// Runs `work` with `ctx` as its trace context ([`current`] inside answers it).
pub fn scope<F: Future>(ctx: TraceContext, work: F) -> impl Future<Output = F::Output> {
    CURRENT.scope(ctx, work)
}

/// Runs synchronous `work` with `ctx` as its trace context.
pub fn sync_scope<R>(ctx: TraceContext, work: impl FnOnce() -> R) -> R {
    CURRENT.sync_scope(ctx, work)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_and_formats_the_w3c_example() {
        let ctx = TraceContext::parse(EXAMPLE).expect("valid");
        assert_eq!(ctx.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ctx.span_id(), "00f067aa0ba902b7");
        assert!(ctx.sampled());
        assert_eq!(ctx.traceparent(), EXAMPLE);
        assert_eq!(ctx.to_string(), EXAMPLE);
        let unsampled = TraceContext::parse(&EXAMPLE.replace("-01", "-00")).expect("valid");
        assert!(!unsampled.sampled());
    }

    #[test]
    fn rejects_what_the_recommendation_rejects() {
        for bad in [
            "",
            "00",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e47zz-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceContext::parse(bad), None, "{bad:?}");
        }
        // A later version may carry more fields; the known part is still used.
        let future = TraceContext::parse(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-something",
        )
        .expect("future versions parse");
        assert_eq!(future.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn a_child_keeps_the_trace_and_gets_a_new_span() {
        let parent = TraceContext::parse(EXAMPLE).expect("valid");
        let child = parent.child();
        assert_eq!(child.trace_id(), parent.trace_id());
        assert_ne!(child.span_id(), parent.span_id());
        assert_eq!(child.sampled(), parent.sampled());
        let continued = TraceContext::continue_from(Some(EXAMPLE));
        assert_eq!(continued.trace_id(), parent.trace_id());
        assert_ne!(continued.span_id(), parent.span_id());
    }

    #[test]
    fn new_traces_are_valid_and_distinct() {
        let a = TraceContext::new_root();
        let b = TraceContext::continue_from(Some("garbage"));
        let c = TraceContext::continue_from(None);
        for ctx in [a, b, c] {
            assert_eq!(TraceContext::parse(&ctx.traceparent()), Some(ctx));
            assert_eq!(ctx.trace_id().len(), 32);
            assert_eq!(ctx.span_id().len(), 16);
            assert!(ctx.sampled());
        }
        assert_ne!(a.trace_id(), b.trace_id());
        assert_ne!(b.trace_id(), c.trace_id());
    }

    #[tokio::test]
    async fn the_scope_is_visible_inside_and_gone_outside() {
        assert_eq!(current(), None);
        let ctx = TraceContext::new_root();
        let seen = scope(ctx, async {
            tokio::task::yield_now().await;
            current()
        })
        .await;
        assert_eq!(seen, Some(ctx));
        assert_eq!(current(), None);
        assert_eq!(sync_scope(ctx, current), Some(ctx));
        // Outside any scope a caller that needs one gets a fresh trace.
        assert_ne!(TraceContext::current_or_new().trace_id(), ctx.trace_id());
    }
}
