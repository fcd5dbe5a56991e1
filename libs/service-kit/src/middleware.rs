//! One middleware stack for every service: trace context and request span, body limit, panic
//! guard, request metrics, and a guarantee that every error leaves as
//! `application/problem+json` — including errors that poem itself raises (unknown route, wrong
//! method, unparsable JSON) before any handler runs.

use std::time::Instant;

use futures::StreamExt;
use poem::{
    http::{header, Method, StatusCode},
    middleware::CatchPanic,
    Body, Endpoint, EndpointExt, IntoResponse, Request, Response,
};
use poem_openapi::OperationId;
use tracing::Instrument;

use crate::{
    error::Problem,
    error::PROBLEM_JSON,
    metrics::Metrics,
    trace::{self, TRACEPARENT},
};

pub(crate) fn wrap(
    inner: impl Endpoint + 'static,
    metrics: Metrics,
    max_body_bytes: usize,
    allow: AllowIndex,
) -> impl Endpoint<Output = Response> {
    // The PSP sandbox answers its Toss API's errors in Toss's `{code, message}` (its documents
    // say so, and schemathesis checks it); like Toss, it reads the first of repeated values.
    let wire = if metrics.service() == "psp-sandbox" {
        ErrorWire::Toss
    } else {
        ErrorWire::Problem
    };
    let refuse_repeated_query = wire == ErrorWire::Problem;
    inner
        // A panicking handler answers 500, rewritten to problem+json below.
        .with(CatchPanic::new())
        .around(move |ep, mut req| {
            let metrics = metrics.clone();
            let allow = allow.clone();
            // The caller's trace continues here (or a new one starts): handlers read it with
            // `trace::current()` (or `Data<&TraceContext>`), the outbox writes it into every
            // event, and every log line of the request carries its `trace_id`. With span
            // export on, this span is the request's server span in the trace.
            let span = tracing::info_span!(
                "http",
                otel.kind = "server",
                service = %metrics.service(),
                method = %req.method(),
                path = %req.uri().path(),
                trace_id = tracing::field::Empty,
                span_id = tracing::field::Empty,
                operation = tracing::field::Empty,
                status = tracing::field::Empty,
            );
            let ctx = trace::begin(
                &span,
                req.headers().get(TRACEPARENT).and_then(|v| v.to_str().ok()),
            );
            req.extensions_mut().insert(ctx);
            let work = async move {
                let started = Instant::now();
                let method = req.method().clone();
                let path = req.uri().path().to_string();
                // A guarded operation without any token is refused before its body is parsed,
                // so the answer is the 401 a client needs, not a 400 about the body.
                let unauthenticated = !req.headers().contains_key(header::AUTHORIZATION)
                    && allow.requires_token(&method, &path);
                let resp = if unauthenticated {
                    problem_response(Problem::new(
                        401,
                        "UNAUTHORIZED",
                        "this operation needs Authorization: Bearer <token>",
                    ))
                } else if let Some(refused) = unreadable_idempotency_key(&req, wire) {
                    refused
                } else if let Some(refused) =
                    repeated_query_parameter(&req).filter(|_| refuse_repeated_query)
                {
                    refused
                } else {
                    match limit_body(req, max_body_bytes, wire).await {
                        Ok(req) => match ep.call(req).await {
                            Ok(resp) => resp.into_response(),
                            Err(err) => err.into_response(),
                        },
                        Err(resp) => resp,
                    }
                };
                let operation = resp.data::<OperationId>().map(|op| op.0).unwrap_or("other");
                let status = resp.status().as_u16();
                let elapsed = started.elapsed();
                metrics.observe_request(
                    operation,
                    method_label(&method),
                    status,
                    elapsed.as_secs_f64(),
                );
                let span = tracing::Span::current();
                span.record("operation", operation);
                span.record("status", status);
                // Named after the operation once it is known (paths carry ids).
                trace::rename(&span, format!("{} {operation}", method_label(&method)));
                if status >= 500 {
                    trace::fail(&span, format!("answered {status}"));
                }
                let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
                if status >= 500 {
                    tracing::warn!(elapsed_ms, "request failed");
                } else {
                    tracing::debug!(elapsed_ms, "request handled");
                }
                let mut resp = as_problem(resp).await;
                if resp.status() == StatusCode::METHOD_NOT_ALLOWED
                    && !resp.headers().contains_key(header::ALLOW)
                {
                    if let Some(methods) = allow.methods(&path) {
                        if let Ok(value) = header::HeaderValue::from_str(methods) {
                            resp.headers_mut().insert(header::ALLOW, value);
                        }
                    }
                }
                Ok(resp)
            };
            trace::scope(ctx, work.instrument(span))
        })
}

pub(crate) use crate::route_index::AllowIndex;

/// The `method` label of the request metrics and span names. Hyper accepts any token as a
/// method, and every request reaches this middleware (unknown routes too): labelled as sent,
/// one anonymous client could add a metric series per request until the process (and the
/// Prometheus scraping it) ran out of memory.
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "OTHER",
    }
}

fn problem_response(problem: Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    Response::builder()
        .status(status)
        .content_type(PROBLEM_JSON)
        .body(body)
}

