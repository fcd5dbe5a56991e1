//! Shared test harness: a service-shaped host (own database, own NATS namespace, the
//! dead-letter API served by service-kit's `App`) against the real Postgres and NATS.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::{
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_nats::{jetstream::Context, HeaderMap};
use events::{Envelope, SellerRegistered, Topology};
use messaging::{
    dead_letters::{store, DeadLetter},
    ConsumerSpec, DeadLetterApi, Delivery, Handler, HandlerError, Replayers,
};
use service_kit::{
    config::ServiceSpec, db, infra, telemetry, testing, App, Infra, Metrics, ServiceConfig,
    ServiceParts, Shutdown,
};
use snowflake::Snowflake;
use sqlx::PgPool;
use uuid::Uuid;

pub const SPEC: ServiceSpec = ServiceSpec {
    name: "messaging-test",
    default_port: 0,
    database: Some("messaging"),
    default_node_id: 1,
    uses_nats: true,
    uses_redis: false,
};

pub const SERVICE: &str = "messaging-test";
pub const ADMIN_TOKEN: &str = "test-admin-token";

pub struct Harness {
    pub ns: String,
    pub topology: Topology,
    pub config: ServiceConfig,
    pub client: async_nats::Client,
    pub js: Context,
    pub pool: PgPool,
    pub ids: Arc<Snowflake>,
    pub metrics: Metrics,
    pub shutdown: Shutdown,
    /// The consumers [`Harness::spawn`] started, which the dead-letter API replays through.
    pub replayers: Replayers,
    pub base_url: String,
    app: Option<App>,
    cleaned: bool,
}

/// A harness whose test panicked before [`Harness::cleanup`] leaves nothing behind either: the
/// database and the namespace's streams go on a runtime of their own (Drop runs inside the
/// test's runtime).
impl Drop for Harness {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        let config = self.config.clone();
        let cleaned = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(testing::drop_test_state(&config));
            }
        });
        let _ = cleaned.join();
    }
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_on(None).await
    }

    /// Like [`Harness::start`], on another NATS server than `TEST_NATS_URL`.
    pub async fn start_on(nats_url: Option<String>) -> Self {
        telemetry::init_test_tracing();
        let ns = testing::unique_namespace();
        let mut config = testing::test_config(&SPEC, &ns);
        if nats_url.is_some() {
            config.nats_url = nats_url;
        }
        let db_url = config
            .database_url
            .clone()
            .expect("the spec has a database");
        let pool = db::connect_and_migrate(&db_url, 10, &[&messaging::MIGRATOR])
            .await
            .expect("test database");
        sqlx::query("create table test_effects (id bigserial primary key, event_id uuid not null)")
            .execute(&pool)
            .await
            .expect("effects table");
        let nats_url = config.nats_url.clone().expect("the spec uses NATS");
        let client = infra::connect_nats(&nats_url, SERVICE)
            .await
            .expect("TEST_NATS_URL reachable");
        let js = async_nats::jetstream::new(client.clone());
        let topology = config.topology();
        messaging::provision(&js, &topology)
            .await
            .expect("provision");
        let ids = Arc::new(Snowflake::new(1).expect("node id"));
        let metrics = Metrics::new(SERVICE);
        let shutdown = Shutdown::new();
        let infra = Infra {
            ids: ids.clone(),
            db: Some(pool.clone()),
            nats: Some(client.clone()),
            redis: None,
        };
        let replayers = Replayers::default();
        let app = serve(&config, &infra, &metrics, &shutdown, &replayers, &pool).await;
        let base_url = format!("http://127.0.0.1:{}", app.port());
        Self {
            ns,
            topology,
            config,
            client,
            js,
            pool,
            ids,
            metrics,
            shutdown,
            replayers,
            base_url,
            app: Some(app),
            cleaned: false,
        }
    }

    /// Another host of the dead-letter API on the same database, with another admin token.
    pub async fn serve_with_token(&self, admin_token: Option<String>) -> App {
        let mut config = self.config.clone();
        config.admin_token = admin_token;
        let infra = Infra {
            ids: self.ids.clone(),
            db: Some(self.pool.clone()),
            nats: Some(self.client.clone()),
            redis: None,
        };
        serve(
            &config,
            &infra,
            &Metrics::new(SERVICE),
            &Shutdown::new(),
            &self.replayers,
            &self.pool,
        )
        .await
    }

    /// Stops the host the way a signal would: waits for the consumers to drain.
    pub async fn stop(&mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await.expect("server stopped cleanly");
        }
    }

    /// Stops the host, drops the database and deletes the namespace's streams (and so their
    /// consumers). A test that panics before this gets the same from `Drop`.
    pub async fn cleanup(mut self) {
        self.stop().await;
        self.pool.close().await;
        testing::drop_test_state(&self.config).await;
        self.cleaned = true;
    }

    pub async fn spawn<H: Handler>(&self, spec: ConsumerSpec, handler: H) {
        messaging::spawn_consumer(
            self.js.clone(),
            &self.topology,
            spec,
            handler,
            &self.replayers,
            &self.metrics,
            &self.shutdown,
        )
        .await
        .expect("consumer started");
    }

    pub async fn spawn_dead_letters(&self, consumers: Vec<&'static str>) {
        messaging::spawn_dead_letter_worker(
            self.js.clone(),
            &self.topology,
            SERVICE,
            consumers,
            self.pool.clone(),
            self.ids.clone(),
            &self.metrics,
            &self.shutdown,
        )
        .await
        .expect("dead-letter worker started");
    }

    pub fn subject(&self, unqualified: &str) -> String {
        self.topology.subject(unqualified)
    }

    /// Publishes an event the way the outbox relay does (msg id = event id, traceparent).
    pub async fn publish(&self, envelope: &Envelope<SellerRegistered>) -> u64 {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", envelope.event_id.to_string().as_str());
        headers.insert(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        );
        let body = serde_json::to_vec(envelope).expect("serializes");
        self.js
            .publish_with_headers(self.subject("seller.registered"), headers, body.into())
            .await
            .expect("publish sent")
            .await
            .expect("publish acked")
            .sequence
    }

    pub async fn publish_raw(&self, body: &'static [u8]) -> u64 {
        self.js
            .publish(self.subject("seller.registered"), body.into())
            .await
            .expect("publish sent")
            .await
            .expect("publish acked")
            .sequence
    }

    pub async fn dead_letters(&self) -> Vec<DeadLetter> {
        let mut out = Vec::new();
        for item in store::list(&self.pool, None, 100).await.expect("list") {
            out.push(
                store::get(&self.pool, item.id)
                    .await
                    .expect("get")
                    .expect("row exists"),
            );
        }
        out
    }

    pub async fn effects(&self, event_id: Uuid) -> i64 {
        sqlx::query_scalar("select count(*) from test_effects where event_id = $1")
            .bind(event_id)
            .fetch_one(&self.pool)
            .await
            .expect("count effects")
    }

    pub async fn processed(&self, consumer: &str, event_id: Uuid) -> i64 {
        sqlx::query_scalar(
            "select count(*) from processed_events where consumer = $1 and event_id = $2",
        )
        .bind(consumer)
        .bind(event_id)
        .fetch_one(&self.pool)
        .await
        .expect("count processed")
    }
}

