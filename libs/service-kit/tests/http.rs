//! The HTTP contract every service inherits: problem+json errors, body limit, health, metrics,
//! docs and graceful shutdown — exercised on a tiny API against the real backends.

use std::time::Duration;

use poem_openapi::{payload::Json, Object, OpenApi};
use service_kit::{
    testing::{test_config, unique_namespace},
    ApiError, App, Infra, Metrics, ServiceParts, ServiceSpec, Shutdown,
};

const SPEC: ServiceSpec = ServiceSpec {
    name: "kit-test",
    default_port: 0,
    database: Some("paymsa_kit"),
    default_node_id: 1,
    uses_nats: true,
    uses_redis: true,
};

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct Greeting {
    #[oai(validator(min_length = 1, max_length = 10))]
    name: String,
}

struct TestApi;

#[OpenApi]
impl TestApi {
    #[oai(path = "/greetings", method = "post", operation_id = "greet")]
    async fn greet(&self, body: Json<Greeting>) -> Result<Json<String>, ApiError> {
        match body.0.name.as_str() {
            "taken" => Err(ApiError::conflict("NAME_TAKEN", "that name is taken")),
            "secret" => Err(ApiError::internal("password=hunter2 leaked in an error")),
            "panic" => panic!("boom with a secret"),
            name => Ok(Json(format!("hello {name}"))),
        }
    }

    #[oai(path = "/pages", method = "get", operation_id = "page")]
    async fn page(&self, limit: poem_openapi::param::Query<Option<u32>>) -> Json<u32> {
        Json(limit.0.unwrap_or(10))
    }

    #[oai(path = "/slow", method = "get", operation_id = "slow")]
    async fn slow(&self) -> Json<String> {
        SLOW_STARTED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(700)).await;
        Json("done".into())
    }
}

/// `/slow` requests that have started: a test waits for its own to be in flight rather than
/// sleeping and hoping (nextest runs each test in a process of its own).
static SLOW_STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Sends `GET /slow` and returns once the handler runs.
async fn slow_in_flight(
    base: &str,
) -> tokio::task::JoinHandle<Result<reqwest::Response, reqwest::Error>> {
    let before = SLOW_STARTED.load(std::sync::atomic::Ordering::SeqCst);
    let url = format!("{base}/slow");
    let request = tokio::spawn(async move { reqwest::get(url).await });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while SLOW_STARTED.load(std::sync::atomic::Ordering::SeqCst) == before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "/slow never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    request
}

struct TestApp {
    app: App,
    base: String,
    client: reqwest::Client,
}

async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

async fn spawn_app_with(adjust: impl FnOnce(&mut service_kit::ServiceConfig)) -> TestApp {
    service_kit::telemetry::init_test_tracing();
    let mut config = test_config(&SPEC, &unique_namespace());
    adjust(&mut config);
    let infra = Infra::connect(&config, &[&service_kit::db::MIGRATOR])
        .await
        .expect("backends reachable");
    let parts = ServiceParts {
        api: TestApi,
        description: "kit test",
    };
    let app = App::serve(
        &config,
        &infra,
        Metrics::new("kit-test"),
        Shutdown::new(),
        parts,
    )
    .await
    .expect("binds");
    TestApp {
        base: format!("http://127.0.0.1:{}", app.port()),
        app,
        client: reqwest::Client::new(),
    }
}

impl TestApp {
    async fn post_greeting(&self, body: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/greetings", self.base))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("request sent")
    }
}

async fn problem(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(ct, "application/problem+json", "status {status}");
    (status, resp.json().await.expect("json body"))
}

