//! Streams as docs/architecture.md §4–§5 fix them, created or brought up to date at every service start.
//!
//! Every service calls [`provision`] at start, possibly at the same moment as its peers, so
//! each stream is "update, else create, else (lost the race) update again": the outcome is the
//! same configuration whoever wins.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

use async_nats::jetstream::{
    context::{CreateStreamError, CreateStreamErrorKind},
    stream::{Config, DiscardPolicy, RetentionPolicy, StorageType},
    Context, ErrorCode,
};
use events::{topology::BUSINESS_STREAMS, StreamDef, Topology};

use crate::error::ProvisionError;

/// Knobs of [`provision_with`]; [`ProvisionOptions::default`] is what [`provision`] uses.
#[derive(Debug, Clone)]
pub struct ProvisionOptions {
    /// How long business events are kept. Limits retention (not WorkQueue/Interest) so a
    /// terminated message is still there when the dead-letter worker fetches it.
    pub max_age: Duration,
    /// How long advisories stay in the DLQ stream; the dead letters themselves live in SQL.
    pub dlq_max_age: Duration,
    /// Window in which a re-published `Nats-Msg-Id` is dropped (outbox re-sends, relay churn).
    pub duplicate_window: Duration,
    /// Stream replicas; `None` picks 3 on a cluster and 1 on a single server.
    pub replicas: Option<usize>,
    /// Size limit of every stream (env `STREAM_MAX_BYTES`, default 1 GiB). A full business
    /// stream refuses new messages (`discard: new`): the publisher's outbox keeps them and
    /// retries, instead of the stream silently dropping its oldest events that a consumer may
    /// not have read yet. The DLQ stream drops its oldest advisories (`discard: old`).
    pub max_bytes: i64,
}

/// Default of [`ProvisionOptions::max_bytes`].
pub const DEFAULT_STREAM_MAX_BYTES: i64 = 1 << 30;

impl Default for ProvisionOptions {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(7 * 24 * 3600),
            dlq_max_age: Duration::from_secs(30 * 24 * 3600),
            duplicate_window: Duration::from_secs(120),
            replicas: None,
            max_bytes: stream_max_bytes_from_env(),
        }
    }
}

/// `STREAM_MAX_BYTES`: bytes, or a number with `KiB`/`MiB`/`GiB`/`TiB` (`512MiB`, `2GiB`);
/// unset or empty is [`DEFAULT_STREAM_MAX_BYTES`]. A service refuses an unreadable value at
/// start (`ServiceConfig`, libs/service-kit/src/config.rs), so the warning below is for tools.
fn stream_max_bytes_from_env() -> i64 {
    let Ok(raw) = std::env::var("STREAM_MAX_BYTES") else {
        return DEFAULT_STREAM_MAX_BYTES;
    };
    if raw.trim().is_empty() {
        return DEFAULT_STREAM_MAX_BYTES;
    }
    service_kit::config::parse_bytes(&raw).unwrap_or_else(|| {
        tracing::warn!(value = %raw, default = DEFAULT_STREAM_MAX_BYTES,
            "STREAM_MAX_BYTES is not a size (e.g. 1073741824, 512MiB, 2GiB); using the default");
        DEFAULT_STREAM_MAX_BYTES
    })
}

/// Idempotent: creates or updates every business stream and the DLQ stream. Safe to call from
/// every service at start, concurrently.
pub async fn provision(js: &Context, topology: &Topology) -> Result<(), ProvisionError> {
    provision_with(js, topology, &ProvisionOptions::default()).await
}

pub async fn provision_with(
    js: &Context,
    topology: &Topology,
    options: &ProvisionOptions,
) -> Result<(), ProvisionError> {
    // A clustered server names its cluster; the compose setup runs three nodes (R3 streams).
    let replicas = options.replicas.unwrap_or_else(|| {
        match js.client().server_info().cluster.filter(|c| !c.is_empty()) {
            Some(_) => 3,
            None => 1,
        }
    });
    for def in BUSINESS_STREAMS {
        ensure_stream(
            js,
            business_stream_config(topology, &def, options, replicas),
        )
        .await?;
    }
    ensure_stream(js, dlq_stream_config(topology, options, replicas)).await
}

