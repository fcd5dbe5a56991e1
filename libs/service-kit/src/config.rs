//! Configuration read from the environment once at start and validated there, so a typo stops
//! the process with a line naming the variable instead of failing on the first request.

use std::{collections::HashMap, time::Duration};

use url::Url;

use crate::secrets::{self, AppEnv};

/// What a service is, fixed at compile time: its name, defaults and which backends it uses.
#[derive(Debug)]
pub struct ServiceSpec {
    pub name: &'static str,
    pub default_port: u16,
    /// Database name of the service; `None` for services without a database (the PSP sandbox).
    pub database: Option<&'static str>,
    pub default_node_id: u16,
    pub uses_nats: bool,
    pub uses_redis: bool,
}

impl ServiceSpec {
    /// Name, default port, database and default node id of `name` as deploy/services.table
    /// writes them, without NATS or Redis; a service fills those in with struct update syntax
    /// (`ServiceSpec { uses_nats: true, ..ServiceSpec::from_table("…") }`). Derived rather than
    /// written again and tested equal: the table is parsed in `const` (crate::stack_table), so
    /// the `SPEC` constants cannot disagree with it and a misspelt name fails the build.
    pub const fn from_table(name: &str) -> Self {
        let row = crate::stack_table::row(name);
        Self {
            name: row.name,
            default_port: row.port,
            database: row.database,
            default_node_id: row.node_id,
            uses_nats: false,
            uses_redis: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The validated configuration shared by every service.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub service: &'static str,
    pub host: String,
    pub port: u16,
    pub database_url: Option<Url>,
    pub db_max_connections: u32,
    /// The async runtime's worker threads (`WORKER_THREADS`); `None`: one per core.
    pub worker_threads: Option<usize>,
    pub nats_url: Option<String>,
    /// Prefix of stream names and subjects; empty in production, unique per test.
    pub nats_namespace: String,
    /// `NATS_USER` / `NATS_PASSWORD`: the service's identity on the bus (docs/identity.md,
    /// "The bus"); `None` connects without (a server without authorization, the tests).
    pub nats_credentials: Option<crate::nats_auth::NatsCredentials>,
    pub redis_url: Option<String>,
    pub node_id: u16,
    pub admin_token: Option<String>,
    /// `APP_ENV`: only `dev` may run with the repository's development secrets (crate::secrets).
    pub app_env: AppEnv,
    /// Who may call what (`AUTH_MODE`, keys, write limits); see docs/identity.md.
    pub auth: crate::auth::AuthSettings,
    pub max_body_bytes: usize,
    pub shutdown_timeout: Duration,
    pub log_format: LogFormat,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_SERVICE_NAME`: span export, off when unset
    /// (crate::otel; run_main starts it).
    pub otel: Option<crate::otel::OtelConfig>,
    /// Variables a service reads for itself (PSP keys, peer URLs); kept so tests can set them.
    pub extra: HashMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{variable}: {reason}")]
pub struct ConfigError {
    pub variable: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(variable: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            variable: variable.into(),
            reason: reason.into(),
        }
    }
}

/// A source of variables: the process environment in `main`, a map in tests.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Env for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned().filter(|v| !v.is_empty())
    }
}

fn parse<T: std::str::FromStr>(env: &dyn Env, name: &str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match env.var(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|e| ConfigError::new(name, format!("{e} (got {raw:?})"))),
    }
}

/// A size in bytes: a whole number, or one with a binary unit (`512MiB`, `2GiB`, `1 TiB`);
/// `None` for anything else, zero and overflow (`STREAM_MAX_BYTES`).
pub fn parse_bytes(text: &str) -> Option<i64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let shift = match unit.trim() {
        "" | "B" => 0,
        "KiB" | "K" => 10,
        "MiB" | "M" => 20,
        "GiB" | "G" => 30,
        "TiB" | "T" => 40,
        _ => return None,
    };
    let n: i64 = number.parse().ok()?;
    n.checked_mul(1 << shift).filter(|n| *n > 0)
}

fn parse_url(name: &str, raw: &str, schemes: &[&str]) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|e| ConfigError::new(name, format!("{e} (got {raw:?})")))?;
    if !schemes.contains(&url.scheme()) {
        return Err(ConfigError::new(
            name,
            format!("scheme must be one of {schemes:?} (got {raw:?})"),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::new(
            name,
            format!("missing host (got {raw:?})"),
        ));
    }
    Ok(url)
}

impl ServiceConfig {
    pub fn topology(&self) -> events::Topology {
        events::Topology::new(self.nats_namespace.clone())
    }

    /// Reads the process environment.
    pub fn from_env(spec: &ServiceSpec) -> Result<Self, ConfigError> {
        Self::from_source(spec, &ProcessEnv)
    }

    pub fn from_source(spec: &ServiceSpec, env: &dyn Env) -> Result<Self, ConfigError> {
        let database_url = match spec.database {
            None => None,
            Some(db) => {
                let raw = env
                    .var("DATABASE_URL")
                    .unwrap_or_else(|| format!("postgres://postgres@127.0.0.1:5432/{db}"));
                let url = parse_url("DATABASE_URL", &raw, &["postgres", "postgresql"])?;
                if url.path().trim_start_matches('/').is_empty() {
                    return Err(ConfigError::new("DATABASE_URL", "missing database name"));
                }
                Some(url)
            }
        };
        let nats_url = match spec.uses_nats {
            false => None,
            true => {
                let raw = env
                    .var("NATS_URL")
                    .unwrap_or_else(|| "nats://127.0.0.1:4222".into());
                for part in raw.split(',') {
                    parse_url("NATS_URL", part.trim(), &["nats", "tls"])?;
                }
                Some(raw)
            }
        };
        let nats_credentials = match spec.uses_nats {
            false => None,
            true => crate::nats_auth::NatsCredentials::from_env(env)?,
        };
        let redis_url = match spec.uses_redis {
            false => None,
            true => {
                let raw = env
                    .var("REDIS_URL")
                    .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
                parse_url("REDIS_URL", &raw, &["redis", "rediss"])?;
                Some(raw)
            }
        };
        let nats_namespace = env.var("NATS_NAMESPACE").unwrap_or_default();
        if !nats_namespace
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ConfigError::new(
                "NATS_NAMESPACE",
                format!("only letters, digits, '_' and '-' (got {nats_namespace:?})"),
            ));
        }
        let node_id: u16 = parse(env, "SNOWFLAKE_NODE_ID", spec.default_node_id)?;
        if node_id > 1023 {
            return Err(ConfigError::new(
                "SNOWFLAKE_NODE_ID",
                format!("must be 0..=1023 (got {node_id})"),
            ));
        }
        let log_format = match env.var("LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new(
                    "LOG_FORMAT",
                    format!("must be pretty or json (got {other:?})"),
                ))
            }
        };
        let db_max_connections: u32 = parse(env, "DB_MAX_CONNECTIONS", 10)?;
        if db_max_connections == 0 {
            return Err(ConfigError::new("DB_MAX_CONNECTIONS", "must be at least 1"));
        }
        let worker_threads = match env.var("WORKER_THREADS") {
            None => None,
            Some(_) => match parse(env, "WORKER_THREADS", 0usize)? {
                n @ 1..=256 => Some(n),
                n => {
                    return Err(ConfigError::new(
                        "WORKER_THREADS",
                        format!("must be 1..=256 (got {n})"),
                    ))
                }
            },
        };
        let app_env = AppEnv::from_source(env);
        // compose.env.example's placeholders in connection URLs and the bus password would
        // otherwise run a deployed stack with them (found in review).
        if let Some(url) = &database_url {
            secrets::check_url_password(app_env, "DATABASE_URL", url)?;
        }
        if let Some(raw) = &redis_url {
            secrets::check_url_password(
                app_env,
                "REDIS_URL",
                &parse_url("REDIS_URL", raw, &["redis", "rediss"])?,
            )?;
        }
        if let Some(credentials) = &nats_credentials {
            secrets::check_password(app_env, "NATS_PASSWORD", &credentials.password)?;
        }
        let admin_token = env.var("ADMIN_TOKEN");
        if let Some(token) = &admin_token {
            secrets::check(app_env, "ADMIN_TOKEN", token)?;
        }
        // Read by libs/messaging/src/provision.rs when the service creates its streams; checked
        // here so a typo stops the process instead of resizing every stream to the default.
        if let Some(raw) = env.var("STREAM_MAX_BYTES").filter(|_| spec.uses_nats) {
            if parse_bytes(&raw).is_none() {
                return Err(ConfigError::new(
                    "STREAM_MAX_BYTES",
                    format!(
                        "must be a whole number of bytes, or one with KiB/MiB/GiB/TiB \
                         (e.g. 536870912, 512MiB, 2GiB); got {raw:?}"
                    ),
                ));
            }
        }
        let max_body_bytes: usize = parse(env, "MAX_BODY_BYTES", 64 * 1024)?;
        if max_body_bytes < 1024 {
            return Err(ConfigError::new("MAX_BODY_BYTES", "must be at least 1024"));
        }
        Ok(Self {
            service: spec.name,
            host: env.var("HOST").unwrap_or_else(|| "127.0.0.1".into()),
            port: parse(env, "PORT", spec.default_port)?,
            database_url,
            db_max_connections,
            worker_threads,
            nats_url,
            nats_namespace,
            nats_credentials,
            redis_url,
            node_id,
            admin_token,
            app_env,
            auth: crate::auth::AuthSettings::from_source(env)?,
            max_body_bytes,
            shutdown_timeout: Duration::from_secs(parse(env, "SHUTDOWN_TIMEOUT_SECS", 10)?),
            log_format,
            otel: crate::otel::OtelConfig::from_source(env, spec.name)?,
            extra: HashMap::new(),
        })
    }

    /// A service-specific variable, e.g. `CATALOG_URL`.
    pub fn extra_var(&self, name: &str) -> Option<String> {
        self.extra
            .get(name)
            .cloned()
            .or_else(|| ProcessEnv.var(name))
    }

    /// A service-specific secret with a public development default (`PSP_SECRET_KEY`,
    /// `PSP_WEBHOOK_SECRET`, …): the default only with `APP_ENV=dev`, elsewhere it must be set
    /// and strong (crate::secrets). `list`: comma-separated values (a key being rotated).
    pub fn secret(&self, name: &str, dev_default: &str, list: bool) -> Result<String, ConfigError> {
        secrets::required(self.app_env, name, self.extra_var(name), dev_default, list)
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
