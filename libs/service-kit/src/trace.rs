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
//! A task-local does not follow `tokio::spawn`: work moved to another task must be wrapped in
//! [`scope`] again (with [`current`] read before spawning).

use std::{
    fmt,
    future::Future,
    sync::atomic::{AtomicU64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

/// The header name, lowercase as W3C and NATS headers use it.
pub const TRACEPARENT: &str = "traceparent";

/// One position in a trace: the trace id shared by every service, and the span id of the work
/// at hand (the parent id of anything it calls or emits).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    flags: u8,
}

impl TraceContext {
    /// A new trace (a request without a `traceparent`), sampled.
    pub fn new_root() -> Self {
        let mut trace_id = [0u8; 16];
        fill_random(&mut trace_id);
        Self {
            trace_id,
            span_id: new_span_id(),
            flags: 0x01,
        }
    }

    /// Parses a `traceparent` header: `{version}-{trace-id}-{parent-id}-{flags}`, lowercase
    /// hex; version `ff` and all-zero ids are invalid. A future version may append fields
    /// after the flags, which are ignored (as the W3C recommendation asks).
    pub fn parse(traceparent: &str) -> Option<Self> {
        let value = traceparent.trim();
        let mut parts = value.split('-');
        let version = parts.next()?;
        let trace_id = parts.next()?;
        let span_id = parts.next()?;
        let flags = parts.next()?;
        let rest = parts.next();
        if version.len() != 2 || version == "ff" || (version == "00" && rest.is_some()) {
            return None;
        }
        hex_decode::<1>(version)?;
        let trace_id = hex_decode::<16>(trace_id)?;
        let span_id = hex_decode::<8>(span_id)?;
        let [flags] = hex_decode::<1>(flags)?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(Self {
            trace_id,
            span_id,
            flags,
        })
    }

    /// The same trace, a new span id: the context of work caused by this one.
    pub fn child(&self) -> Self {
        Self {
            span_id: new_span_id(),
            ..*self
        }
    }

    /// The context for work caused by a message or request that carried `traceparent`: a
    /// child of it when it is valid, otherwise a new trace.
    pub fn continue_from(traceparent: Option<&str>) -> Self {
        match traceparent.and_then(Self::parse) {
            Some(parent) => parent.child(),
            None => {
                if let Some(bad) = traceparent {
                    tracing::debug!(
                        traceparent = bad,
                        "invalid traceparent; starting a new trace"
                    );
                }
                Self::new_root()
            }
        }
    }

    /// The context of the current unit of work, or a new trace outside of one.
    pub fn current_or_new() -> Self {
        current().unwrap_or_else(Self::new_root)
    }

    /// 32 lowercase hex digits.
    pub fn trace_id(&self) -> String {
        hex_encode(&self.trace_id)
    }

    /// 16 lowercase hex digits.
    pub fn span_id(&self) -> String {
        hex_encode(&self.span_id)
    }

    pub fn sampled(&self) -> bool {
        self.flags & 0x01 == 0x01
    }

    /// The `traceparent` header value (version 00).
    pub fn traceparent(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            self.trace_id(),
            self.span_id(),
            self.flags
        )
    }
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

fn new_span_id() -> [u8; 8] {
    let mut span_id = [0u8; 8];
    fill_random(&mut span_id);
    span_id
}

/// Random, never all zero (an all-zero id is invalid). The OS source essentially never fails;
/// if it does, ids still differ (time, a counter, SplitMix64) — they just are not secret.
fn fill_random(buf: &mut [u8]) {
    if getrandom::fill(buf).is_err() {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        let mut x = nanos ^ COUNTER.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        for chunk in buf.chunks_mut(8) {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
    if buf.iter().all(|&b| b == 0) {
        buf[buf.len() - 1] = 1;
    }
}

fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Exactly `2·N` lowercase hex digits (W3C forbids uppercase).
fn hex_decode<const N: usize>(s: &str) -> Option<[u8; N]> {
    let digits = s.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
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
