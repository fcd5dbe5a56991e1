//! The whole paymsa system hosted in-process for end-to-end tests: every service on port 0,
//! one NATS namespace and a database per service for this test alone, peers wired to each
//! other's real ports. Tests talk to it over HTTP like a client would. A test of one consumer
//! starts only the services it needs ([`TestSystem::builder`]) and publishes the events it
//! consumes itself ([`streams::Bus::publish`]), as the producing service's outbox would.
//!
//! The helpers more than one test file needs live in the modules below: [`seed`] (the demo
//! data), [`http`] (answers as JSON), [`problems`] (problem+json checks), [`values`] (ids and
//! amounts as the APIs write them), [`streams`] (publishing to and reading the namespace's
//! JetStream streams), [`sellers`] and [`catalog`] (onboarding and products), [`money`] (checkout,
//! confirm, wallets), and the fixtures of single suites ([`order_history`], [`hot_ranking`],
//! [`reviews`]). [`openapi`] lists every service's OpenAPI document for `just openapi` and the
//! `openapi_specs` test.

pub mod builder;
pub mod catalog;
pub mod hot_ranking;
pub mod http;
pub mod jwt;
pub mod money;
pub mod openapi;
pub mod order_history;
pub mod otlp;
pub mod outage;
pub mod pages;
pub mod problems;
pub mod reviews;
pub mod seed;
pub mod sellers;
pub mod streams;
pub mod values;
mod wait;

pub use wait::{count, eventually, lock_waiters};

use std::{collections::HashMap, future::Future, pin::Pin, time::Duration};

use service_kit::{
    testing::{test_config, unique_namespace},
    App, ServiceConfig, ServiceSpec, StartupError,
};

/// What a service not started by the test gets as a peer's URL: nothing listens on port 1.
const NO_PEER: &str = "http://127.0.0.1:1";

type Build = fn(ServiceConfig) -> Pin<Box<dyn Future<Output = Result<App, StartupError>>>>;

macro_rules! service {
    ($krate:ident) => {
        (&$krate::SPEC, (|c| Box::pin($krate::build(c))) as Build)
    };
}

/// Every service, in start order: peers a service calls over HTTP start before it.
pub fn all_services() -> Vec<(&'static ServiceSpec, Build)> {
    vec![
        service!(psp_sandbox),
        service!(catalog_service),
        service!(seller_service),
        service!(wallet_service),
        service!(hot_catalog_service),
        service!(catalog_review_service),
        service!(catalog_like_service),
        service!(order_query_service),
        // Last: its storefront pages call the others (config_for passes their URLs).
        service!(order_service),
    ]
}

/// A running system.
pub struct TestSystem {
    pub namespace: String,
    /// The services this system hosts (all, unless [`builder::Builder::only`] chose), in start
    /// order; a stopped one stays here, its database and streams too.
    services: Vec<&'static str>,
    apps: Vec<(&'static str, App)>,
    /// Extra variables given to every service (e.g. a private NATS_URL).
    overrides: HashMap<String, String>,
    pub http: reqwest::Client,
}

impl TestSystem {
    /// Starts every service against the shared test servers.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// Starts every service; `overrides` replace test defaults (e.g. `NATS_URL`, `PSP_TIMEOUT_MS`).
    pub async fn start_with(overrides: HashMap<String, String>) -> Self {
        Self::builder().overrides(overrides).start().await
    }

    /// Starts only `services` (names as in [`all_services`]), e.g. the one consumer a test
    /// feeds with [`streams::Bus::publish`]: a whole system costs ~4 s of database creation and
    /// migrations per test, one service a fraction of that.
    pub async fn start_only(services: &[&str]) -> Self {
        Self::builder().only(services.iter().copied()).start().await
    }

    /// A system of `services` with nothing started yet ([`builder::Builder::start`] starts it).
    fn empty(services: Vec<&'static str>, overrides: HashMap<String, String>) -> Self {
        service_kit::telemetry::init_test_tracing();
        Self {
            namespace: unique_namespace(),
            services,
            apps: Vec::new(),
            overrides,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
        }
    }

    fn config_for(&self, spec: &ServiceSpec) -> ServiceConfig {
        let mut config = test_config(spec, &self.namespace);
        if let Some(url) = self.overrides.get("NATS_URL") {
            config.nats_url = Some(url.clone());
        }
        if let Some(n) = self.overrides.get("DB_MAX_CONNECTIONS") {
            config.db_max_connections = n.parse().expect("DB_MAX_CONNECTIONS is a number");
        }
        for (service, var) in [
            ("catalog-service", "CATALOG_URL"),
            ("hot-catalog-service", "HOT_CATALOG_URL"),
            ("catalog-like-service", "CATALOG_LIKE_URL"),
            ("catalog-review-service", "CATALOG_REVIEW_URL"),
            ("order-query-service", "ORDER_QUERY_URL"),
            ("wallet-service", "WALLET_URL"),
            ("psp-sandbox", "PSP_URL"),
        ] {
            if let Some(port) = self.running_port(service) {
                config
                    .extra
                    .insert(var.into(), format!("http://127.0.0.1:{port}"));
            } else if !self.services.contains(&service) {
                // A peer this test did not start: refused at once, rather than the default
                // (`just up`'s stack on this machine, settings.rs of each service).
                config.extra.insert(var.into(), NO_PEER.into());
            }
        }
        for (k, v) in &self.overrides {
            config.extra.insert(k.clone(), v.clone());
        }
        if self.overrides.contains_key("AUTH_MODE") {
            config.auth = service_kit::auth::AuthSettings::from_source(&self.overrides)
                .unwrap_or_else(|e| panic!("identity overrides are invalid: {e}"));
        }
        config
    }

