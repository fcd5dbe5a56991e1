//! The system as separate processes, as `just up` runs it, but private to one run: its own
//! NATS server (or cluster), a NATS namespace and a database per service named after it, and
//! free ports. Unlike the in-process `TestSystem` of the e2e tests, each service here is a real
//! process, so it can be SIGKILLed and its memory and CPU measured.
//!
//! As on `just up`, the broker requires one NATS user per service (bus_users.rs): the
//! namespace is chosen first, the permission table rendered for it, and only then the broker
//! started. The services run in the auth mode of [`StackOptions::auth`] (crate::identity).

mod bus_users;
mod cluster;
mod instance;
mod options;
mod services;

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::{anyhow, Context};
use async_nats::jetstream::{self, consumer};
pub use bus_users::BusUsers;
pub use cluster::{Broker, BrokerKind};
use events::{topology::Topology, StreamDef};
use futures::TryStreamExt;
pub use instance::Instance;
pub use options::StackOptions;
use service_kit::{nats_server::free_port, testing::unique_namespace};
pub use services::{consumers, producers, ADMIN_TOKEN, SERVICES};

use crate::identity::Identities;

pub struct Stack {
    pub namespace: String,
    pub broker: Broker,
    /// The broker's users and their passwords (the services', `paymsa-admin`).
    pub bus_users: BusUsers,
    /// The auth mode and, in jwt mode, the key the run's tokens are signed with.
    pub identities: Arc<Identities>,
    pub instances: Vec<Instance>,
    pub log_dir: PathBuf,
    database_server: String,
    keep: bool,
    pools: HashMap<&'static str, sqlx::PgPool>,
    /// One NATS connection for the tool's own checks; the client reconnects by itself.
    js: Option<jetstream::Context>,
    pub http: reqwest::Client,
}

impl Stack {
    /// Starts the broker with the users of the run's namespace, then every service (each
    /// instance on a port of its own, as its own NATS user) and waits until all are ready.
    pub async fn start(options: StackOptions, kind: BrokerKind) -> anyhow::Result<Self> {
        // `lg…`, not the tests' `t…`: `just test` drops every `*_t<hex>` database when it
        // starts and ends, which would pull the floor from under a run beside it.
        let namespace = format!("lg{}", &unique_namespace()[1..]);
        let log_dir = Path::new(".run/loadgen").join(&namespace);
        std::fs::create_dir_all(&log_dir).context("creating the log directory")?;
        let bus_users = BusUsers::generate(&namespace);
        let broker = Broker::start(kind, Some(&bus_users)).await?;
        let identities = Arc::new(Identities::new(options.auth)?);
        let auth_env = identities.service_env(&log_dir)?;
        let mut ports: HashMap<(&str, usize), u16> = HashMap::new();
        for def in &SERVICES {
            for i in 0..options.instances.get(def.name).copied().unwrap_or(1) {
                ports.insert((def.name, i), free_port()?);
            }
        }
        let peer = |name: &str| format!("http://127.0.0.1:{}", ports[&(name, 0)]);
        let mut instances = Vec::new();
        for (n, def) in SERVICES.iter().enumerate() {
            for i in 0..options.instances.get(def.name).copied().unwrap_or(1) {
                let mut env: Vec<(String, String)> = vec![
                    ("HOST".into(), "127.0.0.1".into()),
                    ("PORT".into(), ports[&(def.name, i)].to_string()),
                    ("NATS_URL".into(), broker.urls().join(",")),
                    ("NATS_NAMESPACE".into(), namespace.clone()),
                    ("REDIS_URL".into(), options.redis_url.clone()),
                    // Unique per instance, as the snowflake layout requires.
                    ("SNOWFLAKE_NODE_ID".into(), (100 + n * 10 + i).to_string()),
                    // ADMIN_TOKEN and the sandbox's test_sk_ keys are development
                    // secrets, which only APP_ENV=dev accepts (service-kit secrets.rs)
                    ("APP_ENV".into(), "dev".into()),
                    ("ADMIN_TOKEN".into(), ADMIN_TOKEN.into()),
                    ("LOG_FORMAT".into(), "json".into()),
                    ("RUST_LOG".into(), options.rust_log.clone()),
                    ("CATALOG_URL".into(), peer("catalog-service")),
                    ("PSP_URL".into(), peer("psp-sandbox")),
                ];
                if let Some(user) = bus_users.credentials(def.name) {
                    env.push(("NATS_USER".into(), user.user));
                    env.push(("NATS_PASSWORD".into(), user.password));
                }
                env.extend(auth_env.iter().cloned());
                if let Some(db) = def.database {
                    let server = options.database_server.trim_end_matches('/');
                    env.push(("DATABASE_URL".into(), format!("{server}/{db}_{namespace}")));
                }
                env.extend(options.env.iter().cloned());
                env.extend(
                    options
                        .service_env
                        .iter()
                        .filter(|(s, _, _)| *s == def.name)
                        .map(|(_, k, v)| (k.clone(), v.clone())),
                );
                // `{url:<service>}` in a value is that service's first instance's base URL.
                for (_, v) in &mut env {
                    for d in &SERVICES {
                        *v = v.replace(&format!("{{url:{}}}", d.name), &peer(d.name));
                    }
                }
                let log = log_dir.join(format!("{}-{i}.log", def.name));
                let binary = options.bin_dir.join(def.name);
                if !binary.exists() {
                    return Err(anyhow!("no binary {} (build it first)", binary.display()));
                }
                instances.push(Instance::new(
                    def.name,
                    i,
                    ports[&(def.name, i)],
                    binary,
                    env,
                    log,
                ));
            }
        }
        let mut stack = Self {
            namespace,
            broker,
            bus_users,
            identities,
            instances,
            log_dir,
            database_server: options.database_server,
            keep: options.keep,
            pools: HashMap::new(),
            js: None,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(256)
                .build()?,
        };
        // All at once on a single server; one service at a time on a cluster, where creating
        // R3 streams goes through the meta leader and 15 processes at once only queue up.
        if stack.broker.is_cluster() {
            for def in &SERVICES {
                stack.start_group(|i| i.service == def.name).await?;
            }
        } else {
            stack.start_group(|_| true).await?;
        }
        Ok(stack)
    }