#[tokio::test]
async fn valid_request_succeeds_and_is_counted_in_metrics() {
    let t = spawn_app().await;
    let resp = t.post_greeting(r#"{"name":"kim"}"#).await;
    assert_eq!(resp.status(), 200);
    let metrics = reqwest::get(format!("{}/metrics", t.base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(r#"operation="greet""#) && metrics.contains(r#"status="200""#),
        "{metrics}"
    );
}

#[tokio::test]
async fn invented_methods_share_one_metric_series() {
    let t = spawn_app().await;
    let client = reqwest::Client::new();
    for i in 0..20 {
        let method = reqwest::Method::from_bytes(format!("PROBE{i}").as_bytes()).expect("token");
        let resp = client
            .request(method, format!("{}/greetings", t.base))
            .send()
            .await
            .expect("request");
        assert!(resp.status().is_client_error(), "{}", resp.status());
    }
    let metrics = reqwest::get(format!("{}/metrics", t.base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(!metrics.contains("PROBE"), "{metrics}");
    let other: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("paymsa_http_requests_total") && l.contains(r#"method="OTHER""#))
        .collect();
    assert_eq!(other.len(), 1, "{metrics}");
    assert!(other[0].ends_with(" 20"), "{}", other[0]);
}

#[tokio::test]
async fn bad_input_is_a_problem_with_a_stable_code() {
    let t = spawn_app().await;
    let cases = [
        (r#"{"name":"#, 400, "INVALID_REQUEST"),
        (r#"{"name":"kim","extra":1}"#, 400, "INVALID_REQUEST"),
        (r#"{"name":""}"#, 400, "INVALID_REQUEST"),
        (r#"{"name":"taken"}"#, 409, "NAME_TAKEN"),
    ];
    for (body, status, code) in cases {
        let (got, p) = problem(t.post_greeting(body).await).await;
        assert_eq!(
            (got, p["code"].as_str()),
            (status, Some(code)),
            "{body}: {p}"
        );
        assert_eq!(p["status"], status);
    }
    let (status, p) = problem(
        reqwest::get(format!("{}/no/such/route", t.base))
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!((status, p["code"].as_str()), (404, Some("NOT_FOUND")));
}

#[tokio::test]
async fn server_errors_never_leak_internals() {
    let t = spawn_app().await;
    for name in ["secret", "panic"] {
        let resp = t.post_greeting(&format!(r#"{{"name":"{name}"}}"#)).await;
        let (status, p) = problem(resp).await;
        assert_eq!(status, 500);
        let text = p.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("boom"),
            "{text}"
        );
        assert_eq!(p["code"], "INTERNAL_ERROR");
    }
}

#[tokio::test]
async fn oversized_bodies_are_rejected_declared_or_chunked() {
    let t = spawn_app().await;
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(70_000));
    let (status, p) = problem(t.post_greeting(&big).await).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (413, Some("PAYLOAD_TOO_LARGE"))
    );

    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(big.clone().into_bytes())];
    let stream = futures::stream::iter(chunks);
    let resp = t
        .client
        .post(format!("{}/greetings", t.base))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("sent");
    let (status, _) = problem(resp).await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn an_idempotency_key_handlers_cannot_read_is_refused() {
    let t = spawn_app().await;
    let send = |keys: Vec<reqwest::header::HeaderValue>| {
        let mut req = t
            .client
            .post(format!("{}/greetings", t.base))
            .header("content-type", "application/json")
            .body(r#"{"name":"kim"}"#);
        for key in keys {
            req = req.header("Idempotency-Key", key);
        }
        req.send()
    };
    let value = |bytes: &[u8]| reqwest::header::HeaderValue::from_bytes(bytes).expect("a value");
    // poem-openapi would hand these handlers no key at all: a retry would act twice.
    for keys in [
        vec![value("취소-1".as_bytes())],
        vec![value(b"key-1"), value(b"key-2")],
    ] {
        let (status, p) = problem(send(keys.clone()).await.expect("sent")).await;
        assert_eq!(
            (status, p["code"].as_str()),
            (400, Some("INVALID_IDEMPOTENCY_KEY")),
            "{keys:?}: {p}"
        );
    }
    let resp = send(vec![value(b"0b7e6f1c-key")]).await.expect("sent");
    assert_eq!(resp.status(), 200, "a visible-ASCII key passes");
}

#[tokio::test]
async fn a_query_parameter_sent_twice_is_refused() {
    let t = spawn_app().await;
    let get = |query: &'static str| t.client.get(format!("{}/pages?{query}", t.base)).send();
    for query in ["limit=5&limit=6", "limit=5&l%69mit=6"] {
        let (status, p) = problem(get(query).await.expect("sent")).await;
        assert_eq!(
            (status, p["code"].as_str()),
            (400, Some("REPEATED_QUERY_PARAMETER")),
            "{query}: {p}"
        );
    }
    let resp = get("limit=5").await.expect("sent");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<u32>().await.expect("json"), 5);
}

#[tokio::test]
async fn health_docs_and_spec_are_served() {
    let t = spawn_app().await;
    let ready: serde_json::Value = reqwest::get(format!("{}/health/ready", t.base))
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["status"], "UP", "{ready}");
    let names: Vec<&str> = ready["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["postgres", "nats", "redis"]);
    let docs = reqwest::get(format!("{}/docs", t.base))
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    assert!(docs.contains("swagger"), "docs page is Swagger UI");
    let spec: serde_json::Value = reqwest::get(format!("{}/openapi.json", t.base))
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert!(spec["paths"]["/greetings"]["post"].is_object());
    assert!(spec["paths"]["/health/ready"]["get"].is_object());
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests() {
    let t = spawn_app().await;
    let in_flight = slow_in_flight(&t.base).await;
    t.app.stop().await.expect("clean stop");
    let resp = in_flight.await.expect("joined").expect("answered");
    assert_eq!(resp.status(), 200);
    assert!(
        reqwest::get(format!("{}/health/live", t.base))
            .await
            .is_err(),
        "no longer accepting connections"
    );
}

/// One grace period bounds the whole stop: a request still running when it ends and a worker
/// that never stops cost it once, not once each (which let a pod outlive its kill timeout).
#[tokio::test]
async fn a_stop_takes_one_grace_period_however_much_is_left_to_drain() {
    let grace = Duration::from_millis(600);
    let t = spawn_app_with(|c| c.shutdown_timeout = grace).await;
    t.app.shutdown().spawn("stubborn", async {
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    // In flight for 700 ms, longer than the grace: drained for a grace period per phase,
    // the stop would take the request's time and then the worker's grace (≈ 1.25 s).
    let _in_flight = slow_in_flight(&t.base).await;
    let started = std::time::Instant::now();
    t.app.stop().await.expect("stopped");
    let took = started.elapsed();
    assert!(took >= grace - Duration::from_millis(100), "{took:?}");
    assert!(took < grace * 2 - Duration::from_millis(150), "{took:?}");
}
