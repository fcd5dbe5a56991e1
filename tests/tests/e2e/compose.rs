//! `compose.yaml` against what the services really read. Every service of deploy/services.table
//! (which docs/configuration.md's table must repeat, and which the harness must start) must run
//! in compose with its port published (on `${BIND_ADDR:-127.0.0.1}`, tests/compose_secrets.rs)
//! and its node id, and with every variable it reads pointing at a compose service rather than
//! at the loopback defaults;
//! and the file must pass `docker compose config` wherever a compose CLI is installed. The file
//! is read interpolated with deploy/compose.env.example (compose_support). No Docker engine.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
    process::Command,
};

use crate::compose_support::{
    compose, root,
    yaml::{depends_on, environment, published_ports, scalar},
    ENV_EXAMPLE,
};
use serde_yaml::Value;
use service_kit::{stack_table, ServiceSpec};

/// Every service's `SPEC` (whose name, port, database and node id are its row of
/// deploy/services.table: ServiceSpec::from_table), as the harness starts them.
fn specs() -> Vec<&'static ServiceSpec> {
    paymsa_e2e::all_services()
        .into_iter()
        .map(|(spec, _)| spec)
        .collect()
}

/// A variable a service reads whose default is not right inside compose, but that compose may
/// leave unset, and why.
const MAY_BE_UNSET: &[(&str, &str)] = &[(
    "PUBLIC_URL",
    "order-service derives its public URL from the request's Host header when unset",
)];
/// URLs the browser opens (so they name the published host port, not a compose service).
const BROWSER_FACING: &[&str] = &["PSP_WINDOW_URL"];

struct DocRow {
    port: u16,
    database: Option<String>,
}

/// The service table of docs/configuration.md: `| service | binary | port | database |`.
fn configuration_table() -> BTreeMap<String, DocRow> {
    let path = root().join("docs/configuration.md");
    let text = fs::read_to_string(&path).expect("docs/configuration.md");
    let mut rows = BTreeMap::new();
    let mut in_table = false;
    for line in text.lines() {
        let cells: Vec<String> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().trim_matches('`').to_string())
            .collect();
        if !line.trim_start().starts_with('|') {
            if in_table {
                break;
            }
            continue;
        }
        if cells.first().map(String::as_str) == Some("service")
            && cells.get(2).map(String::as_str) == Some("port")
        {
            in_table = true;
            continue;
        }
        if !in_table
            || cells
                .iter()
                .all(|c| c.chars().all(|ch| ch == '-' || ch == ':'))
        {
            continue;
        }
        assert!(
            cells.len() >= 4,
            "docs/configuration.md: short table row {line:?}"
        );
        let port = cells[2].parse().unwrap_or_else(|_| {
            panic!(
                "docs/configuration.md: port of {:?} is {:?}",
                cells[0], cells[2]
            )
        });
        let database = match cells[3].as_str() {
            "—" | "-" | "" => None,
            db => Some(db.to_string()),
        };
        rows.insert(cells[0].clone(), DocRow { port, database });
    }
    assert!(
        !rows.is_empty(),
        "no service table found in {}",
        path.display()
    );
    rows
}

/// Every `"SOMETHING_URL"` string literal in a service's sources: the URL variables it reads.
fn url_variables_read(service: &str) -> BTreeSet<String> {
    fn walk(dir: &Path, found: &mut BTreeSet<String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = fs::read_to_string(&path).unwrap_or_default();
                for literal in text.split('"').skip(1).step_by(2) {
                    let is_var = literal.ends_with("_URL")
                        && literal.len() > 4
                        && literal
                            .chars()
                            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                    if is_var {
                        found.insert(literal.to_string());
                    }
                }
            }
        }
    }
    let mut found = BTreeSet::new();
    walk(
        &root().join("services").join(service).join("src"),
        &mut found,
    );
    found
}

fn host_of(url: &str) -> Option<String> {
    url::Url::parse(url.trim())
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
}

