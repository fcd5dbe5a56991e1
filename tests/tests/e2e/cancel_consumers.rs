//! What a cancel does downstream of order-service, through the whole system: wallet-service
//! takes the sellers' credit back (once per cancel and seller, `wallet.reversed`, ledger and
//! balance agree), order-query shows the cancels and the refunded amount, and hot-catalog takes
//! a fully refunded purchase out of the ranking while a partly refunded one stays.

use std::time::Duration;

use events::topology;
use paymsa_e2e::{
    eventually,
    http::send,
    money::{balance, cancel, new_order, pay, payment},
    seed::start_seeded,
    streams::Bus,
    values::dec,
};
use rust_decimal::Decimal;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_cancel_reverses_the_wallet_shows_in_the_history_and_leaves_the_ranking() {
    let system = start_seeded(&[]).await;
    let order = new_order(&system, &[1, 2]).await; // seller 1: 1000 + 2000
    pay(&system, &order).await;
    let id = order.order_id.as_str();
    eventually(WAIT, "seller 1 credited", || async {
        (balance(&system, 1).await == Decimal::from(3000)).then_some(())
    })
    .await;
    let details = payment(&system, id).await;
    let line_of = |product: &str| -> Value {
        details["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .find(|l| l["productNo"] == product)
            .unwrap_or_else(|| panic!("line of product {product}: {details}"))["paymentOrderNo"]
            .clone()
    };
    let (line_a, line_b) = (line_of("1"), line_of("2"));

    // Line A in full, then 500 of line B.
    let (status, first) = cancel(
        &system,
        id,
        json!({"cancelReason": "품절", "paymentOrderNos": [line_a]}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let (status, second) = cancel(
        &system,
        id,
        json!({"cancelReason": "부분 환불", "cancelAmount": 500, "paymentOrderNos": [line_b]}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{second}");

    // Wallet: 3000 − 1000 − 500, one reversal row and one wallet.reversed per cancel.
    eventually(WAIT, "both cancels reversed", || async {
        (balance(&system, 1).await == Decimal::from(1500)).then_some(())
    })
    .await;
    let bus = Bus::connect(&system).await;
    bus.wait_idle(&topology::ORDERS, "wallet-reversal", WAIT)
        .await;
    let reversed = eventually(WAIT, "two wallet.reversed", || async {
        let all = bus.envelopes(&topology::WALLETS, "wallet.reversed").await;
        (all.len() >= 2).then_some(all)
    })
    .await;
    let mut amounts: Vec<Decimal> = reversed
        .iter()
        .map(|e| dec(&e["payload"]["reversals"][0]["amount"]))
        .collect();
    amounts.sort();
    assert_eq!(amounts, [Decimal::from(500), Decimal::from(1000)]);
    let pool = system.db(&wallet_service::SPEC).await;
    let (credits, reversals, balance_now): (Decimal, Decimal, Decimal) = sqlx::query_as(
        "select coalesce(sum(amount) filter (where type = 'CREDIT'), 0),
                coalesce(sum(amount) filter (where type = 'REVERSAL'), 0),
                (select balance from wallet_balances where seller_no = 1)
         from wallet_transactions where seller_no = 1",
    )
    .fetch_one(&pool)
    .await
    .expect("ledger");
    assert_eq!(
        credits - reversals,
        balance_now,
        "Σ credits − Σ reversals = balance"
    );
    pool.close().await;

    // Order history: PARTIAL_CANCELED with both cancels.
    let url = format!("{}/api/orders/members/7", system.url("order-query-service"));
    let shown = eventually(WAIT, "the cancels in the order history", || async {
        let (_, page) = send(system.http.get(&url)).await;
        let order = page["orders"]
            .as_array()?
            .iter()
            .find(|o| o["orderId"] == id)?
            .clone();
        (order["cancels"].as_array()?.len() == 2).then_some(order)
    })
    .await;
    assert_eq!(shown["status"], "PARTIAL_CANCELED", "{shown}");
    assert_eq!(dec(&shown["refundedAmount"]), Decimal::from(1500));
    assert_eq!(shown["cancels"][0]["reason"], "품절");

    // Ranking: product 1's purchase is refunded in full and leaves; product 2's stays.
    let hot = format!("{}/api/hot-products", system.url("hot-catalog-service"));
    let products = eventually(WAIT, "product 1 out of the ranking", || async {
        let (_, body) = send(system.http.get(&hot)).await;
        let products = body["products"].as_array()?.clone();
        let numbers: Vec<&str> = products
            .iter()
            .filter_map(|p| p["productNo"].as_str())
            .collect();
        (numbers == ["2"]).then_some(products)
    })
    .await;
    assert_eq!(products[0]["paidOrderLines"], 1);
    system.stop().await;
}
