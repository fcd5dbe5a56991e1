//! [`ServiceRuntime`]: the start every event-driven service's `build` shares — backends and
//! migrations, metrics, shutdown, the event bus — and the three things it then does with it:
//! start its outbox relay, run its consumers, serve its API.

use std::time::Duration;

use poem_openapi::OpenApi;
use service_kit::{App, Infra, Metrics, ServiceConfig, ServiceParts, Shutdown, StartupError};
use sqlx::PgPool;

use outbox::Outbox;

use crate::{ConsumerSpec, EventBus, Handler, Lanes, Schema};

pub struct ServiceRuntime {
    pub config: ServiceConfig,
    pub infra: Infra,
    pub metrics: Metrics,
    pub shutdown: Shutdown,
    pub pool: PgPool,
    pub bus: EventBus,
    /// `GROUP_COMMIT_LINGER_MS`, for [`Self::lanes`].
    group_linger: Duration,
}

impl ServiceRuntime {
    /// Connects and migrates the database to `schema` ([`Schema::migrators`]), and provisions
    /// the streams.
    pub async fn start(config: ServiceConfig, schema: &Schema) -> Result<Self, StartupError> {
        let group_linger = group_linger(&config)?;
        let infra = Infra::connect(&config, &schema.migrators()).await?;
        let metrics = Metrics::new(config.service);
        let shutdown = Shutdown::new();
        let pool = infra.pool()?;
        let bus = EventBus::start(&config, &infra, &metrics, &shutdown).await?;
        // Where autovacuum is off, the planner's statistics of the service's tables.
        service_kit::statistics::spawn_analyzer(pool.clone(), Default::default(), &shutdown);
        Ok(Self {
            config,
            infra,
            metrics,
            shutdown,
            pool,
            bus,
            group_linger,
        })
    }

    /// The [`Lanes`] of a group-committing consumer: `lanes` workers committing up to
    /// `max_group` deliveries at once, lingering `GROUP_COMMIT_LINGER_MS` for a group to fill.
    pub fn lanes(&self, lanes: usize, max_group: usize) -> Lanes {
        Lanes {
            lanes,
            max_group,
            linger: self.group_linger,
        }
    }

    /// Starts the outbox relay; handlers append through the returned handle, in transactions
    /// it began ([`Outbox::begin`]), whose commit wakes the relay.
    pub fn outbox(&self) -> Result<Outbox, StartupError> {
        self.bus.outbox(&self.infra)
    }

    /// Creates the durable consumer and runs `handler` on it until shutdown; its dead letters
    /// are stored and replayable from [`Self::serve`] on ([`EventBus::consume`]).
    pub async fn consume<H: Handler>(
        &self,
        mut spec: ConsumerSpec,
        handler: H,
    ) -> Result<(), StartupError> {
        if let Some(n) = consumer_concurrency(&self.config)? {
            spec.concurrency = n;
        }
        self.bus.consume(spec, handler).await
    }

    /// Starts the dead-letter worker for the consumers registered by [`Self::consume`] (none:
    /// no worker), then serves `api` (plus health, metrics and docs) until shutdown.
    pub async fn serve<A>(self, api: A, description: &'static str) -> Result<App, StartupError>
    where
        A: OpenApi + Send + Sync + 'static,
    {
        self.bus.start_dead_letters(&self.config).await?;
        let parts = ServiceParts { api, description };
        Ok(App::serve(
            &self.config,
            &self.infra,
            self.metrics,
            self.shutdown,
            parts,
        )
        .await?)
    }
}

/// `CONSUMER_CONCURRENCY`: handlers each consumer of the service runs at once (default 4 per
/// consumer; `just bench e2e` compares settings). Validated at start like every variable.
fn consumer_concurrency(config: &ServiceConfig) -> Result<Option<usize>, StartupError> {
    let Some(raw) = config.extra_var("CONSUMER_CONCURRENCY") else {
        return Ok(None);
    };
    match raw.trim().parse::<usize>() {
        Ok(n @ 1..=256) => Ok(Some(n)),
        _ => Err(service_kit::ConfigError::new(
            "CONSUMER_CONCURRENCY",
            format!("must be 1-256 (got {raw:?})"),
        )
        .into()),
    }
}

/// The default `GROUP_COMMIT_LINGER_MS`. In the closed loop (docs/benchmarks.md, stop 18) 10 ms
/// took the system's transactions per paid order from 7.7 to 6.8, with throughput and lags
/// within the runs' noise; 25 ms saved no more (a group is at most the consumer's
/// concurrency). At a low rate it adds up to that much to the consumers' lags.
const DEFAULT_GROUP_LINGER: Duration = Duration::from_millis(10);

/// `GROUP_COMMIT_LINGER_MS`: how long a group-committing consumer waits after a group's first
/// event for more to commit with it (0-1000).
fn group_linger(config: &ServiceConfig) -> Result<Duration, StartupError> {
    let Some(raw) = config.extra_var("GROUP_COMMIT_LINGER_MS") else {
        return Ok(DEFAULT_GROUP_LINGER);
    };
    match raw.trim().parse::<u64>() {
        Ok(ms @ 0..=1000) => Ok(Duration::from_millis(ms)),
        _ => Err(service_kit::ConfigError::new(
            "GROUP_COMMIT_LINGER_MS",
            format!("must be 0-1000 milliseconds (got {raw:?})"),
        )
        .into()),
    }
}
