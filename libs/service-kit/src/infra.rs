//! Connections to the backends a service uses, opened and checked once at start.

use std::{sync::Arc, time::Duration};

use snowflake::Snowflake;

use redis::aio::ConnectionManager;
use sqlx::{migrate::Migrator, PgPool};

use crate::{
    config::ServiceConfig,
    db,
    nats_auth::{inbox_prefix, redact, NatsCredentials},
};

/// The oldest NATS server whose JetStream features we rely on (consumer metadata,
/// multiple filter subjects, advisories as designed).
pub const MIN_NATS_VERSION: (u32, u32) = (2, 11);

#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error("NATS_URL: cannot connect to {url}: {reason}")]
    NatsConnect { url: String, reason: String },
    #[error(
        "NATS_URL: {url} runs nats-server {version}; paymsa needs >= {}.{} with JetStream \
         (run `just up`, which starts a suitable one)",
        MIN_NATS_VERSION.0,
        MIN_NATS_VERSION.1
    )]
    NatsTooOld { url: String, version: String },
    #[error("REDIS_URL: cannot connect to {url}: {reason}")]
    Redis { url: String, reason: String },
    #[error("SNOWFLAKE_NODE_ID: {0}")]
    Ids(#[from] snowflake::SnowflakeError),
    #[error("{0} is not configured for this service (ServiceSpec)")]
    NotConfigured(&'static str),
    #[error("service {0} has a database but no migrations were given")]
    NoMigrations(&'static str),
}

/// Backends of one service; `None` for those it does not use.
#[derive(Clone)]
pub struct Infra {
    /// The service's id generator; one per process, node id from `SNOWFLAKE_NODE_ID`.
    pub ids: Arc<Snowflake>,
    pub db: Option<PgPool>,
    pub nats: Option<async_nats::Client>,
    pub redis: Option<ConnectionManager>,
}

impl Infra {
    /// `migrators`: what the service's database is migrated with, in order (the libraries'
    /// first, then the service's own; [`db::migrate`]); unused without a database.
    pub async fn connect(
        config: &ServiceConfig,
        migrators: &[&Migrator],
    ) -> Result<Self, InfraError> {
        let ids = Arc::new(Snowflake::new(config.node_id)?);
        let db = match &config.database_url {
            None => None,
            Some(_) if migrators.is_empty() => {
                return Err(InfraError::NoMigrations(config.service))
            }
            Some(url) => {
                Some(db::connect_and_migrate(url, config.db_max_connections, migrators).await?)
            }
        };
        let nats = match &config.nats_url {
            None => None,
            Some(url) => {
                Some(connect_nats_as(url, config.service, config.nats_credentials.as_ref()).await?)
            }
        };
        let redis = match &config.redis_url {
            None => None,
            Some(url) => Some(connect_redis(url).await?),
        };
        Ok(Self {
            ids,
            db,
            nats,
            redis,
        })
    }
}

impl Infra {
    /// The pool of a service whose spec declares a database.
    pub fn pool(&self) -> Result<PgPool, InfraError> {
        self.db.clone().ok_or(InfraError::NotConfigured("Postgres"))
    }

    pub fn nats_client(&self) -> Result<async_nats::Client, InfraError> {
        self.nats.clone().ok_or(InfraError::NotConfigured("NATS"))
    }

    pub fn redis_connection(&self) -> Result<ConnectionManager, InfraError> {
        self.redis.clone().ok_or(InfraError::NotConfigured("Redis"))
    }
}

fn parse_version(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.trim_start_matches('v').split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Connects and refuses servers too old for the design (Debian ships 2.9). `url` may list a
/// cluster's nodes separated by commas; the client picks one and fails over to the others.
/// Credentials in the URL (`nats://user:pass@host`) are used; see [`connect_nats_as`].
pub async fn connect_nats(url: &str, name: &str) -> Result<async_nats::Client, InfraError> {
    connect_nats_as(url, name, None).await
}

/// [`connect_nats`] as `credentials` (`NATS_USER`/`NATS_PASSWORD`), else as the URL's, else
/// without (a server without authorization). A service user's replies come to its own inbox
/// prefix, the only one its generated permissions let it subscribe to.
pub async fn connect_nats_as(
    url: &str,
    name: &str,
    credentials: Option<&NatsCredentials>,
) -> Result<async_nats::Client, InfraError> {
    let failed = |reason: String| InfraError::NatsConnect {
        url: redact(url),
        reason,
    };
    let servers = url
        .split(',')
        .map(|part| part.trim().parse::<async_nats::ServerAddr>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(e.to_string()))?;
    let mut options = async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(Duration::from_secs(5))
        // Reconnect quickly after a broker restart; the outbox covers the gap meanwhile.
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis((attempts as u64 * 100).min(2_000))
        });
    if let Some(service) = credentials {
        options = options
            .user_and_password(service.user.clone(), service.password.clone())
            .custom_inbox_prefix(inbox_prefix(&service.user));
    } else if let Some(from_url) = NatsCredentials::from_url(url) {
        options = options.user_and_password(from_url.user, from_url.password);
    }
    let client = options
        .connect(servers)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let version = client.server_info().version;
    match parse_version(&version) {
        Some(v) if v >= MIN_NATS_VERSION => Ok(client),
        _ => Err(InfraError::NatsTooOld {
            url: redact(url),
            version,
        }),
    }
}

pub async fn connect_redis(url: &str) -> Result<ConnectionManager, InfraError> {
    let err = |e: redis::RedisError| InfraError::Redis {
        url: url.to_string(),
        reason: e.to_string(),
    };
    let client = redis::Client::open(url).map_err(err)?;
    let connect = ConnectionManager::new(client);
    match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(conn) => conn.map_err(err),
        Err(_) => Err(InfraError::Redis {
            url: url.to_string(),
            reason: "timed out after 5 s".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_compare_numerically() {
        assert_eq!(super::parse_version("2.15.1"), Some((2, 15)));
        assert_eq!(super::parse_version("v2.9.25"), Some((2, 9)));
        assert!(super::parse_version("2.9.25").unwrap_or((0, 0)) < super::MIN_NATS_VERSION);
        assert_eq!(super::parse_version("garbage"), None);
    }

    /// compose.yaml and the scale-out check list a cluster's nodes; one of them being down
    /// must not stop a service from starting.
    #[tokio::test]
    async fn a_comma_separated_node_list_connects_past_a_dead_node() {
        let Ok(live) = std::env::var("TEST_NATS_URL") else {
            panic!("TEST_NATS_URL is not set: run the tests with `just test`");
        };
        let dead = format!(
            "nats://127.0.0.1:{}",
            crate::nats_server::free_port().expect("port")
        );
        let list = format!("{dead}, {live}");
        let client = super::connect_nats(&list, "infra-test")
            .await
            .expect("connects");
        assert_eq!(
            client.connection_state(),
            async_nats::connection::State::Connected
        );
        assert!(super::connect_nats("nats://a:1,nats://b:x", "infra-test")
            .await
            .is_err());
    }
}
