//! The periodic reconciliation job (services/order-service/src/jobs.rs): it runs under a
//! lease kept in the database, repairs what it finds, and writes its progress there — where
//! its run ended, the orders to compare again — for the next run on any instance, and for
//! every instance's gauges.

use std::time::Duration;

use paymsa_e2e::{
    eventually,
    http::metrics_text,
    money::{approve, confirm_order, new_order, payment, put_fault},
    seed::start_seeded as start,
};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn the_periodic_run_repairs_a_charge_and_records_its_progress_for_any_instance() {
    // Recovery is off: only the job can find the charge the PSP made and we never recorded.
    let system = start(&[
        ("PSP_TIMEOUT_MS", "300"),
        ("RECOVERY_INTERVAL_MS", "3600000"),
        ("RECONCILE_INTERVAL_MS", "500"),
    ])
    .await;
    let order = new_order(&system, &[1]).await;
    let key = approve(&system, &order).await;
    put_fault(
        &system,
        &order.order_id,
        json!({"mode": "timeout", "times": 1, "timeoutMs": 1500, "approveBeforeTimeout": true}),
    )
    .await;
    let (status, body) = confirm_order(&system, &key, &order).await;
    assert_eq!(status, 202, "{body}");
    eventually(WAIT, "the job accepted the PSP's charge", || async {
        (payment(&system, &order.order_id).await["status"] == "SUCCESS").then_some(())
    })
    .await;

    let pool = system.db(&order_service::SPEC).await;
    let (last_to, leased_by): (Option<chrono::DateTime<chrono::Utc>>, Option<String>) =
        eventually(WAIT, "a run recorded after the repair", || async {
            let row: (Option<chrono::DateTime<chrono::Utc>>, Option<String>) =
                sqlx::query_as("select last_to, leased_by from reconciliation_runs")
                    .fetch_one(&pool)
                    .await
                    .ok()?;
            row.0.is_some().then_some(row)
        })
        .await;
    let last_to = last_to.expect("recorded");
    assert!(
        leased_by.is_none() || leased_by.as_deref().is_some_and(|h| h.starts_with("node-")),
        "{leased_by:?}"
    );
    let metrics = metrics_text(&system.http, &system.url("order-service")).await;
    let reported = metrics
        .lines()
        .find_map(|l| l.strip_prefix("paymsa_reconciliation_last_success_timestamp_seconds"))
        .and_then(|rest| rest.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok())
        .expect("the gauge is served");
    assert!(
        reported >= (last_to.timestamp() - 60) as f64,
        "the gauge reads the shared progress: {reported} against {last_to}"
    );
    pool.close().await;
    system.stop().await;
}
