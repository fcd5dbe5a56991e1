//! `GET /v1/transactions` and durability: what a merchant reconciles against survives a
//! restart of the sandbox.

mod common;

use common::start;
use serde_json::{json, Value};

const RANGE: &str = "startDate=2020-01-01T00:00:00&endDate=2100-12-31T23:59:59";

#[tokio::test]
async fn charges_and_cancels_are_listed_in_order_and_paged_by_transaction_key() {
    let sb = start().await;
    let (order_a, key_a) = sb.paid(10000).await;
    let (order_b, key_b) = sb.paid(3000).await;
    assert_eq!(sb.send(sb.cancel(&key_a, Some(4000), "a1")).await.0, 200);
    assert_eq!(sb.send(sb.cancel(&key_b, None, "b1")).await.0, 200);
    assert_eq!(sb.send(sb.cancel(&key_a, None, "a2")).await.0, 200);
    let (_, _) = sb.approved(500).await; // READY: no transaction

    let (status, all) = sb.toss_get(&format!("/v1/transactions?{RANGE}")).await;
    assert_eq!(status, 200, "{all}");
    let rows = all.as_array().expect("array");
    let summary: Vec<(&str, &str, i64)> = rows
        .iter()
        .map(|t| {
            (
                t["orderId"].as_str().unwrap_or_default(),
                t["status"].as_str().unwrap_or_default(),
                t["amount"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (order_a.as_str(), "DONE", 10000),
            (order_b.as_str(), "DONE", 3000),
            (order_a.as_str(), "PARTIAL_CANCELED", 4000),
            (order_b.as_str(), "CANCELED", 3000),
            (order_a.as_str(), "CANCELED", 6000),
        ]
    );
    let first = &rows[0];
    for field in [
        "mId",
        "transactionKey",
        "paymentKey",
        "method",
        "receiptUrl",
        "transactionAt",
    ] {
        assert!(first[field].is_string(), "{field}: {first}");
    }
    assert_eq!(
        (
            &first["currency"],
            &first["useEscrow"],
            &first["customerKey"]
        ),
        (&json!("KRW"), &json!(false), &Value::Null)
    );
    assert_eq!(first["paymentKey"], key_a.as_str());

    // Pages of two, each starting after the last transactionKey of the one before.
    let mut paged = Vec::new();
    let mut after = String::new();
    loop {
        let cursor = if after.is_empty() {
            String::new()
        } else {
            format!("&startingAfter={after}")
        };
        let (status, page) = sb
            .toss_get(&format!("/v1/transactions?{RANGE}&limit=2{cursor}"))
            .await;
        assert_eq!(status, 200, "{page}");
        let page = page.as_array().cloned().expect("array");
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = last["transactionKey"].as_str().expect("key").to_string();
        paged.extend(page);
    }
    assert_eq!(&paged, rows);

    // A range that ends before today is empty; an explicit offset is accepted.
    let (status, none) = sb
        .toss_get(
            "/v1/transactions?startDate=2020-01-01T00:00:00%2B09:00&endDate=2020-01-02T00:00:00Z",
        )
        .await;
    assert_eq!((status, none), (200, json!([])));
}

#[tokio::test]
async fn bad_listing_requests_are_tosss_invalid_request() {
    let sb = start().await;
    for query in [
        "",
        "startDate=2024-01-01T00:00:00",
        "startDate=yesterday&endDate=2024-01-02T00:00:00",
        &format!("{RANGE}&limit=0"),
        &format!("{RANGE}&limit=10001"),
        &format!("{RANGE}&limit=ten"),
        &format!("{RANGE}&startingAfter=NOPE"),
    ] {
        let (status, error) = sb.toss_get(&format!("/v1/transactions?{query}")).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (400, Some("INVALID_REQUEST")),
            "{query}: {error}"
        );
    }
    let (status, _, error) = sb
        .send(sb.client.get(sb.url(&format!("/v1/transactions?{RANGE}"))))
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (401, Some("UNAUTHORIZED_KEY"))
    );
}

#[tokio::test]
async fn payments_refunds_and_replies_survive_a_restart() {
    let sb = start().await;
    let (order, key) = sb.approved(12000).await;
    let (status, _, paid) = sb.send(sb.confirm_keyed(&key, &order, 12000, &order)).await;
    assert_eq!(status, 200, "{paid}");
    let (status, _, partial) = sb.send(sb.cancel(&key, Some(2000), "before")).await;
    assert_eq!(status, 200, "{partial}");
    let (ready_order, ready_key) = sb.approved(700).await;
    let (_, listed) = sb.toss_get(&format!("/v1/transactions?{RANGE}")).await;

    let sb = sb.restart().await;
    let (status, payment) = sb.payment_by_order(&order).await;
    assert_eq!(status, 200, "{payment}");
    assert_eq!(payment, partial, "the payment as it was, cancels included");
    // The stored confirm and cancel replies replay; nothing is charged or refunded again.
    let (status, _, replay) = sb.send(sb.confirm_keyed(&key, &order, 12000, &order)).await;
    assert_eq!((status, &replay), (200, &paid));
    let (status, _, replay) = sb.send(sb.cancel(&key, Some(2000), "before")).await;
    assert_eq!((status, &replay), (200, &partial));
    assert_eq!(sb.payment_by_order(&order).await.1["balanceAmount"], 10000);
    // A new key still meets the DONE charge.
    let (status, _, error) = sb
        .send(sb.confirm_keyed(&key, &order, 12000, "other"))
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (400, Some("ALREADY_PROCESSED_PAYMENT"))
    );
    let (_, after) = sb.toss_get(&format!("/v1/transactions?{RANGE}")).await;
    assert_eq!(after, listed);
    // "Charged" comes from the database; call counts started again with the process.
    let stats = sb.order_stats(&order).await;
    assert_eq!(
        (&stats["charged"], &stats["refundedAmount"]),
        (&json!(true), &json!(2000))
    );
    // A payment approved before the restart can be confirmed after it.
    assert_eq!(
        sb.send(sb.confirm(&ready_key, &ready_order, 700)).await.0,
        200
    );
    sb.stop().await;
}
