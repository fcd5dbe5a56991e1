//! A tiny webhook receiver on port 0: records every POST (headers and raw body) and answers
//! 500 while told to fail, else 200.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use poem::{
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    Request, Server,
};
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: String,
    pub json: Value,
    /// What the receiver answered.
    pub status: u16,
}

#[derive(Default)]
struct State {
    received: Mutex<Vec<Received>>,
    failing: AtomicBool,
    /// Answer 500 to this many more POSTs (then 200).
    fail_next: AtomicUsize,
}

pub struct Receiver {
    pub url: String,
    state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Self {
        let state = Arc::new(State::default());
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("receiver binds");
        let port = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().map(|s| s.port()))
            .expect("receiver port");
        let shared = state.clone();
        let endpoint = poem::endpoint::make(move |mut req: Request| {
            let state = shared.clone();
            async move {
                let headers = req
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").into()))
                    .collect();
                let body = req.take_body().into_string().await.unwrap_or_default();
                let fail = state.failing.load(Ordering::SeqCst)
                    || state
                        .fail_next
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                let status = if fail {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                };
                let json = serde_json::from_str(&body).unwrap_or(Value::Null);
                state.received.lock().expect("lock").push(Received {
                    headers,
                    body,
                    json,
                    status: status.as_u16(),
                });
                status
            }
        });
        let server = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(endpoint).await;
        });
        Self {
            url: format!("http://127.0.0.1:{port}/webhooks/toss"),
            state,
            server,
        }
    }

    /// Answer 500 to every POST while `failing`.
    pub fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    /// Answer 500 to the next `n` POSTs.
    pub fn fail_next(&self, n: usize) {
        self.state.fail_next.store(n, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().expect("lock").clone()
    }

    /// The POSTs of `event_type` that `matches`.
    pub fn events(&self, event_type: &str, matches: impl Fn(&Value) -> bool) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.json["eventType"] == event_type && matches(&r.json["data"]))
            .collect()
    }

    /// Waits (up to `secs`) until at least `n` POSTs of `event_type` match, and answers them.
    pub async fn wait_for(
        &self,
        event_type: &str,
        n: usize,
        secs: u64,
        matches: impl Fn(&Value) -> bool,
    ) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let found = self.events(event_type, &matches);
            if found.len() >= n || tokio::time::Instant::now() > deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}
