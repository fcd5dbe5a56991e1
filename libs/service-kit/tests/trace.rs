//! The HTTP side of trace propagation: a request's `traceparent` (or a new trace) is the
//! handler's trace context and its span's `trace_id`.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::{payload::Json, Object, OpenApi};
use service_kit::{
    log_capture::LogCapture,
    testing::{test_config, unique_namespace},
    trace, App, Infra, Metrics, ServiceParts, ServiceSpec, Shutdown, TraceContext,
};
use snowflake::Snowflake;

const SPEC: ServiceSpec = ServiceSpec {
    name: "trace-test",
    default_port: 0,
    database: None,
    default_node_id: 1,
    uses_nats: false,
    uses_redis: false,
};

#[derive(Object)]
struct Seen {
    /// `trace::current()` inside the handler.
    current: String,
    /// The request extension.
    extension: String,
}

struct TraceApi;

#[OpenApi]
impl TraceApi {
    #[oai(path = "/seen", method = "get", operation_id = "seen")]
    async fn seen(&self, ctx: Data<&TraceContext>) -> Json<Seen> {
        tracing::info!("inside the handler");
        Json(Seen {
            current: trace::current()
                .map(|c| c.traceparent())
                .unwrap_or_default(),
            extension: ctx.0.traceparent(),
        })
    }
}

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[tokio::test]
async fn a_request_continues_the_callers_trace_or_starts_one() {
    let logs = LogCapture::install();
    let config = test_config(&SPEC, &unique_namespace());
    let infra = Infra {
        ids: Arc::new(Snowflake::new(1).expect("node id")),
        db: None,
        nats: None,
        redis: None,
    };
    let parts = ServiceParts {
        api: TraceApi,
        description: "trace test",
    };
    let app = App::serve(
        &config,
        &infra,
        Metrics::new(SPEC.name),
        Shutdown::new(),
        parts,
    )
    .await
    .expect("binds");
    let url = format!("http://127.0.0.1:{}/seen", app.port());
    let client = reqwest::Client::new();
    let get = |traceparent: Option<&'static str>| {
        let mut req = client.get(&url);
        if let Some(tp) = traceparent {
            req = req.header("traceparent", tp);
        }
        async move {
            let body: serde_json::Value = req
                .send()
                .await
                .expect("answered")
                .json()
                .await
                .expect("json");
            let current = body["current"].as_str().expect("current").to_string();
            assert_eq!(
                body["extension"],
                current.as_str(),
                "one context per request"
            );
            TraceContext::parse(&current).expect("a valid traceparent")
        }
    };

    let parent = TraceContext::parse(PARENT).expect("valid");
    let continued = get(Some(PARENT)).await;
    assert_eq!(
        continued.trace_id(),
        parent.trace_id(),
        "the caller's trace"
    );
    assert_ne!(continued.span_id(), parent.span_id(), "a span of our own");

    let fresh = get(None).await;
    let from_garbage = get(Some("00-not-a-trace-01")).await;
    assert_ne!(fresh.trace_id(), parent.trace_id());
    assert_ne!(fresh.trace_id(), from_garbage.trace_id());

    // The handler's log line carries the request span's service and trace id.
    let lines = logs.with_field("trace_id", &parent.trace_id());
    let inside = lines
        .iter()
        .find(|e| e.message == "inside the handler")
        .unwrap_or_else(|| panic!("handler log with the trace id: {lines:#?}"));
    assert_eq!(inside.field("service"), Some("trace-test"));
    assert_eq!(inside.field("span_id"), Some(continued.span_id().as_str()));
    assert!(inside.in_span("http"));
    // The request's completion line records its operation and status.
    assert!(
        lines.iter().any(|e| e.message == "request handled"
            && e.field("operation") == Some("seen")
            && e.field("status") == Some("200")),
        "{lines:#?}"
    );
    let fresh_lines = logs.with_field("trace_id", &fresh.trace_id());
    assert!(fresh_lines
        .iter()
        .any(|e| e.message == "inside the handler"));

    app.stop().await.expect("stops");
}
