//! Helpers for tests that host services in-process against the real Postgres, NATS and Redis.
//!
//! `just test` exports `TEST_DATABASE_URL` (server, no database), `TEST_NATS_URL` and
//! `TEST_REDIS_URL`. Each test gets its own database per service and its own NATS namespace,
//! so tests run in parallel without sharing state.

use std::collections::HashMap;

use crate::config::{ServiceConfig, ServiceSpec};

fn var(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// A fresh namespace: lowercase letters and digits, unique per call.
pub fn unique_namespace() -> String {
    // Every test starts here, so this is where its HTTP clients get their TLS provider.
    crate::install_crypto_provider();
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("t{}", &id[..12])
}

/// Configuration for hosting `spec` in a test: port 0, a database of its own named after the
/// namespace, and the shared test servers.
pub fn test_config(spec: &ServiceSpec, namespace: &str) -> ServiceConfig {
    crate::install_crypto_provider();
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert("PORT".into(), "0".into());
    if let Some(db) = spec.database {
        let server = var("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432");
        env.insert(
            "DATABASE_URL".into(),
            format!("{}/{db}_{namespace}", server.trim_end_matches('/')),
        );
    }
    env.insert(
        "NATS_URL".into(),
        std::env::var("TEST_NATS_URL").unwrap_or_else(|_| {
            panic!("TEST_NATS_URL is not set: run the tests with `just test`, which starts a NATS >= 2.11")
        }),
    );
    env.insert("NATS_NAMESPACE".into(), namespace.into());
    env.insert(
        "REDIS_URL".into(),
        var("TEST_REDIS_URL", "redis://127.0.0.1:6379"),
    );
    env.insert("ADMIN_TOKEN".into(), "test-admin-token".into());
    env.insert("SHUTDOWN_TIMEOUT_SECS".into(), "5".into());
    // A whole system is 9 pools (psp-sandbox keeps its payments in Postgres too), two systems
    // run at once (.config/nextest.toml), and `just up`'s stack may hold 9 × 4 beside them:
    // 2 × 9 × 4 + 36 stays under Postgres' default 100 connections only because pools open
    // connections on demand; 4 is what a test system needs (the keyed checkout runs on 1).
    env.insert("DB_MAX_CONNECTIONS".into(), "4".into());
    match ServiceConfig::from_source(spec, &env) {
        Ok(config) => config,
        Err(e) => panic!("test configuration is invalid: {e}"),
    }
}