    async fn start_service(&mut self, spec: &'static ServiceSpec, build: Build) {
        let app = build(self.config_for(spec))
            .await
            .unwrap_or_else(|e| panic!("{} failed to start: {e}", spec.name));
        self.apps.push((spec.name, app));
    }

    fn running_port(&self, service: &str) -> Option<u16> {
        self.apps
            .iter()
            .find(|(n, _)| *n == service)
            .map(|(_, a)| a.port())
    }

    /// Panics, naming what runs, when `service` is not one of this system's services.
    fn expect_hosted(&self, service: &str) {
        assert!(
            self.services.contains(&service),
            "{service} was not started: this test's system runs only {:?} \
             (TestSystem::builder().only / start_only)",
            self.services
        );
    }

    /// The port of one of the system's services; `None` while it is stopped.
    pub fn port_of(&self, service: &str) -> Option<u16> {
        self.expect_hosted(service);
        self.running_port(service)
    }

    /// `http://127.0.0.1:<port>` of a running service.
    pub fn url(&self, service: &str) -> String {
        let port = self
            .port_of(service)
            .unwrap_or_else(|| panic!("{service} is stopped"));
        format!("http://127.0.0.1:{port}")
    }

    /// Stops one service as SIGTERM would (its workers drain).
    pub async fn stop_service(&mut self, service: &str) {
        if let Some(i) = self.apps.iter().position(|(n, _)| *n == service) {
            let (_, app) = self.apps.remove(i);
            app.stop().await.expect("clean stop");
        }
    }

    /// Starts a stopped service again with the same database and namespace (new port).
    pub async fn restart_service(&mut self, service: &str) {
        self.expect_hosted(service);
        self.stop_service(service).await;
        let (spec, build) = all_services()
            .into_iter()
            .find(|(s, _)| s.name == service)
            .unwrap_or_else(|| panic!("no service {service}"));
        self.start_service(spec, build).await;
    }

    /// Restarts one service with extra variables for it alone (e.g. a rotated `PSP_SECRET_KEY`
    /// for order-service that the sandbox does not share).
    pub async fn restart_service_with(&mut self, service: &str, extra: &[(&str, &str)]) {
        self.expect_hosted(service);
        self.stop_service(service).await;
        let (spec, build) = all_services()
            .into_iter()
            .find(|(s, _)| s.name == service)
            .unwrap_or_else(|| panic!("no service {service}"));
        let mut config = self.config_for(spec);
        for (k, v) in extra {
            config.extra.insert(k.to_string(), v.to_string());
        }
        let app = build(config)
            .await
            .unwrap_or_else(|e| panic!("{} failed to start: {e}", spec.name));
        self.apps.push((spec.name, app));
    }

    /// A pool on a service's own database, for checking invariants the API does not show.
    pub async fn db(&self, spec: &ServiceSpec) -> sqlx::PgPool {
        self.expect_hosted(spec.name);
        let config = test_config(spec, &self.namespace);
        let url = config.database_url.expect("service has a database");
        sqlx::PgPool::connect(url.as_str())
            .await
            .expect("database reachable")
    }

    pub async fn stop(mut self) {
        while let Some((_, app)) = self.apps.pop() {
            let _ = app.stop().await;
        }
    }
}

/// A finished test's databases are dropped at once (with `force`, so services still running
/// are cut off): a full run creates about a thousand, which would otherwise fill the disk. Its
/// NATS namespace's streams (and so their consumers) are deleted too, so a shared server (`just
/// up`'s) keeps only the stack's streams. `just test` also removes leftovers of interrupted runs.
impl Drop for TestSystem {
    fn drop(&mut self) {
        let urls: Vec<String> = all_services()
            .into_iter()
            .filter(|(spec, _)| self.services.contains(&spec.name))
            .filter_map(|(spec, _)| test_config(spec, &self.namespace).database_url)
            .map(String::from)
            .collect();
        let nats_url = self
            .overrides
            .get("NATS_URL")
            .cloned()
            .or_else(|| std::env::var("TEST_NATS_URL").ok());
        let namespace = self.namespace.clone();
        // Drop runs inside the test's runtime; the async work gets a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                for url in urls {
                    if let Ok(url) = url::Url::parse(&url) {
                        let _ = service_kit::db::drop_database(&url).await;
                    }
                }
                if let Some(nats_url) = nats_url {
                    service_kit::testing::delete_namespace_streams(&nats_url, &namespace).await;
                }
            });
        });
        let _ = dropped.join();
    }
}
