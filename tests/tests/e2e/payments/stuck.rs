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

/// Recovery is kept away (an hour's interval), and an order's lines are left EXECUTING as an
/// attempt that died would leave them: listed on `GET /admin/payments/unresolved` once they
/// are ten minutes old, not before.
#[tokio::test]
async fn an_order_executing_for_ten_minutes_is_listed_for_a_person() {
    let system = start(&[("RECOVERY_INTERVAL_MS", "3600000")]).await;
    let order = new_order(&system, &[1, 2]).await;
    let pool = system.db(&order_service::SPEC).await;
    let executing = |minutes: i32| {
        let (pool, order_id) = (pool.clone(), order.order_id.clone());
        async move {
            let mut tx = pool.begin().await.expect("tx");
            // the updated_at trigger would stamp now(): an old attempt is written as one
            sqlx::query("set local session_replication_role = replica")
                .execute(&mut *tx)
                .await
                .expect("triggers off");
            sqlx::query(
                "update payment_orders set status = 'EXECUTING',
                        updated_at = now() - make_interval(mins => $2)
                  where order_id = $1",
            )
            .bind(&order_id)
            .bind(minutes)
            .execute(&mut *tx)
            .await
            .expect("executing");
            tx.commit().await.expect("committed");
        }
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