/// The configuration of one business stream, as [`provision`] applies it.
pub(crate) fn business_stream_config(
    topology: &Topology,
    def: &StreamDef,
    options: &ProvisionOptions,
    replicas: usize,
) -> Config {
    Config {
        name: topology.stream_name(def),
        description: Some(format!("paymsa {} events", def.name)),
        subjects: vec![topology.subject(def.subjects)],
        retention: RetentionPolicy::Limits,
        storage: StorageType::File,
        // Full means refuse, not forget: the outbox keeps what the stream refuses.
        discard: DiscardPolicy::New,
        max_bytes: options.max_bytes,
        max_age: options.max_age,
        duplicate_window: options.duplicate_window,
        num_replicas: replicas,
        // Lets the dead-letter worker and operators read a message by sequence from any replica.
        allow_direct: true,
        ..Default::default()
    }
}

fn dlq_stream_config(topology: &Topology, options: &ProvisionOptions, replicas: usize) -> Config {
    Config {
        name: topology.dlq_stream(),
        description: Some("paymsa dead-letter advisories (max deliveries, terminated)".into()),
        subjects: topology.dlq_subjects(),
        retention: RetentionPolicy::Limits,
        storage: StorageType::File,
        // The advisories only point at dead letters that the services already keep in SQL, and
        // the server publishes them without an outbox to retry: dropping the oldest beats
        // refusing (and so losing) the newest.
        discard: DiscardPolicy::Old,
        max_bytes: options.max_bytes,
        max_age: options.dlq_max_age,
        duplicate_window: options.duplicate_window,
        num_replicas: replicas,
        ..Default::default()
    }
}

fn is_name_taken(err: &CreateStreamError) -> bool {
    matches!(err.kind(), CreateStreamErrorKind::JetStream(e) if e.error_code() == ErrorCode::STREAM_NAME_EXIST)
}

/// Update, else create; a create that loses a race to a concurrent caller updates again.
/// How long provisioning rides out a busy or electing cluster. A clustered stream is created
/// through the meta leader and a new RAFT group; with every instance of every service
/// provisioning at once (compose up, the scale-out check) requests time out for a while.
const PROVISION_PATIENCE: Duration = Duration::from_secs(90);

async fn ensure_stream(js: &Context, config: Config) -> Result<(), ProvisionError> {
    let patience = ExponentialBuilder::new()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(5))
        .without_max_times()
        .with_total_delay(Some(PROVISION_PATIENCE));
    (|| ensure_stream_once(js, &config))
        .retry(patience)
        .when(|e: &ProvisionError| {
            matches!(
                e.source.kind(),
                CreateStreamErrorKind::TimedOut | CreateStreamErrorKind::JetStreamUnavailable
            )
        })
        .notify(|e, delay| {
            tracing::warn!(stream = %config.name, error = %e.source, ?delay, "provisioning retried");
        })
        .await
}

async fn ensure_stream_once(js: &Context, config: &Config) -> Result<(), ProvisionError> {
    let fail = |source| ProvisionError {
        stream: config.name.clone(),
        source,
    };
    for _ in 0..3 {
        match js.update_stream(config).await {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == CreateStreamErrorKind::NotFound => {}
            Err(e) => return Err(fail(e)),
        }
        match js.create_stream(config.clone()).await {
            Ok(_) => return Ok(()),
            // Someone created it between our update and create: go round and update it.
            Err(e) if is_name_taken(&e) => continue,
            Err(e) => return Err(fail(e)),
        }
    }
    js.update_stream(config).await.map(|_| ()).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_streams_refuse_when_full_and_the_dlq_forgets_its_oldest() {
        let topology = Topology::new("");
        let options = ProvisionOptions {
            max_bytes: 4096,
            ..ProvisionOptions::default()
        };
        for def in BUSINESS_STREAMS {
            let config = business_stream_config(&topology, &def, &options, 1);
            assert_eq!(config.discard, DiscardPolicy::New, "{}", config.name);
            assert_eq!(config.max_bytes, 4096);
        }
        let dlq = dlq_stream_config(&topology, &options, 1);
        assert_eq!(dlq.discard, DiscardPolicy::Old);
        assert_eq!(dlq.max_bytes, 4096);
    }
}
