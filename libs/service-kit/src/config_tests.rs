//! ServiceConfig's parsing and validation (config.rs), the secret checks included.

use super::*;

const SPEC: ServiceSpec = ServiceSpec {
    name: "test-service",
    default_port: 8080,
    database: Some("paymsa_test"),
    default_node_id: 1,
    uses_nats: true,
    uses_redis: true,
};

/// `pairs`, in open mode unless they say otherwise: outside `APP_ENV=dev` an unset
/// `AUTH_MODE` is jwt and needs keys (auth_config.rs), which these tests are not about.
fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    std::iter::once(("AUTH_MODE", "open"))
        .chain(pairs.iter().copied())
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
    assert_eq!(config.worker_threads, None, "one per core");
}

#[test]
fn a_service_can_run_on_fewer_worker_threads_than_cores() {
    let config =
        ServiceConfig::from_source(&SPEC, &env(&[("WORKER_THREADS", "1")])).expect("1 is valid");
    assert_eq!(config.worker_threads, Some(1));
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
        ("WORKER_THREADS", "0"),
        ("WORKER_THREADS", "two"),
        ("TRUSTED_PROXY_HOPS", "6"),
        ("TRUSTED_PROXY_HOPS", "-1"),
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
fn a_development_admin_token_is_refused_unless_app_env_is_dev() {
    for token in [
        "paymsa-local-admin",
        "test-admin-token",
        "change-me",
        "tooshort-0123456789",
    ] {
        let err = ServiceConfig::from_source(&SPEC, &env(&[("ADMIN_TOKEN", token)]))
            .expect_err("a known or short token must be refused outside dev");
        assert_eq!(err.variable, "ADMIN_TOKEN", "{err}");
        let dev =
            ServiceConfig::from_source(&SPEC, &env(&[("ADMIN_TOKEN", token), ("APP_ENV", "dev")]))
                .expect("dev takes any token");
        assert_eq!(dev.admin_token.as_deref(), Some(token));
    }
    let strong = "9b1e4f0c7a2d48e6b3c5f1a0d9e8c7b6";
    let config = ServiceConfig::from_source(&SPEC, &env(&[("ADMIN_TOKEN", strong)]))
        .expect("a long random token is fine");
    assert_eq!(config.app_env, AppEnv::Deployed);
    // unset: the admin endpoints are off (admin.rs), which is safe
    let config = ServiceConfig::from_source(&SPEC, &env(&[])).expect("no token is fine");
    assert_eq!(config.admin_token, None);
}

#[test]
fn a_service_secret_has_its_default_only_in_dev() {
    let mut config = ServiceConfig::from_source(&SPEC, &env(&[])).expect("defaults");
    let err = config
        .secret("PAYMSA_TEST_ONLY_SECRET", "test_sk_sandbox", false)
        .expect_err("no default outside dev");
    assert_eq!(err.variable, "PAYMSA_TEST_ONLY_SECRET");
    config.app_env = AppEnv::Dev;
    assert_eq!(
        config
            .secret("PAYMSA_TEST_ONLY_SECRET", "test_sk_sandbox", false)
            .ok()
            .as_deref(),
        Some("test_sk_sandbox")
    );
}

#[test]
fn nats_credentials_come_in_pairs_and_hide_the_password() {
    let pair = env(&[
        ("NATS_USER", "order-service"),
        ("NATS_PASSWORD", "s3cret-0b7e6f1c9a3d4e5f8a7b6c5d"),
    ]);
    let config = ServiceConfig::from_source(&SPEC, &pair).expect("valid");
    let creds = config.nats_credentials.expect("set");
    assert_eq!(creds.user, "order-service");
    assert!(!format!("{creds:?}").contains("s3cret-0b7e"));
    let bad = env(&[("NATS_USER", "a.b"), ("NATS_PASSWORD", "x")]);
    let err = ServiceConfig::from_source(&SPEC, &bad).expect_err("not a token");
    assert_eq!(err.variable, "NATS_USER");
    let none = ServiceConfig::from_source(&SPEC, &env(&[])).expect("valid");
    assert_eq!(none.nats_credentials, None);
}

#[test]
fn sizes_read_as_bytes_or_binary_units() {
    assert_eq!(parse_bytes("1073741824"), Some(1 << 30));
    assert_eq!(parse_bytes("512MiB"), Some(512 << 20));
    assert_eq!(parse_bytes(" 2GiB "), Some(2 << 30));
    assert_eq!(parse_bytes("1 TiB"), Some(1 << 40));
    for bad in ["", "0", "-1", "1.5GiB", "1GB", "lots", "99999999999TiB"] {
        assert_eq!(parse_bytes(bad), None, "{bad}");
    }
}

#[test]
fn an_unreadable_stream_size_stops_the_service() {
    let ok = ServiceConfig::from_source(&SPEC, &env(&[("STREAM_MAX_BYTES", "2GiB")]));
    assert!(ok.is_ok(), "{ok:?}");
    for bad in ["2GB", "1.5GiB", "0"] {
        let err = ServiceConfig::from_source(&SPEC, &env(&[("STREAM_MAX_BYTES", bad)]))
            .expect_err("a typo must not resize every stream to the default");
        assert_eq!(err.variable, "STREAM_MAX_BYTES", "{bad}");
    }
    let no_bus = ServiceSpec {
        uses_nats: false,
        ..SPEC
    };
    let ignored = ServiceConfig::from_source(&no_bus, &env(&[("STREAM_MAX_BYTES", "2GB")]));
    assert!(
        ignored.is_ok(),
        "a service without the bus creates no stream"
    );
}

#[test]
fn placeholder_passwords_stop_a_deployed_service() {
    let deployed = |pairs: &[(&str, &str)]| ServiceConfig::from_source(&SPEC, &env(pairs));
    let refused = [
        (
            "DATABASE_URL",
            "postgres://order:replace-me-pg-order@db:5432/paymsa_order",
        ),
        (
            "REDIS_URL",
            "redis://order:replace-me-redis-order@redis:6379",
        ),
    ];
    for (name, value) in refused {
        let err = deployed(&[(name, value)]).expect_err("a placeholder password");
        assert_eq!(err.variable, name);
    }
    let bus = [
        ("NATS_USER", "order-service"),
        ("NATS_PASSWORD", "replace-me-nats-order-service"),
    ];
    assert_eq!(
        deployed(&bus).expect_err("a placeholder").variable,
        "NATS_PASSWORD"
    );
    // Real ones pass, whatever their length (a short NATS password too); dev takes anything.
    let real = deployed(&[
        (
            "DATABASE_URL",
            "postgres://order:9f2c41aa@db:5432/paymsa_order",
        ),
        ("NATS_USER", "order-service"),
        ("NATS_PASSWORD", "0b7e6f1c"),
    ]);
    assert!(real.is_ok(), "{real:?}");
    let dev = deployed(&[
        ("APP_ENV", "dev"),
        ("NATS_USER", "order-service"),
        ("NATS_PASSWORD", "x"),
    ]);
    assert!(dev.is_ok(), "{dev:?}");
}