/// An `Idempotency-Key` the handlers would never see. poem-openapi's header parameter skips
/// a value that is not visible ASCII (and reads only the first of several), so a retry
/// carrying `Idempotency-Key: 취소-1` would run as a request without a key: a second refund,
/// payout or order. Refused before any handler runs, for every service.
fn unreadable_idempotency_key(req: &Request, wire: ErrorWire) -> Option<Response> {
    let mut values = req.headers().get_all("idempotency-key").iter();
    let first = values.next()?;
    let detail = if values.next().is_some() {
        "send one Idempotency-Key header, not several"
    } else if first.to_str().is_err() {
        "Idempotency-Key must be visible ASCII (e.g. a UUID); other bytes would be ignored"
    } else {
        return None;
    };
    Some(wire.refusal(Problem::new(400, "INVALID_IDEMPOTENCY_KEY", detail)))
}

/// A query parameter sent more than once. No operation takes a list in its query, and poem
/// reads the first of several: `?sellerNo=1&sellerNo=2` could be judged by a proxy or a WAF on
/// one value and acted on with the other (HTTP parameter pollution). Refused for every service,
/// as a header sent twice is above.
fn repeated_query_parameter(req: &Request) -> Option<Response> {
    let query = req.uri().query()?;
    let mut seen = std::collections::HashSet::new();
    let repeated =
        url::form_urlencoded::parse(query.as_bytes()).find(|(key, _)| !seen.insert(key.clone()))?;
    Some(problem_response(Problem::new(
        400,
        "REPEATED_QUERY_PARAMETER",
        format!("send the query parameter `{}` once", repeated.0),
    )))
}

fn too_large(max: usize) -> Problem {
    Problem::new(
        413,
        "PAYLOAD_TOO_LARGE",
        format!("request body exceeds {max} bytes"),
    )
}

/// How a service words the refusals this middleware answers before its handlers run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ErrorWire {
    /// `application/problem+json`, as every paymsa service answers.
    Problem,
    /// Toss's `{code, message}` as `application/json` (the PSP sandbox,
    /// services/psp-sandbox/src/errors.rs), with Toss's `INVALID_REQUEST` for every refusal
    /// of a malformed request: a Toss client branches on Toss's codes only.
    Toss,
}

impl ErrorWire {
    fn refusal(self, problem: Problem) -> Response {
        match self {
            Self::Problem => problem_response(problem),
            Self::Toss => {
                let body = serde_json::json!({
                    "code": "INVALID_REQUEST",
                    "message": problem.detail,
                });
                let status =
                    StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_REQUEST);
                Response::builder()
                    .status(status)
                    .content_type("application/json")
                    .body(body.to_string())
            }
        }
    }
}

/// Rejects bodies over the limit, whether announced by Content-Length or streamed chunked.
async fn limit_body(mut req: Request, max: usize, wire: ErrorWire) -> Result<Request, Response> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(req);
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    match declared {
        Some(len) if len > max => Err(wire.refusal(too_large(max))),
        Some(_) => Ok(req),
        None => {
            let mut stream = req.take_body().into_bytes_stream();
            let mut buf = Vec::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|_| {
                    wire.refusal(Problem::new(400, "INVALID_BODY", "unreadable request body"))
                })?;
                if buf.len() + chunk.len() > max {
                    return Err(wire.refusal(too_large(max)));
                }
                buf.extend_from_slice(&chunk);
            }
            req.set_body(Body::from(buf));
            Ok(req)
        }
    }
}

fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "INVALID_REQUEST",
        StatusCode::UNAUTHORIZED => "UNAUTHORIZED",
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
        StatusCode::NOT_ACCEPTABLE => "NOT_ACCEPTABLE",
        StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
        StatusCode::UNPROCESSABLE_ENTITY => "UNPROCESSABLE",
        s if s.is_client_error() => "CLIENT_ERROR",
        _ => "INTERNAL_ERROR",
    }
}

/// Rewrites a non-problem error response into problem+json, keeping its status. Client errors
/// keep poem's message as detail; server errors say nothing about internals.
async fn as_problem(resp: Response) -> Response {
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let is_problem = content_type.starts_with(PROBLEM_JSON);
    // A handler that answers plain JSON on purpose speaks another wire format (the PSP
    // sandbox answers Toss's `{code, message}`); poem's own errors are text and still rewritten.
    let is_json = content_type.starts_with("application/json");
    // 503 from readiness carries its own JSON report.
    if !(status.is_client_error() || status.is_server_error())
        || is_problem
        || is_json
        || status == StatusCode::SERVICE_UNAVAILABLE
    {
        return resp;
    }
    let detail = if status.is_client_error() {
        let text = resp.into_body().into_string().await.unwrap_or_default();
        if text.is_empty() {
            status.canonical_reason().unwrap_or("error").to_string()
        } else {
            text
        }
    } else {
        "an unexpected error occurred; it has been logged".to_string()
    };
    problem_response(Problem::new(status.as_u16(), code_for(status), detail))
}

#[cfg(test)]
mod tests {
    use super::AllowIndex;

    #[test]
    fn allow_lists_the_methods_of_the_most_literal_matching_path() {
        let index = AllowIndex::from_spec(
            r#"{"paths": {
                "/api/products": {"get": {}, "post": {}},
                "/api/products/{productNo}": {"get": {}, "patch": {}, "parameters": []},
                "/api/products/hot": {"delete": {}}
            }}"#,
        );
        assert_eq!(index.methods("/api/products"), Some("GET, POST"));
        assert_eq!(index.methods("/api/products/7"), Some("GET, PATCH"));
        assert_eq!(index.methods("/api/products/hot"), Some("DELETE"));
        assert_eq!(index.methods("/api/products/"), None);
        assert_eq!(index.methods("/nowhere"), None);
    }
}
