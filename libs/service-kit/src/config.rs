//! Configuration read from the environment once at start and validated there, so a typo stops
//! the process with a line naming the variable instead of failing on the first request.

use std::{collections::HashMap, time::Duration};

use url::Url;

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
    pub nats_url: Option<String>,
    /// Prefix of stream names and subjects; empty in production, unique per test.
    pub nats_namespace: String,
    /// `NATS_USER` / `NATS_PASSWORD`: the service's identity on the bus (docs/identity.md,
    /// "The bus"); `None` connects without (a server without authorization, the tests).
    pub nats_credentials: Option<crate::nats_auth::NatsCredentials>,
    pub redis_url: Option<String>,
    pub node_id: u16,
    pub admin_token: Option<String>,
    /// Who may call what (`AUTH_MODE`, keys, write limits); see docs/identity.md.
    pub auth: crate::auth::AuthSettings,
    pub max_body_bytes: usize,
    pub shutdown_timeout: Duration,
    pub log_format: LogFormat,
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
            nats_url,
            nats_namespace,
            nats_credentials,
            redis_url,
            node_id,
            admin_token: env.var("ADMIN_TOKEN"),
            auth: crate::auth::AuthSettings::from_source(env)?,
            max_body_bytes,
            shutdown_timeout: Duration::from_secs(parse(env, "SHUTDOWN_TIMEOUT_SECS", 10)?),
            log_format,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: ServiceSpec = ServiceSpec {
        name: "test-service",
        default_port: 8080,
        database: Some("paymsa_test"),
        default_node_id: 1,
        uses_nats: true,
        uses_redis: true,
    };

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_match_the_local_stack() {
        let config = ServiceConfig::from_source(&SPEC, &env(&[])).expect("defaults are valid");
        assert_eq!(config.port, 8080);
        assert_eq!(
            config.database_url.map(String::from).as_deref(),
            Some("postgres://postgres@127.0.0.1:5432/paymsa_test")
        );
        assert_eq!(config.log_format, LogFormat::Pretty);
    }

    #[test]
    fn a_bad_variable_is_named_in_the_error() {
        for (name, value) in [
            ("DATABASE_URL", "nope"),
            ("DATABASE_URL", "mysql://localhost/x"),
            ("NATS_URL", "http://x"),
            ("PORT", "eighty"),
            ("SNOWFLAKE_NODE_ID", "4096"),
            ("LOG_FORMAT", "xml"),
            ("NATS_NAMESPACE", "a.b"),
            ("NATS_USER", "order-service"),
            ("NATS_PASSWORD", "secret"),
            ("MAX_BODY_BYTES", "-1"),
        ] {
            let err = ServiceConfig::from_source(&SPEC, &env(&[(name, value)]))
                .expect_err("invalid value must be rejected");
            let expected = match name {
                "NATS_USER" => "NATS_PASSWORD",
                "NATS_PASSWORD" => "NATS_USER",
                _ => name,
            };
            assert_eq!(err.variable, expected, "{err}");
        }
    }

    #[test]
    fn nats_credentials_come_in_pairs_and_hide_the_password() {
        let pair = env(&[("NATS_USER", "order-service"), ("NATS_PASSWORD", "s3cret")]);
        let config = ServiceConfig::from_source(&SPEC, &pair).expect("valid");
        let creds = config.nats_credentials.expect("set");
        assert_eq!(creds.user, "order-service");
        assert!(!format!("{creds:?}").contains("s3cret"));
        let bad = env(&[("NATS_USER", "a.b"), ("NATS_PASSWORD", "x")]);
        let err = ServiceConfig::from_source(&SPEC, &bad).expect_err("not a token");
        assert_eq!(err.variable, "NATS_USER");
        let none = ServiceConfig::from_source(&SPEC, &env(&[])).expect("valid");
        assert_eq!(none.nats_credentials, None);
    }
}
