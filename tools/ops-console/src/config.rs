//! The console's settings, from the environment (docs/operations.md "Ops console").

use std::time::Duration;

use service_kit::stack_table;
use url::Url;

/// The local stack's services and ports: deploy/services.table (service_kit::stack_table)
/// without the PSP sandbox, which stands in for the PSP and has no admin API. The console asks
/// every one: a service without dead letters answers 404 to `/admin/dead-letters` and one
/// without an outbox has no `outbox_backlog` series.
fn local_services() -> impl Iterator<Item = &'static stack_table::ServiceRow> {
    stack_table::SERVICES
        .iter()
        .filter(|s| s.name != "psp-sandbox")
}

/// The service whose admin API has the payments views (services/order-service/src/admin.rs).
pub const PAYMENTS_SERVICE: &str = "order-service";

#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    pub host: String,
    pub port: u16,
    /// Name and base URL of every service the console reads, in display order.
    pub services: Vec<(String, Url)>,
    /// The NATS monitoring endpoint (`http://127.0.0.1:8222`; `.run/nats.monitor` for `just up`).
    pub nats_monitor: Url,
    /// Only streams of this namespace (`NATS_NAMESPACE` of the services); empty shows every
    /// stream except the tests' (T + 12 hex + `_`).
    pub nats_namespace: String,
    /// How long a login lasts without a request.
    pub session_idle: Duration,
    /// Timeout of each call to a service or to NATS.
    pub upstream_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("{name}: {why}")]
pub struct ConfigError {
    pub name: &'static str,
    pub why: String,
}

fn invalid(name: &'static str, why: impl Into<String>) -> ConfigError {
    ConfigError {
        name,
        why: why.into(),
    }
}

fn parse_url(name: &'static str, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw.trim()).map_err(|e| invalid(name, format!("{raw:?}: {e}")))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(invalid(
            name,
            format!("{raw:?}: scheme {other} is not http(s)"),
        )),
    }
}

/// `name=url,name=url`.
fn parse_services(raw: &str) -> Result<Vec<(String, Url)>, ConfigError> {
    raw.split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let (name, url) = part
                .split_once('=')
                .ok_or_else(|| invalid("CONSOLE_SERVICES", format!("{part:?} is not name=url")))?;
            Ok((name.trim().to_string(), parse_url("CONSOLE_SERVICES", url)?))
        })
        .collect()
}

impl ConsoleConfig {
    /// The local stack's defaults, for `services` and a NATS monitoring endpoint.
    pub fn new(services: Vec<(String, Url)>, nats_monitor: Url) -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8095,
            services,
            nats_monitor,
            nats_namespace: String::new(),
            session_idle: Duration::from_secs(8 * 3600),
            upstream_timeout: Duration::from_secs(10),
        }
    }

    /// `HOST`, `PORT` (8095), `CONSOLE_SERVICES` (`name=url,…`; default the local stack),
    /// `NATS_MONITOR_URL` (default `http://127.0.0.1:8222`), `NATS_NAMESPACE`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let services = match var("CONSOLE_SERVICES") {
            Some(raw) => parse_services(&raw)?,
            None => local_services()
                .map(|s| {
                    Ok((
                        s.name.to_string(),
                        parse_url("CONSOLE_SERVICES", &s.local_url())?,
                    ))
                })
                .collect::<Result<_, ConfigError>>()?,
        };
        if services.is_empty() {
            return Err(invalid("CONSOLE_SERVICES", "names no service"));
        }
        let monitor = var("NATS_MONITOR_URL").unwrap_or_else(|| "http://127.0.0.1:8222".into());
        let mut config = Self::new(services, parse_url("NATS_MONITOR_URL", &monitor)?);
        if let Some(host) = var("HOST") {
            config.host = host;
        }
        if let Some(port) = var("PORT") {
            config.port = port
                .parse()
                .map_err(|_| invalid("PORT", format!("{port:?} is not a port")))?;
        }
        if let Some(ns) = var("NATS_NAMESPACE") {
            config.nats_namespace = ns;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_lists_are_parsed_and_garbage_refused() {
        let s = parse_services("a=http://127.0.0.1:1, b = http://h:2/").expect("valid");
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].0, "b");
        assert!(parse_services("a").is_err());
        assert!(parse_services("a=nats://x:1").is_err());
    }

    #[test]
    fn the_local_stack_is_every_service_but_the_psp_sandbox() {
        let local: Vec<(&str, u16)> = local_services().map(|s| (s.name, s.port)).collect();
        assert_eq!(
            local,
            [
                ("order-service", 8080),
                ("catalog-service", 8081),
                ("wallet-service", 8082),
                ("seller-service", 8083),
                ("hot-catalog-service", 8084),
                ("catalog-review-service", 8085),
                ("catalog-like-service", 8086),
                ("order-query-service", 8087),
            ]
        );
    }
}
