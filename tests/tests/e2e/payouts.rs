//! Payouts end to end: a paid order settles into the seller's wallet, the hold releases it,
//! the seller is paid out through the PSP sandbox's payouts API v2, and the sandbox's signed
//! `payout.changed` webhook (sent to order-service and wallet-service, as `just up` does)
//! completes it. The wallet shows the money moving available → inTransit → paidOut, the
//! ledger stays balanced, and the PSP holds exactly Σ charged − Σ paid out.

use std::time::Duration;

use paymsa_e2e::{
    eventually,
    http::send,
    money::{new_order, pay, wallet},
    seed::start_seeded,
    values::dec,
};
use rust_decimal::Decimal;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);
const SELLER: i64 = 1;

#[tokio::test]
async fn a_paid_order_is_paid_out_to_the_seller_through_the_psp() {
    let system = start_seeded(&[
        ("SETTLEMENT_HOLD", "1s"),
        ("SANDBOX_PAYOUT_DELAY_MS", "300"),
    ])
    .await;
    let receivers: Vec<String> = ["order-service", "wallet-service"]
        .iter()
        .map(|s| format!("{}/webhooks/toss", system.url(s)))
        .collect();
    let (status, body) = send(
        system
            .http
            .put(format!("{}/sandbox/webhooks", system.url("psp-sandbox")))
            .json(&json!({ "urls": receivers })),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let order = new_order(&system, &[1, 2]).await;
    pay(&system, &order).await;
    let charged = order.amount;

    // Settled, then released by the hold.
    let available = eventually(WAIT, "the sale to become available", || async {
        let (_, w) = wallet(&system, SELLER).await;
        (dec(&w["available"]) == charged).then_some(charged)
    })
    .await;
    let amount = (available / Decimal::from(2)).floor();
    let url = format!(
        "{}/api/wallets/sellers/{SELLER}/payouts",
        system.url("wallet-service")
    );
    let (status, p) = send(system.http.post(&url).json(&json!({ "amount": amount }))).await;
    assert_eq!(status, 201, "{p}");
    let no = p["payoutNo"].as_str().expect("payoutNo").to_string();

    let done: Value = eventually(WAIT, "the payout to complete", || async {
        let (_, p) = send(system.http.get(format!("{url}/{no}"))).await;
        (p["status"] == "COMPLETED").then_some(p)
    })
    .await;
    let last = done["history"].as_array().and_then(|h| h.last()).cloned();
    assert_eq!(
        last.map(|h| h["source"].clone()),
        Some(json!("webhook")),
        "{done}"
    );
    let (_, w) = wallet(&system, SELLER).await;
    assert_eq!(
        (
            dec(&w["available"]),
            dec(&w["inTransit"]),
            dec(&w["paidOut"])
        ),
        (available - amount, Decimal::ZERO, amount),
        "{w}"
    );
    assert_eq!(dec(&w["balance"]), available - amount, "{w}");

    // The PSP paid it once, to the seller, for that amount.
    let (_, at_psp) = send(
        system
            .http
            .get(format!("{}/v2/payouts", system.url("psp-sandbox")))
            .query(&[("refPayoutId", no.as_str())])
            .basic_auth("test_sk_sandbox", Some("")),
    )
    .await;
    let items = at_psp["entityBody"]["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(items.len(), 1, "{at_psp}");
    assert_eq!(items[0]["status"], "COMPLETED");
    assert_eq!(items[0]["destination"], SELLER.to_string());
    assert_eq!(dec(&items[0]["amount"]["value"]), amount);

    // The ledger: balanced, and the money at the PSP is what was charged less what was paid.
    let (status, tb) = send(
        system
            .http
            .get(format!(
                "{}/admin/ledger/trial-balance",
                system.url("wallet-service")
            ))
            .bearer_auth("test-admin-token"),
    )
    .await;
    assert_eq!((status, &tb["balanced"]), (200, &json!(true)), "{tb}");
    let db = system.db(&wallet_service::SPEC).await;
    let (clearing, paid_out): (Decimal, Decimal) = sqlx::query_as(
        "select coalesce(sum(balance) filter (where kind = 'PSP_CLEARING'), 0),
                coalesce(sum(balance) filter (where kind = 'SELLER_PAID_OUT'), 0)
           from ledger_account_balances",
    )
    .fetch_one(&db)
    .await
    .expect("accounts");
    assert_eq!(clearing - paid_out, charged - amount, "money at the PSP");
    let unbalanced: i64 = sqlx::query_scalar(
        "select count(*) from (select entry_id from ledger_postings group by entry_id
          having sum(amount) <> 0) u",
    )
    .fetch_one(&db)
    .await
    .expect("entries");
    assert_eq!(unbalanced, 0);
    db.close().await;
    system.stop().await;
}
