//! Issue 14's safe defaults, checked where they are written: compose.yaml has no default
//! secret and binds its ports to `${BIND_ADDR:-127.0.0.1}`; each service logs in to Postgres as
//! its database's own role (scripts/compose/postgres-init.sh) and to Redis as its own ACL user
//! (scripts/compose/redis-acl.sh); deploy/compose.env.example and the k8s try-out overlay hold
//! placeholders the services refuse; nothing deployed sets `APP_ENV=dev`.

use std::collections::BTreeSet;

use crate::compose_support::{compose, example_env, read, references, ENV_EXAMPLE};
use serde_yaml::Value;
use service_kit::secrets::{self, AppEnv};

/// The secrets the services themselves check (service-kit secrets.rs and the services'
/// settings), as compose names them.
const SERVICE_SECRETS: &[&str] = &["ADMIN_TOKEN", "PSP_SECRET_KEY", "PSP_WEBHOOK_SECRET"];

fn services() -> serde_yaml::Mapping {
    compose()
        .get("services")
        .and_then(Value::as_mapping)
        .cloned()
        .expect("compose.yaml has services")
}

fn env_of(service: &Value, name: &str) -> Option<String> {
    service
        .get("environment")
        .and_then(|e| e.get(name))
        .and_then(Value::as_str)
        .map(str::to_string)
}

#[test]
fn every_secret_is_required_and_has_a_placeholder() {
    let text = read("compose.yaml");
    let example = example_env();
    let mut required = BTreeSet::new();
    for r in references(&text) {
        let secretish = ["TOKEN", "PASSWORD", "SECRET", "KEY"]
            .iter()
            .any(|w| r.name.contains(w));
        if secretish {
            assert!(
                r.op == ":?",
                "compose.yaml: ${{{}{}{}}} must be required (${{{0}:?…}}), never defaulted",
                r.name,
                r.op,
                r.word
            );
        }
        if r.op.ends_with('?') {
            required.insert(r.name);
        }
    }
    for name in &required {
        assert!(
            example.contains_key(name),
            "{name} is required by compose.yaml but missing from {ENV_EXAMPLE}"
        );
    }
    for (name, value) in &example {
        assert!(
            required.contains(name),
            "{ENV_EXAMPLE} sets {name}, which compose.yaml does not require"
        );
        assert!(
            value.starts_with("replace-me"),
            "{ENV_EXAMPLE}: {name} must be a placeholder (replace-me-…), not a usable secret"
        );
    }
    for name in SERVICE_SECRETS {
        let value = example.get(*name).map(String::as_str).unwrap_or_default();
        assert!(
            secrets::check(AppEnv::Deployed, name, value).is_err(),
            "the services must refuse {ENV_EXAMPLE}'s {name}"
        );
    }
}

#[test]
fn nothing_runs_as_dev_and_ports_stay_on_this_machine() {
    for (name, service) in services() {
        let name = name.as_str().unwrap_or_default().to_string();
        assert!(
            env_of(&service, "APP_ENV").is_none(),
            "{name}: compose.yaml must not set APP_ENV"
        );
        let Some(Value::Sequence(ports)) = service.get("ports") else {
            continue;
        };
        for port in ports.iter().filter_map(Value::as_str) {
            let parts: Vec<&str> = port.split(':').collect();
            assert!(
                parts.len() == 3 && parts[0] == "127.0.0.1",
                "{name}: port {port:?} must bind an address, 127.0.0.1 by default \
                 (\"${{BIND_ADDR:-127.0.0.1}}:host:container\")"
            );
        }
    }
}

#[test]
fn each_service_logs_in_as_itself() {
    let init = read("scripts/compose/postgres-init.sh");
    let acl = read("scripts/compose/redis-acl.sh");
    let services = services();
    let mut passwords = BTreeSet::new();
    for (name, service) in &services {
        let name = name.as_str().unwrap_or_default();
        if let Some(raw) = env_of(service, "DATABASE_URL") {
            let url = url::Url::parse(&raw).unwrap_or_else(|e| panic!("{name}: {e}"));
            let db = url.path().trim_start_matches('/');
            assert_eq!(
                url.username(),
                db,
                "{name}: the role is named like its database"
            );
            assert!(
                init.contains(&format!("create {db} PG_PASSWORD_")),
                "{name}: postgres-init.sh creates no role for {db}"
            );
            assert!(
                passwords.insert(url.password().unwrap_or_default().to_string()),
                "{name}: its Postgres password is another service's"
            );
        }
        if let Some(raw) = env_of(service, "REDIS_URL") {
            let url = url::Url::parse(&raw).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                url.username(),
                name,
                "{name}: the Redis user is the service"
            );
            let user = name.trim_end_matches("-service");
            let has_user = acl.contains(&format!("user {name} "))
                || acl.lines().any(|l| {
                    l.contains("for svc in")
                        && l.split_whitespace()
                            .any(|w| w.trim_end_matches(';') == user)
                });
            assert!(has_user, "{name}: redis-acl.sh creates no user for it");
            assert!(
                passwords.insert(url.password().unwrap_or_default().to_string()),
                "{name}: its Redis password is another's"
            );
        }
    }
}

#[test]
fn the_k8s_try_out_secrets_are_placeholders_the_services_refuse() {
    let overlay = read("deploy/k8s/overlays/local/kustomization.yaml");
    let mut seen = 0;
    for line in overlay.lines().map(str::trim) {
        let Some((name, value)) = line.strip_prefix("- ").and_then(|l| l.split_once('=')) else {
            continue;
        };
        if SERVICE_SECRETS.contains(&name) {
            seen += 1;
            assert!(
                secrets::check(AppEnv::Deployed, name, value).is_err(),
                "the overlay's {name} must be a placeholder the services refuse"
            );
        }
        if let Ok(url) = url::Url::parse(value) {
            if let Some(password) = url.password() {
                assert!(
                    password.starts_with("replace-me"),
                    "the overlay's {name} carries a usable password"
                );
            }
        }
    }
    assert!(
        seen >= 2,
        "no ADMIN_TOKEN / PSP_SECRET_KEY literals found in the overlay"
    );
}

/// Outside comments, no k8s file names APP_ENV: the services run strict there.
#[test]
fn k8s_does_not_run_as_dev() {
    let mut files = vec![
        "deploy/k8s/base/kustomization.yaml".to_string(),
        "deploy/k8s/overlays/local/kustomization.yaml".to_string(),
    ];
    let services = crate::compose_support::root().join("deploy/k8s/base/services");
    for entry in std::fs::read_dir(&services).expect("deploy/k8s/base/services") {
        let path = entry.expect("a directory entry").path();
        files.push(format!(
            "deploy/k8s/base/services/{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        ));
    }
    for file in files {
        let set = read(&file)
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .any(|l| l.contains("APP_ENV"));
        assert!(!set, "{file} must not set APP_ENV");
    }
}
