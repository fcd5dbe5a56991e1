//! A real OTLP/HTTP receiver for tests: a poem server on port 0 that keeps every JSON body
//! POSTed to `/v1/traces` (the exporter of service_kit::otel speaks OTLP/JSON) and answers
//! 200 as a collector does. Its spans are read back flattened, with the attributes the
//! `tracing` fields became.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use poem::{
    handler,
    listener::{Acceptor, Listener, TcpListener},
    post,
    web::Data,
    Body, EndpointExt, Route, Server,
};
use serde_json::Value;

type Bodies = Arc<Mutex<Vec<Value>>>;

/// One received span.
#[derive(Debug, Clone)]
pub struct Span {
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    pub name: String,
    /// `service.name` of the exporting process.
    pub resource_service: String,
    pub attributes: HashMap<String, String>,
}

impl Span {
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

pub struct Receiver {
    pub url: String,
    bodies: Bodies,
}

#[handler]
async fn traces(body: Body, bodies: Data<&Bodies>) -> poem::http::StatusCode {
    let Ok(bytes) = body.into_bytes().await else {
        return poem::http::StatusCode::BAD_REQUEST;
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(json) => {
            bodies.lock().expect("bodies lock").push(json);
            poem::http::StatusCode::OK
        }
        Err(_) => poem::http::StatusCode::BAD_REQUEST,
    }
}

impl Receiver {
    /// Listens on 127.0.0.1, a free port; serves until the test process ends.
    pub async fn start() -> Self {
        let bodies = Bodies::default();
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("bind the OTLP receiver");
        let port = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().map(|s| s.port()))
            .expect("a TCP port");
        let app = Route::new()
            .at("/v1/traces", post(traces))
            .data(bodies.clone());
        tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
        Self {
            url: format!("http://127.0.0.1:{port}"),
            bodies,
        }
    }

    /// How many export requests arrived.
    pub fn requests(&self) -> usize {
        self.bodies.lock().expect("bodies lock").len()
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Span> {
        let bodies = self.bodies.lock().expect("bodies lock").clone();
        let mut spans = Vec::new();
        for body in &bodies {
            for resource in array(&body["resourceSpans"]) {
                let service = attributes(&resource["resource"]["attributes"])
                    .remove("service.name")
                    .unwrap_or_default();
                for scope in array(&resource["scopeSpans"]) {
                    for span in array(&scope["spans"]) {
                        let text = |key: &str| span[key].as_str().unwrap_or_default().to_string();
                        spans.push(Span {
                            trace_id: text("traceId"),
                            span_id: text("spanId"),
                            parent_span_id: text("parentSpanId"),
                            name: text("name"),
                            resource_service: service.clone(),
                            attributes: attributes(&span["attributes"]),
                        });
                    }
                }
            }
        }
        spans
    }
}

fn array(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// OTLP/JSON key-values, every scalar as text (`intValue` is a string in OTLP/JSON already).
fn attributes(value: &Value) -> HashMap<String, String> {
    array(value)
        .iter()
        .filter_map(|kv| {
            let key = kv["key"].as_str()?.to_string();
            let value = kv["value"].as_object()?.values().next()?;
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some((key, text))
        })
        .collect()
}
