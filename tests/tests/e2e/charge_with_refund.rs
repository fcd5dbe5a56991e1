//! A charge the PSP has partly refunded by the time we accept it: our confirm's answer was
//! lost after the PSP charged, and the merchant refunded part of the charge in the PSP's
//! console before we learned of it. Accepting the charge records that refund in the same
//! transaction, or nothing (services/order-service/src/attempt/write.rs `record_approval`):
//! paid in full here and partly refunded at the PSP, the seller would be credited for money
//! the customer has back, and no later reconciliation window is bound to cover the refund.
//! Until stop 31 the charge was committed first and a failed refund record was only logged.

use std::time::Duration;

use paymsa_e2e::{
    eventually,
    money::{
        approve, clear_fault, confirm_with_lost_answer, history_of, new_order, order_admin,
        outbox_events_of, payment, psp_payment, put_fault, refund_payment_at_the_psp,
    },
    seed::start_seeded as start,
    values::dec,
    TestSystem,
};
use rust_decimal::Decimal;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

/// Times the order database refused to record a cancel of the order since the test began
/// counting (a sequence: its calls survive the rollback of the refused transaction).
async fn refused_cancels(system: &TestSystem) -> i64 {
    let pool = system.db(&order_service::SPEC).await;
    let (last, called): (i64, bool) =
        sqlx::query_as("select last_value, is_called from refused_cancels")
            .fetch_one(&pool)
            .await
            .expect("sequence readable");
    pool.close().await;
    if called {
        last
    } else {
        0
    }
}

/// While the refund cannot be written (a trigger refuses it), the order is never taken as paid
/// in full: each try is an unknown outcome (`RECORDING_FAILED`), and past the lookup threshold
/// the order is listed for a person. Once the refund can be written, the order is
/// PARTIAL_CANCELED for the PSP's refund, settled for the rest.
#[tokio::test]
async fn a_charge_refunded_before_we_accept_it_is_recorded_with_its_refund_or_not_at_all() {
    let system = start(&[
        ("PSP_TIMEOUT_MS", "300"),
        ("RECOVERY_INTERVAL_MS", "100"),
        ("RECOVERY_STALE_MS", "500"),
        ("RECOVERY_MAX_BACKOFF_MS", "300"),
    ])
    .await;
    let order = new_order(&system, &[1, 2]).await;
    let key = approve(&system, &order).await;
    let pool = system.db(&order_service::SPEC).await;
    let id = &order.order_id;
    // Until the refund is made, no acceptance of the charge may commit.
    sqlx::raw_sql(&format!(
        "create function refuse_acceptance() returns trigger language plpgsql as $$
           begin raise exception 'the test holds the acceptance back'; end $$;
         create trigger held_back before update on payment_events for each row
           when (new.order_id = '{id}' and not old.is_payment_done and new.is_payment_done)
           execute function refuse_acceptance();"
    ))
    .execute(&pool)
    .await
    .expect("acceptance held back");
    confirm_with_lost_answer(&system, &key, &order, true).await;
    // The order's lookups fail from here until the triggers are swapped, so no acceptance
    // can act on a lookup made before the refund (recovery tries every few hundred ms).
    let (_, at_psp) = psp_payment(&system, id).await;
    let payment_key = at_psp["paymentKey"].as_str().expect("charged").to_string();
    put_fault(
        &system,
        id,
        json!({"operation": "lookup", "mode": "error", "times": 1000}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    refund_payment_at_the_psp(&system, id, &payment_key, Decimal::from(1000)).await;
    // Now the acceptance may commit, but recording a cancel of the order fails, counted.
    sqlx::raw_sql(&format!(
        "begin;
         create sequence refused_cancels;
         create function refuse_cancel() returns trigger language plpgsql as $$
           begin perform nextval('refused_cancels');
           raise exception 'the test refuses the refund record'; end $$;
         create trigger refused before insert on payment_cancels for each row
           when (new.order_id = '{id}') execute function refuse_cancel();
         drop trigger held_back on payment_events;
         commit;"
    ))
    .execute(&pool)
    .await
    .expect("refund record refused");
    clear_fault(&system, id).await;
    for tries in 1..=2 {
        eventually(
            WAIT,
            "an acceptance to try recording the refund",
            || async { (refused_cancels(&system).await >= tries).then_some(()) },
        )
        .await;
        let p = payment(&system, id).await;
        assert_ne!(
            p["status"], "SUCCESS",
            "paid in full here, refunded at the PSP: {p}"
        );
        assert_eq!(
            outbox_events_of(&system, id, "order.payment.confirmed").await,
            0,
            "{p}"
        );
    }
    // Each failed record is an unknown outcome: past the threshold, listed for a person.
    let listed = eventually(WAIT, "the order listed for a person", || async {
        let p = payment(&system, id).await;
        (p["needsAttention"] == true).then_some(p)
    })
    .await;
    assert!(
        history_of(&listed, "reason").contains(&"RECORDING_FAILED".to_string()),
        "{listed}"
    );
    let (status, unresolved) = order_admin(&system, "/admin/payments/unresolved").await;
    assert_eq!(status, 200, "{unresolved}");
    assert!(
        unresolved
            .as_array()
            .expect("list")
            .iter()
            .any(|u| u["orderId"] == id.as_str()),
        "{unresolved}"
    );

    sqlx::raw_sql("drop trigger refused on payment_cancels")
        .execute(&pool)
        .await
        .expect("refund record allowed");
    pool.close().await;
    let recorded = eventually(WAIT, "the charge accepted with its refund", || async {
        let p = payment(&system, id).await;
        (p["status"] == "PARTIAL_CANCELED" && p["isWalletDone"] == true).then_some(p)
    })
    .await;
    assert_eq!(
        dec(&recorded["refundedAmount"]),
        Decimal::from(1000),
        "{recorded}"
    );
    let statuses = history_of(&recorded, "newStatus");
    assert!(
        statuses.contains(&"SUCCESS".into()) && !statuses.contains(&"FAILURE".into()),
        "{recorded}"
    );
    let (_, at_psp) = psp_payment(&system, id).await;
    assert_eq!(at_psp["status"], "PARTIAL_CANCELED", "{at_psp}");
    for event in ["order.payment.confirmed", "order.payment.canceled"] {
        assert_eq!(outbox_events_of(&system, id, event).await, 1, "{event}");
    }
    system.stop().await;
}