async fn serve(
    config: &ServiceConfig,
    infra: &Infra,
    metrics: &Metrics,
    shutdown: &Shutdown,
    replayers: &Replayers,
    pool: &PgPool,
) -> App {
    let api = DeadLetterApi::new(pool.clone(), replayers.clone(), config.admin_token.clone());
    App::serve(
        config,
        infra,
        metrics.clone(),
        shutdown.clone(),
        ServiceParts {
            api,
            description: "messaging test host",
        },
    )
    .await
    .expect("serve")
}

pub fn seller_registered(seller_no: i64) -> Envelope<SellerRegistered> {
    Envelope::new(SellerRegistered {
        seller_no,
        seller_id: format!("seller-{seller_no}"),
    })
}

/// A consumer on SELLERS / `seller.registered`.
pub fn spec(durable: &'static str) -> ConsumerSpec {
    ConsumerSpec::new(
        durable,
        events::topology::SELLERS,
        vec!["seller.registered"],
    )
}

/// The effect a test handler applies: one row per application, so double application shows.
pub async fn record_effect(
    pool: &PgPool,
    consumer: &str,
    event_id: Uuid,
) -> Result<messaging::Applied<()>, HandlerError> {
    messaging::apply_once(pool, consumer, event_id, move |conn| {
        Box::pin(async move {
            sqlx::query("insert into test_effects (event_id) values ($1)")
                .bind(event_id)
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    })
    .await
}

/// A handler from a closure over an owned delivery.
pub struct FnHandler<F>(pub F);

impl<F, Fut> Handler for FnHandler<F>
where
    F: Fn(Delivery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    fn handle(&self, delivery: &Delivery) -> impl Future<Output = Result<(), HandlerError>> + Send {
        (self.0)(delivery.clone())
    }
}

/// What a handler saw, shared with the test.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<(Instant, Delivery)>>>);

impl Log {
    pub fn push(&self, delivery: Delivery) {
        self.0
            .lock()
            .expect("log lock")
            .push((Instant::now(), delivery));
    }

    pub fn len(&self) -> usize {
        self.0.lock().expect("log lock").len()
    }

    pub fn entries(&self) -> Vec<(Instant, Delivery)> {
        self.0.lock().expect("log lock").clone()
    }

    /// A handler that records every delivery here, then answers what `outcome` returns.
    pub fn recording<F, Fut>(&self, outcome: F) -> impl Handler
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send,
    {
        let log = self.clone();
        FnHandler(move |delivery| {
            log.push(delivery);
            outcome()
        })
    }
}

/// Polls `check` until it holds or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