#[test]
fn configuration_table_matches_the_service_table() {
    let docs = configuration_table();
    for service in stack_table::SERVICES {
        let row = docs
            .get(service.name)
            .unwrap_or_else(|| panic!("docs/configuration.md has no row for {}", service.name));
        assert_eq!(
            row.port, service.port,
            "{}: port in docs vs deploy/services.table",
            service.name
        );
        assert_eq!(
            row.database.as_deref(),
            service.database,
            "{}: database in docs vs deploy/services.table",
            service.name
        );
    }
    for name in docs.keys() {
        assert!(
            stack_table::get(name).is_some(),
            "docs/configuration.md lists {name}, which deploy/services.table does not"
        );
    }
}

/// The harness (tests/src/lib.rs all_services) starts each service of the table exactly once.
#[test]
fn the_harness_starts_every_service_of_the_table() {
    let mut started: Vec<&str> = specs().iter().map(|s| s.name).collect();
    started.sort_unstable();
    let mut table: Vec<&str> = stack_table::SERVICES.iter().map(|s| s.name).collect();
    table.sort_unstable();
    assert_eq!(started, table);
}

#[test]
fn every_service_runs_in_compose_with_its_port_and_variables() {
    let compose = compose();
    let services = compose
        .get("services")
        .and_then(Value::as_mapping)
        .expect("compose.yaml has services");
    let compose_names: BTreeSet<String> = services.keys().filter_map(scalar).collect();
    let mut problems = Vec::new();

    for spec in specs() {
        let name = spec.name;
        let Some(row) = stack_table::get(name) else {
            problems.push(format!("{name}: not in deploy/services.table"));
            continue;
        };
        let Some(service) = services.get(name) else {
            problems.push(format!("{name}: no compose service of that name"));
            continue;
        };
        let port = row.port.to_string();
        let mut problem = |what: String| problems.push(format!("{name}: {what}"));

        let ports = published_ports(service);
        if !ports
            .iter()
            .any(|(host, container)| host == &port && container == &port)
        {
            problem(format!(
                "port {port} is not published as {port}:{port} (ports: {ports:?})"
            ));
        }
        if service.get("build").is_none() && service.get("image").is_none() {
            problem("neither build nor image".into());
        }
        let healthcheck = service
            .get("healthcheck")
            .and_then(|h| h.get("test"))
            .map(|t| serde_yaml::to_string(t).unwrap_or_default())
            .unwrap_or_default();
        if !healthcheck.contains("/health/ready") {
            problem(format!(
                "no healthcheck on /health/ready (test: {healthcheck:?})"
            ));
        }

        let env = environment(service);
        match env.get("PORT") {
            Some(p) if p == &port => {}
            other => problem(format!("PORT is {other:?}, the service listens on {port}")),
        }
        if env.get("HOST").map(String::as_str) != Some("0.0.0.0") {
            problem(format!(
                "HOST is {:?}: the default 127.0.0.1 is unreachable through the published port",
                env.get("HOST")
            ));
        }
        // The table's ids are unique and within 0..=1023 (service_kit::stack_table checks).
        match env.get("SNOWFLAKE_NODE_ID").map(|v| v.parse::<u16>()) {
            Some(Ok(id)) if id == row.node_id => {}
            other => problem(format!(
                "SNOWFLAKE_NODE_ID must be {} (deploy/services.table), is {other:?}",
                row.node_id
            )),
        }

        let deps = depends_on(service);
        let needs_healthy = |dep: &str, problem: &mut dyn FnMut(String)| match deps.get(dep) {
            Some(Some(c)) if c == "service_healthy" => {}
            other => problem(format!(
                "depends_on {dep} should wait for service_healthy, is {other:?}"
            )),
        };
        if let Some(db) = spec.database {
            match env
                .get("DATABASE_URL")
                .and_then(|u| url::Url::parse(u).ok())
            {
                Some(url) => {
                    let host = url.host_str().unwrap_or_default().to_string();
                    if !compose_names.contains(&host) {
                        problem(format!("DATABASE_URL host {host:?} is no compose service"));
                    } else {
                        needs_healthy(&host, &mut problem);
                    }
                    if url.path().trim_start_matches('/') != db {
                        problem(format!(
                            "DATABASE_URL names database {:?}, not {db}",
                            url.path()
                        ));
                    }
                }
                None => problem(format!(
                    "DATABASE_URL missing or not a URL: {:?}",
                    env.get("DATABASE_URL")
                )),
            }
        } else if env.contains_key("DATABASE_URL") {
            problem("DATABASE_URL set for a service without a database".into());
        }
        if spec.uses_nats {
            match env.get("NATS_URL") {
                Some(urls) => {
                    for part in urls.split(',') {
                        match host_of(part) {
                            Some(h) if compose_names.contains(&h) => {
                                needs_healthy(&h, &mut problem)
                            }
                            other => problem(format!(
                                "NATS_URL part {part:?}: host {other:?} is no compose service"
                            )),
                        }
                    }
                }
                None => problem("NATS_URL is not set".into()),
            }
            if env.get("ADMIN_TOKEN").is_none_or(String::is_empty) {
                problem(
                    "ADMIN_TOKEN is not set: its dead-letter admin API would refuse every call"
                        .into(),
                );
            }
        }
        if spec.uses_redis {
            match env.get("REDIS_URL").and_then(|u| host_of(u)) {
                Some(h) if compose_names.contains(&h) => needs_healthy(&h, &mut problem),
                other => problem(format!("REDIS_URL host {other:?} is no compose service")),
            }
        }
        for var in url_variables_read(name) {
            if ["DATABASE_URL", "NATS_URL", "REDIS_URL"].contains(&var.as_str())
                || MAY_BE_UNSET.iter().any(|(v, _)| *v == var)
            {
                continue;
            }
            match env.get(&var) {
                None => problem(format!(
                    "reads {var}, which compose does not set (its default points at 127.0.0.1)"
                )),
                Some(value) if BROWSER_FACING.contains(&var.as_str()) => {
                    if host_of(value).is_none() && !value.contains("${") {
                        problem(format!("{var} is not a URL: {value:?}"));
                    }
                }
                Some(value) => match host_of(value) {
                    Some(h) if compose_names.contains(&h) => {
                        if !deps.contains_key(&h) {
                            problem(format!("{var} points at {h}, which is not in depends_on"));
                        }
                        // the peer's port must be the one it listens on
                        let peer_port = url::Url::parse(value).ok().and_then(|u| u.port());
                        if let Some(expected) = stack_table::get(&h).map(|r| r.port) {
                            if peer_port != Some(expected) {
                                problem(format!("{var}={value}: {h} listens on {expected}"));
                            }
                        }
                    }
                    other => problem(format!(
                        "{var}={value}: host {other:?} is no compose service"
                    )),
                },
            }
        }
    }
    assert!(
        problems.is_empty(),
        "compose.yaml does not match the services:\n  {}",
        problems.join("\n  ")
    );
}

