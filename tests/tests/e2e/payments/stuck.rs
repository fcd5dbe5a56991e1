//! An attempt nobody finishes. Recovery takes an order EXECUTING past `RECOVERY_STALE_MS`; one
//! still EXECUTING ten minutes on means recovery is not writing, and it must reach a person
//! (services/order-service/src/store/recovery.rs `unresolved`).

use paymsa_e2e::money::order_admin;

use super::*;

/// The order ids `GET /admin/payments/unresolved` lists.
async fn listed(system: &TestSystem) -> Vec<String> {
    let (status, unresolved) = order_admin(system, "/admin/payments/unresolved").await;
    assert_eq!(status, 200, "{unresolved}");
    unresolved
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u["orderId"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Leaves an order's lines EXECUTING as an attempt `minutes` old that died would, and applies
/// `event` (SQL, `$1` the order id) to its event, in one transaction with triggers off: the
/// `updated_at` trigger would stamp now(), and an old attempt is written as one.
async fn abandoned_attempt(pool: &sqlx::PgPool, order_id: &str, minutes: i32, event: &str) {
    let mut tx = pool.begin().await.expect("tx");
    sqlx::query("set local session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .expect("triggers off");
    sqlx::query(
        "update payment_orders set status = 'EXECUTING',
                updated_at = now() - make_interval(mins => $2)
          where order_id = $1",
    )
    .bind(order_id)
    .bind(minutes)
    .execute(&mut *tx)
    .await
    .expect("executing");
    sqlx::query(event)
        .bind(order_id)
        .execute(&mut *tx)
        .await
        .expect("its event");
    tx.commit().await.expect("committed");
}

/// Recovery is kept away (an hour's interval), and an order's lines are left EXECUTING as an
/// attempt that died would leave them: listed on `GET /admin/payments/unresolved` once they
/// are ten minutes old, not before.
#[tokio::test]
async fn an_order_executing_for_ten_minutes_is_listed_for_a_person() {
    let system = start(&[("RECOVERY_INTERVAL_MS", "3600000")]).await;
    let order = new_order(&system, &[1, 2]).await;
    let pool = system.db(&order_service::SPEC).await;
    let executing = |minutes: i32| {
        // and its event due for recovery "when stale", as `start_attempt` writes it
        // (services/order-service/src/store/mod.rs)
        let event = "update payment_events set next_recovery_at = 'infinity' where order_id = $1";
        abandoned_attempt(&pool, &order.order_id, minutes, event)
    };
    executing(2).await;
    assert!(
        !listed(&system).await.contains(&order.order_id),
        "two minutes: recovery's, not a person's"
    );
    executing(11).await;
    assert!(listed(&system).await.contains(&order.order_id));
    pool.close().await;
    system.stop().await;
}

/// An attempt an instance from before migration 20261230000001 started, then abandoned: its
/// lines EXECUTING and its event's `next_recovery_at` cleared, as the old `start_attempt`
/// wrote them. The recovery scan starts from that column (services/order-service/src/store/
/// recovery.rs `due_for_recovery`), so the running job does not see the attempt; the next
/// process's job looks for such attempts at its first pass (recovery_watch.rs), finds it, and
/// confirms the approval the customer made, once.
#[tokio::test]
async fn an_attempt_out_of_the_recovery_scans_sight_is_found_by_the_next_process() {
    let mut system = start(&[
        ("PSP_TIMEOUT_MS", "500"),
        ("RECOVERY_INTERVAL_MS", "200"),
        ("RECOVERY_STALE_MS", "1000"),
    ])
    .await;
    let order = new_order(&system, &[1, 2]).await;
    let key = approve(&system, &order).await;
    // The running job's first pass (its look for unwatched attempts) is over: it has reported
    // a pass in a later second than the first figure read, which may be the gauge's value at
    // start (a sleep stood here, too short on a loaded runner).
    let base = system.url("order-service");
    let last_pass = || async {
        let text = paymsa_e2e::http::metrics_text(&system.http, &base).await;
        text.lines()
            .find(|l| {
                l.starts_with("paymsa_job_last_pass_timestamp_seconds{")
                    && l.contains("task=\"payment-recovery\"")
            })
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let first = last_pass().await;
    eventually(WAIT, "the recovery job's first pass", || async {
        (last_pass().await > first).then_some(())
    })
    .await;
    let pool = system.db(&order_service::SPEC).await;
    // as the old `start_attempt` wrote it: the key bound, the column cleared
    let event = format!(
        "update payment_events set payment_key = '{key}', attempt_no = 1, next_recovery_at = null
          where order_id = $1"
    );
    abandoned_attempt(&pool, &order.order_id, 5, &event).await;

    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        payment(&system, &order.order_id).await["status"],
        "EXECUTING",
        "the running job's scan does not see it"
    );
    system.restart_service("order-service").await;
    let details = eventually(WAIT, "recovery to record SUCCESS", || async {
        let p = payment(&system, &order.order_id).await;
        (p["status"] == "SUCCESS").then_some(p)
    })
    .await;
    for line in lines(&details) {
        let history = line_history(&details, line);
        assert_eq!(
            history.last(),
            Some(&h("EXECUTING", "SUCCESS", "PSP_CONFIRM_OK", "recovery-job")),
            "{history:?}"
        );
    }
    assert_eq!(psp_stats(&system, &order.order_id).await, (1, true));
    pool.close().await;
    system.stop().await;
}
