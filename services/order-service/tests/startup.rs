//! A misconfigured process stops at once with one line naming the variable.

use std::process::Command;

#[test]
fn a_bad_variable_gives_one_clear_line_and_a_failure_exit() {
    let out = Command::new(env!("CARGO_BIN_EXE_order-service"))
        .env("DATABASE_URL", "nope")
        .output()
        .expect("binary runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("DATABASE_URL"), "{stderr}");
}

#[test]
fn a_nats_server_too_old_for_the_design_is_refused() {
    // Debian's 2.9 on 4222 is the default NATS_URL; it must be refused, not silently used.
    let out = Command::new(env!("CARGO_BIN_EXE_order-service"))
        .env("NATS_URL", "nats://127.0.0.1:4222")
        .env("PORT", "0")
        // the development PSP key (and any ADMIN_TOKEN) pass, so NATS is what is refused
        .env("APP_ENV", "dev")
        .output()
        .expect("binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("NATS_URL"), "{stderr}");
}

#[test]
fn a_development_secret_is_refused_unless_app_env_is_dev() {
    // compose.yaml and deploy/k8s run without APP_ENV=dev (service-kit secrets.rs)
    let out = Command::new(env!("CARGO_BIN_EXE_order-service"))
        .env_remove("APP_ENV")
        .env("ADMIN_TOKEN", "paymsa-local-admin")
        .output()
        .expect("binary runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("ADMIN_TOKEN"), "{stderr}");
    assert!(
        !lines[0].contains("paymsa-local-admin"),
        "secrets are not echoed: {stderr}"
    );
}