/// The compose CLI's own validation, where one is installed (CI installs Debian's
/// docker-compose; `docker compose` is preferred when present). Needs no Docker engine.
#[test]
fn compose_config_is_valid() {
    let candidates: [&[&str]; 2] = [&["docker", "compose"], &["docker-compose"]];
    let cli = candidates.into_iter().find(|cmd| {
        Command::new(cmd[0])
            .args(&cmd[1..])
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(cli) = cli else {
        // CI installs Debian's docker-compose, so there a missing tool is a failure.
        assert!(
            std::env::var_os("CI").is_none(),
            "neither `docker compose` nor `docker-compose` is installed (apt-get install docker-compose)"
        );
        eprintln!("skipped: neither `docker compose` nor `docker-compose` is installed");
        return;
    };
    let output = Command::new(cli[0])
        .args(&cli[1..])
        // compose.yaml has no default secrets: the example's placeholders stand in
        .args([
            "--env-file",
            ENV_EXAMPLE,
            "-f",
            "compose.yaml",
            "config",
            "-q",
        ])
        .current_dir(root())
        .output()
        .expect("run the compose CLI");
    assert!(
        output.status.success(),
        "`{} --env-file {ENV_EXAMPLE} -f compose.yaml config -q` failed:\n{}{}",
        cli.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