    /// Spawns the matching instances, then waits until each is ready.
    async fn start_group(&mut self, pick: impl Fn(&Instance) -> bool) -> anyhow::Result<()> {
        for instance in self.instances.iter_mut().filter(|i| pick(i)) {
            instance.spawn()?;
        }
        for instance in self.instances.iter_mut().filter(|i| pick(i)) {
            instance
                .wait_ready(&self.http, Duration::from_secs(120))
                .await?;
        }
        Ok(())
    }

    /// Base URLs of a service's instances.
    pub fn urls(&self, service: &str) -> Vec<String> {
        self.instances
            .iter()
            .filter(|i| i.service == service)
            .map(Instance::url)
            .collect()
    }

    pub fn url(&self, service: &str) -> String {
        self.urls(service).into_iter().next().unwrap_or_default()
    }

    fn instance_mut(&mut self, service: &str, index: usize) -> anyhow::Result<&mut Instance> {
        self.instances
            .iter_mut()
            .find(|i| i.service == service && i.index == index)
            .ok_or_else(|| anyhow!("no instance {service}#{index}"))
    }

    /// SIGKILLs one instance.
    pub async fn kill(&mut self, service: &str, index: usize) -> anyhow::Result<()> {
        self.instance_mut(service, index)?.kill().await
    }

    /// Starts a killed instance again on its port and waits until it is ready. A process
    /// that exits during its start (e.g. Postgres refusing connections while a busy machine
    /// is at `max_connections`) is started again, as a supervisor would, for up to a minute.
    pub async fn restart(&mut self, service: &str, index: usize) -> anyhow::Result<()> {
        let http = self.http.clone();
        let instance = self.instance_mut(service, index)?;
        let mut tries = 0;
        loop {
            instance.spawn()?;
            match instance.wait_ready(&http, Duration::from_secs(90)).await {
                Err(e) if !instance.is_running() && tries < 30 => {
                    tries += 1;
                    eprintln!("{} (start {tries}); starting it again in 2 s", e);
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                other => return other,
            }
        }
    }

    /// Records every instance's peak memory so far.
    pub fn sample(&mut self) {
        for instance in &mut self.instances {
            instance.sample();
        }
    }

    fn database_url(&self, service: &str) -> anyhow::Result<String> {
        let def = SERVICES
            .iter()
            .find(|d| d.name == service)
            .ok_or_else(|| anyhow!("no service {service}"))?;
        let db = def
            .database
            .ok_or_else(|| anyhow!("{service} has no database"))?;
        let server = self.database_server.trim_end_matches('/');
        Ok(format!("{server}/{db}_{}", self.namespace))
    }

    /// A one-connection pool on the server's `postgres` database: for watching the server
    /// (pg_stat_activity) without counting in any of the run's databases' statistics.
    pub async fn server_db(&self) -> anyhow::Result<sqlx::PgPool> {
        let server = self.database_server.trim_end_matches('/');
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&format!("{server}/postgres"))
            .await
            .context("connecting to the server's postgres database")
    }

    /// A small pool on a service's own database, for the checks the APIs do not show.
    pub async fn db(&mut self, service: &'static str) -> anyhow::Result<sqlx::PgPool> {
        if let Some(pool) = self.pools.get(service) {
            return Ok(pool.clone());
        }
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&self.database_url(service)?)
            .await
            .with_context(|| format!("connecting to {service}'s database"))?;
        self.pools.insert(service, pool.clone());
        Ok(pool)
    }

    /// JetStream on the stack's broker as `paymsa-admin`, connected on first use.
    pub async fn jetstream(&mut self) -> anyhow::Result<jetstream::Context> {
        if let Some(js) = &self.js {
            return Ok(js.clone());
        }
        let client = self.broker.connect("paymsa-loadgen").await?;
        let js = jetstream::new(client);
        self.js = Some(js.clone());
        Ok(js)
    }

    /// The durable consumers of one of the run's business streams, with their state.
    pub async fn consumers(&mut self, def: &StreamDef) -> anyhow::Result<Vec<consumer::Info>> {
        let name = Topology::new(self.namespace.clone()).stream_name(def);
        let stream = self.jetstream().await?.get_stream(name).await?;
        Ok(stream.consumers().try_collect().await?)
    }

    /// Kills every instance and, unless asked to keep them, drops the run's databases.
    pub async fn stop(mut self) {
        self.sample();
        for instance in &mut self.instances {
            let _ = instance.kill().await;
        }
        for (_, pool) in self.pools.drain() {
            pool.close().await;
        }
        if self.keep {
            eprintln!("databases kept: *_{}", self.namespace);
            return;
        }
        for def in SERVICES.iter().filter(|d| d.database.is_some()) {
            if let Ok(Ok(url)) = self.database_url(def.name).map(|u| url::Url::parse(&u)) {
                let _ = service_kit::db::drop_database(&url).await;
            }
        }
    }
}
