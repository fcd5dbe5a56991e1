//! [`EventBus`]: the start-up every service does, in one call: JetStream context, topology,
//! [`provision`]; then, per service, its outbox relay ([`EventBus::outbox`]) and its consumers
//! ([`EventBus::consume`]), each of which also registers its dead-letter handling: the handler
//! replays go through, and the durable whose advisories the dead-letter worker watches — the
//! worker starts once the consumers are registered ([`EventBus::start_dead_letters`]).

use std::sync::Arc;

use async_nats::jetstream::Context;
use events::Topology;
use service_kit::{Infra, Metrics, ServiceConfig, Shutdown, StartupError};
use snowflake::Snowflake;
use sqlx::PgPool;

use outbox::{Outbox, OutboxRelay, OutboxWriter, RelayConfig};

use crate::{
    dead_letters::{spawn_dead_letter_worker, DeadLetterApi},
    error::{ConsumerError, ProvisionError},
    provision,
    retention::{spawn_messaging_retention, RetentionSettings},
    spawn_consumer, ConsumerSpec, Handler, Replayers,
};

/// A service's connection to the event streams.
#[derive(Clone)]
pub struct EventBus {
    pub js: Context,
    pub topology: Topology,
    pool: PgPool,
    ids: Arc<Snowflake>,
    admin_token: Option<String>,
    service: &'static str,
    metrics: Metrics,
    shutdown: Shutdown,
    /// The handlers of this service's consumers, which its dead letters are replayed through;
    /// also the list of durables the dead-letter worker watches.
    replayers: Replayers,
}

impl EventBus {
    /// Provisions the streams. Needs the service's database (with the messaging migration) and
    /// NATS.
    pub async fn start(
        config: &ServiceConfig,
        infra: &Infra,
        metrics: &Metrics,
        shutdown: &Shutdown,
    ) -> Result<Self, StartupError> {
        // Checked here, before any consumer pulls a message: the retention job that reads
        // these settings only starts with the dead-letter worker, in `start_dead_letters`.
        RetentionSettings::from_config(config)?;
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
        Ok(Self {
            js,
            topology,
            pool,
            ids: infra.ids.clone(),
            admin_token: config.admin_token.clone(),
            service: config.service,
            metrics: metrics.clone(),
            shutdown: shutdown.clone(),
            replayers: Replayers::default(),
        })
    }

    /// Starts the dead-letter worker for the consumers [`Self::consume`] registered, and the
    /// retention of `processed_events` / `dead_letters` (`config`'s settings); a service
    /// without consumers has neither. Call once, after the last `consume`
    /// ([`crate::ServiceRuntime::serve`] does). Nothing is missed by starting after the
    /// consumers: the advisories wait in the DLQ stream, and the worker's durable reads it
    /// from the start (`DeliverPolicy::All`, runner/config.rs).
    pub async fn start_dead_letters(&self, config: &ServiceConfig) -> Result<(), StartupError> {
        let consumers = self.replayers.consumers();
        if consumers.is_empty() {
            return Ok(());
        }
        let retention = RetentionSettings::from_config(config)?;
        spawn_dead_letter_worker(
            self.js.clone(),
            &self.topology,
            self.service,
            consumers,
            self.pool.clone(),
            self.ids.clone(),
            &self.metrics,
            &self.shutdown,
        )
        .await?;
        spawn_messaging_retention(self.pool.clone(), retention, &self.shutdown);
        Ok(())
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

    /// Creates the durable consumer and runs `handler` on it until shutdown; registers the
    /// handler for dead-letter replay and the durable for [`Self::start_dead_letters`].
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
