//! [`EventBus`]: the start-up every service does, in one call: JetStream context, topology,
//! [`provision`], the dead-letter worker, and the dead-letter API to mount; then, per service,
//! its outbox relay ([`EventBus::outbox`]) and its consumers ([`EventBus::consume`]).

use async_nats::jetstream::Context;
use events::Topology;
use service_kit::{Infra, Metrics, ServiceConfig, Shutdown, StartupError};
use sqlx::PgPool;

use outbox::{Outbox, OutboxRelay, OutboxWriter, RelayConfig};

use crate::{
    dead_letters::{spawn_dead_letter_worker, DeadLetterApi},
    error::{ConsumerError, ProvisionError},
    provision, spawn_consumer, ConsumerSpec, Handler, Replayers,
};

/// A service's connection to the event streams.
#[derive(Clone)]
pub struct EventBus {
    pub js: Context,
    pub topology: Topology,
    pool: PgPool,
    admin_token: Option<String>,
    service: &'static str,
    metrics: Metrics,
    shutdown: Shutdown,
    /// The handlers of this service's consumers, which its dead letters are replayed through.
    replayers: Replayers,
}

impl EventBus {
    /// Provisions the streams and starts the dead-letter worker for `consumers` (this service's
    /// durables; none: no worker). Needs the service's database (with the messaging migration)
    /// and NATS.
    pub async fn start(
        config: &ServiceConfig,
        infra: &Infra,
        metrics: &Metrics,
        shutdown: &Shutdown,
        consumers: Vec<&'static str>,
    ) -> Result<Self, StartupError> {
        let client = infra.nats.clone().ok_or_else(|| {
            StartupError::Other(format!("{}: the event bus needs NATS", config.service).into())
        })?;
        let pool = infra.db.clone().ok_or_else(|| {
            StartupError::Other(
                format!("{}: the event bus needs a database", config.service).into(),
            )
        })?;
        let js = async_nats::jetstream::new(client);
        let topology = config.topology();
        provision(&js, &topology).await?;
        if !consumers.is_empty() {
            spawn_dead_letter_worker(
                js.clone(),
                &topology,
                config.service,
                consumers,
                pool.clone(),
                infra.ids.clone(),
                metrics,
                shutdown,
            )
            .await?;
            // Only consuming services have processed_events / dead_letters to keep trimmed.
            let retention = crate::retention::RetentionSettings::from_config(config)?;
            crate::retention::spawn_messaging_retention(pool.clone(), retention, shutdown);
        }
        Ok(Self {
            js,
            topology,
            pool,
            admin_token: config.admin_token.clone(),
            service: config.service,
            metrics: metrics.clone(),
            shutdown: shutdown.clone(),
            replayers: Replayers::default(),
        })
    }

    /// Starts the outbox relay of a producing service (default [`RelayConfig`]) and returns the
    /// handle its handlers append and commit through (commits wake the relay).
    pub fn outbox(&self, infra: &Infra) -> Result<Outbox, StartupError> {
        let relay = RelayConfig::new(self.service);
        let writer = OutboxWriter::new(infra.ids.clone(), self.topology.clone(), relay.shards);
        let nudge = OutboxRelay::spawn(
            relay,
            self.pool.clone(),
            self.js.clone(),
            infra.redis_connection()?,
            &self.metrics,
            &self.shutdown,
        );
        Ok(Outbox::new(writer, nudge))
    }

    /// Creates the durable consumer and runs `handler` on it until shutdown.
    pub async fn consume<H: Handler>(
        &self,
        spec: ConsumerSpec,
        handler: H,
    ) -> Result<(), StartupError> {
        warn_unless_permitted(self.service, &spec);
        spawn_consumer(
            self.js.clone(),
            &self.topology,
            spec,
            handler,
            &self.replayers,
            &self.metrics,
            &self.shutdown,
        )
        .await?;
        Ok(())
    }

    /// The admin API over this service's dead letters, guarded by `config.admin_token`; it
    /// replays a letter through the handler [`EventBus::consume`] registered for its consumer.
    pub fn dead_letter_api(&self) -> DeadLetterApi {
        DeadLetterApi::new(
            self.pool.clone(),
            self.replayers.clone(),
            self.admin_token.clone(),
        )
    }
}

/// A durable the bus permissions (crate::access) do not list would be refused by a server with
/// the generated users; say so at start rather than as a stream of pull errors. Services not in
/// the table (tests, benches) are not checked.
fn warn_unless_permitted(service: &str, spec: &ConsumerSpec) {
    if let Some(access) = crate::access::service(service) {
        let listed = access
            .consumers
            .iter()
            .any(|(durable, stream)| *durable == spec.durable && *stream == spec.stream);
        if !listed {
            tracing::warn!(
                consumer = spec.durable,
                stream = spec.stream.name,
                "consumer missing from libs/messaging/src/access.rs: a NATS server with the \
                 generated permissions (deploy/nats/auth.conf) refuses it"
            );
        }
    }
}

/// Lets a service's `build` use `?` on [`crate::spawn_consumer`].
impl From<ConsumerError> for StartupError {
    fn from(err: ConsumerError) -> Self {
        StartupError::Other(Box::new(err))
    }
}

impl From<ProvisionError> for StartupError {
    fn from(err: ProvisionError) -> Self {
        StartupError::Other(Box::new(err))
    }
}
