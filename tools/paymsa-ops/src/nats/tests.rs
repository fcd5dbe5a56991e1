//! The parts of `paymsa-ops nats` that need no server: URLs, the INFO line, passwords, state
//! paths. Starting and stopping real servers is checked by hand against scripts/nats.sh's
//! contract (docs/local-stack.md) and by every `just up` / `just test`.

use std::{os::unix::fs::PermissionsExt, path::PathBuf};

use super::{instance::Instance, probe, secrets};

#[test]
fn the_admin_url_carries_the_operators_credentials_to_every_server() {
    assert_eq!(
        secrets::with_admin("nats://127.0.0.1:4333,nats://127.0.0.1:4334", "pw"),
        "nats://paymsa-admin:pw@127.0.0.1:4333,nats://paymsa-admin:pw@127.0.0.1:4334"
    );
}

#[test]
fn the_probe_reads_host_and_port_of_the_first_server() {
    assert_eq!(probe::host_port("nats://127.0.0.1:4333"), "127.0.0.1:4333");
    assert_eq!(
        probe::host_port("nats://u:p@localhost:4334/x, nats://b:1"),
        "127.0.0.1:4334"
    );
    assert_eq!(probe::host_port("nats://example"), "example:4222");
    assert_eq!(probe::host_port("127.0.0.1:5000"), "127.0.0.1:5000");
}

#[test]
fn the_info_line_names_version_jetstream_and_auth() {
    let line = r#"INFO {"server_id":"N","version":"2.15.1","jetstream":true,"auth_required":true}"#;
    let info = probe::parse_info(line).expect("an INFO line");
    assert_eq!(info.version, "2.15.1");
    assert!(info.jetstream && info.auth_required);
    let open = probe::parse_info(r#"INFO {"version":"2.9.10"}"#).expect("an INFO line");
    assert!(!open.jetstream && !open.auth_required);
    assert_eq!(probe::parse_info("-ERR 'nope'"), None);
}

#[test]
fn every_password_variable_of_the_auth_conf_is_found_once() {
    let conf = "{ user: \"a\", password: $NATS_PASSWORD_PAYMSA_ADMIN }\n\
                { user: \"b\", password: $NATS_PASSWORD_ORDER_SERVICE\n \"$JS.API.INFO\" }\n\
                { user: \"a\", password: $NATS_PASSWORD_PAYMSA_ADMIN }";
    let names: Vec<String> = secrets::password_variables(conf).into_iter().collect();
    assert_eq!(
        names,
        ["NATS_PASSWORD_ORDER_SERVICE", "NATS_PASSWORD_PAYMSA_ADMIN"]
    );
}

/// The committed deploy/nats/auth.conf has the operators' user the admin URL needs.
#[test]
fn the_auth_conf_names_the_admin_password() {
    let conf = include_str!("../../../../deploy/nats/auth.conf");
    assert!(secrets::password_variables(conf).contains(secrets::ADMIN_VARIABLE));
}

#[test]
fn secrets_are_made_once_and_readable_only_by_the_owner() {
    let dir = std::env::temp_dir().join(format!("paymsa-ops-secrets-{}", std::process::id()));
    let file = dir.join("secrets.env");
    let names = ["NATS_PASSWORD_A".to_string(), "NATS_PASSWORD_B".to_string()].into();
    let first = secrets::ensure_file(&file, &names).expect("written");
    let again = secrets::ensure_file(&file, &names).expect("read again");
    let mode = std::fs::metadata(&file)
        .expect("exists")
        .permissions()
        .mode();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(first, again, "kept across restarts");
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|(_, pw)| pw.len() == 48));
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn the_state_files_are_those_of_scripts_nats_sh() {
    let nats = Instance::new(PathBuf::from("/repo"), "test-nats".into());
    assert_eq!(
        nats.pid_file(),
        PathBuf::from("/repo/.run/pids/test-nats.pid")
    );
    assert_eq!(nats.url_file(), PathBuf::from("/repo/.run/test-nats.url"));
    assert_eq!(
        nats.monitor_file(),
        PathBuf::from("/repo/.run/test-nats.monitor")
    );
    assert_eq!(nats.auth_mark(), PathBuf::from("/repo/.run/test-nats.auth"));
    assert_eq!(
        nats.secrets_file(),
        PathBuf::from("/repo/.run/test-nats/secrets.env")
    );
    assert_eq!(nats.marker(), "-sd /repo/.run/test-nats/data");
}

#[test]
fn free_ports_skip_the_excluded_and_the_taken() {
    let taken = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let free = super::start::free_port(port, &[port + 1]).expect("a port");
    assert!(free >= port + 2, "{free} (from {port})");
}
