//! The periodic reconciliation job (services/order-service/src/jobs.rs): it runs under a
//! lease kept in the database, repairs what it finds, and writes its progress there — where
//! its run ended, the orders to compare again — for the next run on any instance, and for
//! every instance's gauges.

use std::time::Duration;

use paymsa_e2e::{
    eventually,
    http::{metrics_text, send},
    money::{approve, confirm_with_lost_answer, new_order, payment, PSP_SECRET},
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
    confirm_with_lost_answer(&system, &key, &order, true).await;
    eventually(WAIT, "the job accepted the PSP's charge", || async {
        (payment(&system, &order.order_id).await["status"] == "SUCCESS").then_some(())
    })
    .await;

    let pool = system.db(&order_service::SPEC).await;
    eventually(WAIT, "a run recorded, its lease given back", || async {
        let (last_to, leased_by): (Option<chrono::DateTime<chrono::Utc>>, Option<String>) =
            sqlx::query_as("select last_to, leased_by from reconciliation_runs")
                .fetch_one(&pool)
                .await
                .ok()?;
        (last_to.is_some() && leased_by.is_none()).then_some(())
    })
    .await;

    // Another instance leads now, and its last run listed 7 orders for a person: this
    // instance runs nothing, and its gauge shows the shared figure, not its own last run's.
    sqlx::query(
        "update reconciliation_runs
            set leased_by = 'node-elsewhere', leased_until = now() + interval '1 hour',
                unrepaired = 7",
    )
    .execute(&pool)
    .await
    .expect("another instance's lease");
    let base = system.url("order-service");
    eventually(WAIT, "the gauge to read the shared progress", || async {
        let metrics = metrics_text(&system.http, &base).await;
        metrics
            .lines()
            .any(|l| l.starts_with("paymsa_reconciliation_mismatches") && l.ends_with(" 7"))
            .then_some(())
    })
    .await;
    let leased_by: Option<String> = sqlx::query_scalar("select leased_by from reconciliation_runs")
        .fetch_one(&pool)
        .await
        .expect("lease");
    assert_eq!(
        leased_by.as_deref(),
        Some("node-elsewhere"),
        "the lease was respected"
    );
    pool.close().await;
    system.stop().await;
}

/// A charge at the PSP for an order we do not have: every run lists it, and carries it.
async fn charge_unknown_order(system: &paymsa_e2e::TestSystem, order_id: &str) {
    let psp = system.url("psp-sandbox");
    let (status, approval) = send(
        system
            .http
            .post(format!("{psp}/sandbox/approvals"))
            .json(&json!({"orderId": order_id, "amount": 1000, "orderName": "nobody's order"})),
    )
    .await;
    assert_eq!(status, 201, "{approval}");
    let (status, charged) = send(
        system
            .http
            .post(format!("{psp}/v1/payments/confirm"))
            .basic_auth(PSP_SECRET, Some(""))
            .json(&json!({
                "paymentKey": approval["paymentKey"],
                "orderId": order_id,
                "amount": 1000,
            })),
    )
    .await;
    assert_eq!(status, 200, "{charged}");
}

async fn last_to(pool: &sqlx::PgPool) -> Option<chrono::DateTime<chrono::Utc>> {
    sqlx::query_scalar("select last_to from reconciliation_runs")
        .fetch_optional(pool)
        .await
        .expect("progress")
        .flatten()
}

/// A run that leaves more unresolved orders than it may carry (`RECONCILE_CARRIED_MAX`) is
/// not recorded, so the next compares its span again (and `PaymsaReconciliationStale` fires
/// if that goes on). Until stop 31 it kept the first ones and dropped the rest, which no run
/// compared again once the window had moved on.
#[tokio::test]
async fn a_run_that_cannot_carry_its_unresolved_orders_is_not_recorded() {
    let system = start(&[
        ("RECONCILE_INTERVAL_MS", "300"),
        ("RECONCILE_CARRIED_MAX", "1"),
    ])
    .await;
    let pool = system.db(&order_service::SPEC).await;
    eventually(WAIT, "a first run recorded", || async {
        last_to(&pool).await
    })
    .await;
    let tag = chrono::Utc::now().timestamp_micros();
    for n in 0..2 {
        charge_unknown_order(&system, &format!("orphan-{n}-{tag}")).await;
    }
    // Each run takes and gives back the lease (two updates of the one row), recorded or not:
    // counted, so "nothing recorded" cannot pass on a job that stopped running.
    sqlx::raw_sql(
        "create table test_run_writes (at timestamptz not null default now());
         create function test_count_run_write() returns trigger language plpgsql as $$
           begin insert into test_run_writes default values; return new; end $$;
         create trigger test_count_run_writes after update on reconciliation_runs
           for each row execute function test_count_run_write();",
    )
    .execute(&pool)
    .await
    .expect("count the runs");
    let writes = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from test_run_writes")
            .fetch_one(&pool)
            .await
            .expect("run writes")
    };
    // Every run from now on leaves both unresolved: a few runs' time, then a few more.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let then = last_to(&pool).await;
    let runs_then = writes().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        last_to(&pool).await,
        then,
        "a run was recorded with an unresolved order dropped"
    );
    let runs = writes().await - runs_then;
    assert!(
        runs >= 4,
        "the job kept running meanwhile ({runs} lease writes)"
    );
    let carried: Vec<String> = sqlx::query_scalar("select order_id from reconciliation_carried")
        .fetch_all(&pool)
        .await
        .expect("carried");
    assert!(carried.len() <= 1, "{carried:?}");
    pool.close().await;
    system.stop().await;
}
