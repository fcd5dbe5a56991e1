//! The alert rules (deploy/prometheus/rules.yml) and the Grafana dashboards
//! (deploy/grafana/dashboards) only use metrics the services really export: every `paymsa_…`
//! name in their expressions is on some service's `/metrics` once a payment went through (so
//! the lazily created series — PSP latency, request counts — exist too).

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    time::Duration,
};

use paymsa_e2e::{money, seed::start_seeded, TestSystem};
use serde_json::Value;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// Every `paymsa_…` metric name in a PromQL expression (label names never start with it).
fn metric_names(expr: &str, into: &mut BTreeSet<String>) {
    let bytes = expr.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b':';
    let mut i = 0;
    while let Some(at) = expr[i..].find("paymsa_") {
        let start = i + at;
        let mut end = start;
        while end < bytes.len() && word(bytes[end]) {
            end += 1;
        }
        if start == 0 || !word(bytes[start - 1]) {
            into.insert(expr[start..end].to_string());
        }
        i = end;
    }
}

/// (alert name, expression) of every rule, checking each alert has a severity and a summary.
fn rules() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(deploy().join("prometheus/rules.yml")).expect("rules.yml");
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("rules.yml is YAML");
    let mut out = Vec::new();
    for group in doc["groups"].as_sequence().expect("groups") {
        for rule in group["rules"].as_sequence().expect("rules") {
            let name = rule["alert"].as_str().expect("every rule is an alert");
            let severity = rule["labels"]["severity"].as_str();
            assert!(
                matches!(severity, Some("critical" | "warning")),
                "{name}: severity {severity:?}"
            );
            assert!(
                rule["annotations"]["summary"].as_str().is_some(),
                "{name}: no summary"
            );
            let expr = rule["expr"].as_str().expect("expr").to_string();
            out.push((name.to_string(), expr));
        }
    }
    out
}

/// (dashboard file, expression) of every panel target, checking the dashboards' identities.
fn dashboard_exprs() -> Vec<(String, String)> {
    let dir = deploy().join("grafana/dashboards");
    let mut uids = BTreeSet::new();
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("dashboards")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["ledger", "messaging", "payments"], "one per area");
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let dashboard: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
        let uid = dashboard["uid"].as_str().expect("uid").to_string();
        assert!(uids.insert(uid), "{file}: uid used twice");
        for panel in dashboard["panels"].as_array().expect("panels") {
            assert_eq!(
                panel["datasource"]["uid"], "paymsa-prometheus",
                "{file}: the provisioned datasource"
            );
            for target in panel["targets"].as_array().expect("targets") {
                out.push((file.clone(), target["expr"].as_str().expect("expr").into()));
            }
        }
    }
    out
}

async fn scrape_all(system: &TestSystem) -> String {
    let mut all = String::new();
    for (spec, _) in paymsa_e2e::all_services() {
        let url = format!("{}/metrics", system.url(spec.name));
        let text = system
            .http
            .get(url)
            .send()
            .await
            .expect("metrics answered")
            .text()
            .await
            .expect("text");
        all.push_str(&text);
    }
    all
}

/// The metric names a `/metrics` text exports (histograms as `_bucket`, `_sum`, `_count`).
fn exported(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn alert_rules_and_dashboards_use_only_exported_metrics() {
    let mut used = BTreeSet::new();
    let mut expressions = rules();
    assert!(expressions.len() >= 7, "{expressions:?}");
    expressions.extend(dashboard_exprs());
    for (_, expr) in &expressions {
        metric_names(expr, &mut used);
    }
    for required in [
        "paymsa_outbox_oldest_pending_age_seconds",
        "paymsa_consumer_pending_messages",
        "paymsa_dead_letters_stored",
        "paymsa_payments_unresolved",
        "paymsa_reconciliation_mismatches",
        "paymsa_psp_credential_errors_total",
    ] {
        assert!(used.contains(required), "no rule or panel uses {required}");
    }

    // Jobs that pass at least every second or two (by default settlement-redrive and
    // ledger-release pass every 30 s).
    let system = start_seeded(&[("REDRIVE_AFTER_MS", "4000"), ("SETTLEMENT_HOLD", "5s")]).await;
    let order = money::new_order(&system, &[1]).await;
    let key = money::approve(&system, &order).await;
    let (status, body) = money::confirm_order(&system, &key, &order).await;
    assert_eq!(status, 200, "confirm: {body}");

    // The outbox and consumer gauges are refreshed by background tasks: give them a moment.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let missing = loop {
        let exported = exported(&scrape_all(&system).await);
        let missing: Vec<String> = used.difference(&exported).cloned().collect();
        if missing.is_empty() || tokio::time::Instant::now() > deadline {
            break missing;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(
        missing.is_empty(),
        "rules or dashboards use metrics no service exports: {missing:?}"
    );

    // PaymsaJobStalled watches each money job's heartbeat: every one reports a pass made
    // after this test began, not only its start.
    let began = chrono::Utc::now().timestamp();
    let jobs = [
        "payment-recovery",
        "settlement-redrive",
        "payout-recovery",
        "ledger-release",
        "ledger-rollup",
    ];
    paymsa_e2e::eventually(Duration::from_secs(20), "a pass of every job", || async {
        let text = scrape_all(&system).await;
        let passed: BTreeSet<&str> = text
            .lines()
            .filter(|l| l.starts_with("paymsa_job_last_pass_timestamp_seconds{"))
            .filter(|l| {
                l.rsplit(' ')
                    .next()
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|at| at > began)
            })
            .filter_map(|l| {
                jobs.iter()
                    .copied()
                    .find(|j| l.contains(&format!("task=\"{j}\"")))
            })
            .collect();
        (passed.len() == jobs.len()).then_some(())
    })
    .await;
    system.stop().await;
}

#[test]
fn metric_names_are_read_from_expressions() {
    let mut names = BTreeSet::new();
    metric_names(
        r#"histogram_quantile(0.5, sum by (le) (rate(paymsa_a_bucket{service="x"}[5m]))) / paymsa_b and my_paymsa_c"#,
        &mut names,
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["paymsa_a_bucket", "paymsa_b"]
    );
}
