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
    // the tests run with the repository's development secrets (test-admin-token, the PSP
    // sandbox's test_sk_ keys), which only APP_ENV=dev accepts (secrets.rs)
    env.insert("APP_ENV".into(), "dev".into());
    env.insert("ADMIN_TOKEN".into(), "test-admin-token".into());
    env.insert("SHUTDOWN_TIMEOUT_SECS".into(), "5".into());
    // A whole system is 9 pools (psp-sandbox keeps its payments in Postgres too), two systems
    // run at once (.config/nextest.toml), and `just up`'s stack may hold 9 × 4 beside them:
    // 2 × 9 × 3 + 36 = 90 fits Postgres' default 100 connections (the keyed checkout is tested
    // on a pool of 1, so 3 is plenty for a test's load).
    env.insert("DB_MAX_CONNECTIONS".into(), "3".into());
    match ServiceConfig::from_source(spec, &env) {
        Ok(config) => config,
        Err(e) => panic!("test configuration is invalid: {e}"),
    }
}

/// How long a cleanup may wait for a NATS server (a private server of the test may be gone).
const CLEANUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn connect_for_cleanup(nats_url: &str) -> Option<async_nats::jetstream::Context> {
    let connect = async_nats::ConnectOptions::new()
        .name("paymsa-test-cleanup")
        .connection_timeout(std::time::Duration::from_secs(3))
        .connect(nats_url);
    match tokio::time::timeout(CLEANUP_TIMEOUT, connect).await {
        Ok(Ok(client)) => Some(async_nats::jetstream::new(client)),
        _ => None,
    }
}

/// The streams a namespace can own: every business stream and the DLQ stream.
pub fn namespace_streams(namespace: &str) -> Vec<String> {
    let topology = events::Topology::new(namespace);
    events::topology::BUSINESS_STREAMS
        .iter()
        .map(|def| topology.stream_name(def))
        .chain([topology.dlq_stream()])
        .collect()
}

/// Deletes the streams of `namespace` (and with them their consumers) on the server at
/// `nats_url`; returns how many existed. Best effort like dropping the test's databases: an
/// unreachable server (a private one already stopped) deletes nothing.
pub async fn delete_namespace_streams(nats_url: &str, namespace: &str) -> usize {
    let Some(js) = connect_for_cleanup(nats_url).await else {
        return 0;
    };
    let deletes = namespace_streams(namespace).into_iter().map(|name| {
        let js = js.clone();
        async move {
            let delete = js.delete_stream(name);
            matches!(
                tokio::time::timeout(CLEANUP_TIMEOUT, delete).await,
                Ok(Ok(_))
            )
        }
    });
    let deleted = futures::future::join_all(deletes).await;
    let _ = js.client().flush().await;
    deleted.into_iter().filter(|d| *d).count()
}

/// Everything a test made for `config`: its database and its NATS namespace's streams.
pub async fn drop_test_state(config: &ServiceConfig) {
    if let Some(url) = &config.database_url {
        let _ = crate::db::drop_database(url).await;
    }
    if let Some(nats_url) = &config.nats_url {
        if !config.nats_namespace.is_empty() {
            delete_namespace_streams(nats_url, &config.nats_namespace).await;
        }
    }
}

/// `true` for a stream of a test namespace ([`unique_namespace`]): `T` + 12 hex digits + `_`.
/// The stack's own streams have no namespace (`ORDERS`, `DLQ`).
pub fn is_test_stream(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() > 14
        && b[0] == b'T'
        && b[1..13]
            .iter()
            .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
        && b[13] == b'_'
}

/// Deletes every test-namespace stream on the server at `nats_url` (leftovers of tests that
/// panicked or were interrupted); `scripts/test.sh` runs it before and after a run. Returns
/// (deleted, streams that were left alone).
pub async fn sweep_test_streams(nats_url: &str) -> Result<(usize, usize), async_nats::Error> {
    use futures::{StreamExt, TryStreamExt};
    let client = async_nats::ConnectOptions::new()
        .name("paymsa-test-sweep")
        .connection_timeout(std::time::Duration::from_secs(5))
        .connect(nats_url)
        .await?;
    let js = async_nats::jetstream::new(client);
    let names: Vec<String> = js.stream_names().try_collect().await?;
    let (tests, kept): (Vec<String>, Vec<String>) =
        names.into_iter().partition(|n| is_test_stream(n));
    let deleted = futures::stream::iter(tests)
        .map(|name| {
            let js = js.clone();
            async move { js.delete_stream(name).await.is_ok() }
        })
        .buffer_unordered(16)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    js.client().flush().await?;
    Ok((deleted, kept.len()))
}

/// Message `seq` of a stream, `None` if there is none (deleted). Any other failure (a request
/// that timed out while `just test` loads the machine) is asked again, for up to 5 s, then
/// panics: a harness that skipped it made an event look missing (wallet-service's
/// tests/reversal.rs once saw no `wallet.settled` that was there).
pub async fn stream_message(
    stream: &async_nats::jetstream::stream::Stream,
    seq: u64,
) -> Option<async_nats::jetstream::message::StreamMessage> {
    use async_nats::jetstream::stream::RawMessageErrorKind;
    for _ in 0..50 {
        match stream.get_raw_message(seq).await {
            Ok(m) => return Some(m),
            Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => return None,
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    panic!("stream message {seq} could not be read");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_streams_are_told_from_the_stacks() {
        let ns = unique_namespace();
        for name in namespace_streams(&ns) {
            assert!(is_test_stream(&name), "{name}");
        }
        for name in [
            "ORDERS",
            "DLQ",
            "KV_X",
            "TABCDEF012345",
            "T0123456789ab_ORDERS",
        ] {
            assert!(!is_test_stream(name), "{name}");
        }
    }
}
