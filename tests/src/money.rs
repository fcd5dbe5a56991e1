//! The money path over HTTP: checkout at order-service, the PSP sandbox's approval, confirm,
//! the payment's details, the seller's wallet, and the sandbox's faults and statistics.
//!
//! The calls a test expects to succeed answer typed ([`new_order`], [`pay`], [`wallet_of`]);
//! the raw `(status, body)` forms stay for the tests of what fails.

use rust_decimal::Decimal;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::{json, Value};
use service_kit::Id;

use crate::{http::send, TestSystem};

/// A checked-out order: order-service's own answer type.
pub use order_service::checkout::CheckoutResult as Checkout;

/// The answer of a confirm: order-service's `PaymentResult` (api.rs, not exported).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Confirmed {
    pub order_id: String,
    /// SUCCESS, FAILURE or UNKNOWN.
    pub status: String,
    pub amount: Decimal,
    pub order_name: String,
    pub reason: Option<String>,
}

/// A seller's wallet: wallet-service's `Wallet` (api.rs, not exported).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Wallet {
    pub wallet_no: Id,
    pub seller_no: Id,
    pub balance: Decimal,
    pub pending: Decimal,
    pub available: Decimal,
    pub in_transit: Decimal,
    pub paid_out: Decimal,
    pub fees_charged: Decimal,
    pub version: i64,
    /// Newest first, at most 20.
    pub recent_transactions: Vec<WalletTransaction>,
}

/// One row of [`Wallet::recent_transactions`].
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WalletTransaction {
    pub transaction_no: Id,
    pub amount: Decimal,
    /// CREDIT, REVERSAL, DEBIT or PAYOUT_RETURN.
    #[serde(rename = "type")]
    pub kind: String,
    pub order_id: Option<String>,
    pub payment_order_no: Option<Id>,
}

/// `body` as `T`, or a panic naming `what` and the body.
pub fn parse<T: DeserializeOwned>(what: &str, body: Value) -> T {
    match serde_json::from_value(body.clone()) {
        Ok(typed) => typed,
        Err(e) => panic!("{what}: {e} in {body}"),
    }
}

/// `POST /api/checkouts` of member 7 for `products`, with an optional `Idempotency-Key`.
pub async fn checkout(system: &TestSystem, products: &[i64], key: Option<&str>) -> (u16, Value) {
    checkout_body(
        system,
        json!({
            "memberNo": "7",
            "productNos": products.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        }),
        key,
    )
    .await
}

/// `POST /api/checkouts` with any body.
pub async fn checkout_body(system: &TestSystem, body: Value, key: Option<&str>) -> (u16, Value) {
    let mut req = system
        .http
        .post(format!("{}/api/checkouts", system.url("order-service")))
        .json(&body);
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    send(req).await
}

/// Checks out `products` for member 7 (201 required).
pub async fn new_order(system: &TestSystem, products: &[i64]) -> Checkout {
    let (status, body) = checkout(system, products, None).await;
    assert_eq!(status, 201, "checkout: {body}");
    parse("checkout", body)
}

/// The approve step of the sandbox's payment window; returns the paymentKey.
pub async fn approve(system: &TestSystem, order: &Checkout) -> String {
    let (status, body) = send(
        system
            .http
            .post(format!("{}/sandbox/approvals", system.url("psp-sandbox")))
            .json(&json!({
                "orderId": order.order_id,
                "amount": order.amount,
                "orderName": order.order_name,
            })),
    )
    .await;
    assert_eq!(status, 201, "approval: {body}");
    body["paymentKey"].as_str().expect("paymentKey").to_string()
}

/// `POST /api/payments/confirm` with any body.
pub async fn confirm_body(system: &TestSystem, body: Value) -> (u16, Value) {
    send(
        system
            .http
            .post(format!(
                "{}/api/payments/confirm",
                system.url("order-service")
            ))
            .json(&body),
    )
    .await
}

/// `POST /api/payments/confirm`.
pub async fn confirm(
    system: &TestSystem,
    payment_key: &str,
    order_id: &str,
    amount: impl Serialize,
) -> (u16, Value) {
    confirm_body(
        system,
        json!({"paymentKey": payment_key, "orderId": order_id, "amount": amount}),
    )
    .await
}

/// [`confirm`] of `order` with its own id and amount.
pub async fn confirm_order(
    system: &TestSystem,
    payment_key: &str,
    order: &Checkout,
) -> (u16, Value) {
    confirm(system, payment_key, &order.order_id, order.amount).await
}

/// Approves and confirms `order` (200 SUCCESS required).
pub async fn pay(system: &TestSystem, order: &Checkout) -> Confirmed {
    let key = approve(system, order).await;
    let (status, body) = confirm_order(system, &key, order).await;
    assert_eq!(status, 200, "confirm: {body}");
    let confirmed: Confirmed = parse("confirm", body);
    assert_eq!(confirmed.status, "SUCCESS", "{confirmed:?}");
    confirmed
}

/// `GET /api/payments/{order_id}` (200 required).
pub async fn payment(system: &TestSystem, order_id: &str) -> Value {
    let (status, body) = send(system.http.get(format!(
        "{}/api/payments/{order_id}",
        system.url("order-service")
    )))
    .await;
    assert_eq!(status, 200, "payment {order_id}: {body}");
    body
}

/// `(status, body)` of the seller's wallet.
pub async fn wallet(system: &TestSystem, seller_no: i64) -> (u16, Value) {
    send(system.http.get(format!(
        "{}/api/wallets/sellers/{seller_no}",
        system.url("wallet-service")
    )))
    .await
}

/// The seller's wallet (200 required).
pub async fn wallet_of(system: &TestSystem, seller_no: i64) -> Wallet {
    let (status, body) = wallet(system, seller_no).await;
    assert_eq!(status, 200, "wallet: {body}");
    parse("wallet", body)
}

/// The balance of the seller's wallet (200 required).
pub async fn balance(system: &TestSystem, seller_no: i64) -> Decimal {
    wallet_of(system, seller_no).await.balance
}

/// Sets the sandbox's fault for the order's next confirms.
pub async fn put_fault(system: &TestSystem, order_id: &str, fault: Value) {
    let (status, body) = send(
        system
            .http
            .put(format!(
                "{}/sandbox/faults/orders/{order_id}",
                system.url("psp-sandbox")
            ))
            .json(&fault),
    )
    .await;
    assert_eq!(status, 200, "fault: {body}");
}

/// Removes the sandbox's pending fault of the order.
pub async fn clear_fault(system: &TestSystem, order_id: &str) {
    let (status, body) = send(system.http.delete(format!(
        "{}/sandbox/faults/orders/{order_id}",
        system.url("psp-sandbox")
    )))
    .await;
    assert_eq!(status, 204, "fault cleared: {body}");
}

/// `(confirmCalls, charged)` the sandbox saw for the order.
pub async fn psp_stats(system: &TestSystem, order_id: &str) -> (u64, bool) {
    let (status, body) = send(system.http.get(format!(
        "{}/sandbox/stats/orders/{order_id}",
        system.url("psp-sandbox")
    )))
    .await;
    assert_eq!(status, 200, "stats: {body}");
    (
        body["confirmCalls"].as_u64().expect("confirmCalls"),
        body["charged"].as_bool().expect("charged"),
    )
}

/// The cancel calls that reached the sandbox for the order (`cancelCalls`).
pub async fn psp_cancel_calls(system: &TestSystem, order_id: &str) -> u64 {
    let (status, body) = send(system.http.get(format!(
        "{}/sandbox/stats/orders/{order_id}",
        system.url("psp-sandbox")
    )))
    .await;
    assert_eq!(status, 200, "stats: {body}");
    body["cancelCalls"].as_u64().expect("cancelCalls")
}

/// `POST /api/payments/{orderId}/cancel` with an optional `Idempotency-Key`.
pub async fn cancel(
    system: &TestSystem,
    order_id: &str,
    body: Value,
    key: Option<&str>,
) -> (u16, Value) {
    let mut req = system
        .http
        .post(format!(
            "{}/api/payments/{order_id}/cancel",
            system.url("order-service")
        ))
        .json(&body);
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    send(req).await
}

/// The merchant secret key the test systems' sandbox accepts.
pub const PSP_SECRET: &str = "test_sk_sandbox";

/// The PSP's own record of the order (`GET /v1/payments/orders/{orderId}` on the sandbox).
pub async fn psp_payment(system: &TestSystem, order_id: &str) -> (u16, Value) {
    send(
        system
            .http
            .get(format!(
                "{}/v1/payments/orders/{order_id}",
                system.url("psp-sandbox")
            ))
            .basic_auth(PSP_SECRET, Some("")),
    )
    .await
}

/// Refunds `amount` of the order straight at the PSP, as its dashboard or console would (no
/// cancel of ours names it): the sandbox's `POST /v1/payments/{paymentKey}/cancel`.
pub async fn refund_at_the_psp(system: &TestSystem, order_id: &str, amount: Decimal) {
    let (_, at_psp) = psp_payment(system, order_id).await;
    let key = at_psp["paymentKey"].as_str().unwrap_or_default();
    refund_payment_at_the_psp(system, order_id, key, amount).await;
}

/// [`refund_at_the_psp`] of the payment `key` (no lookup of the order first: a test may have
/// made the order's lookups fail).
pub async fn refund_payment_at_the_psp(
    system: &TestSystem,
    order_id: &str,
    key: &str,
    amount: Decimal,
) {
    let (status, refund) = send(
        system
            .http
            .post(format!(
                "{}/v1/payments/{key}/cancel",
                system.url("psp-sandbox")
            ))
            .basic_auth(PSP_SECRET, Some(""))
            .header("Idempotency-Key", format!("outside-{order_id}-{amount}"))
            .json(
                &json!({"cancelReason": "refunded at the PSP's console", "cancelAmount": amount}),
            ),
    )
    .await;
    assert_eq!(status, 200, "{refund}");
}

/// The sandbox's global faults (`PUT /sandbox/faults`).
pub async fn put_global_faults(system: &TestSystem, faults: Value) {
    let (status, body) = send(
        system
            .http
            .put(format!("{}/sandbox/faults", system.url("psp-sandbox")))
            .json(&faults),
    )
    .await;
    assert_eq!(status, 200, "faults: {body}");
}

/// `GET` an order-service admin path with the test admin token.
pub async fn order_admin(system: &TestSystem, path_and_query: &str) -> (u16, Value) {
    send(
        system
            .http
            .get(format!("{}{path_and_query}", system.url("order-service")))
            .bearer_auth("test-admin-token"),
    )
    .await
}

/// Cancels all of `order` while the PSP refunds it and its answer is lost (a per-order fault
/// that refunds, then holds the answer past order-service's `PSP_TIMEOUT_MS`, which must be
/// below a second): 202 with the cancel UNKNOWN, the money back at the PSP.
pub async fn cancel_with_lost_answer(system: &TestSystem, order: &Checkout) {
    cancel_with_lost_answer_of(system, order, json!({"cancelReason": "x"})).await;
}

/// [`cancel_with_lost_answer`] of the cancel `body` asks for (a part, some lines).
pub async fn cancel_with_lost_answer_of(system: &TestSystem, order: &Checkout, body: Value) {
    put_fault(
        system,
        &order.order_id,
        json!({"operation": "cancel", "mode": "timeout", "times": 1, "timeoutMs": 1000,
               "approveBeforeTimeout": true}),
    )
    .await;
    let (status, body) = cancel(system, &order.order_id, body, None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (202, Some("UNKNOWN")),
        "{body}"
    );
}

/// Confirms `order` with `key` while the PSP's answer is lost (a per-order fault that holds it
/// past order-service's `PSP_TIMEOUT_MS`, which must be below a second): 202, the order
/// UNKNOWN; `charged` says whether the PSP charged before holding its answer.
pub async fn confirm_with_lost_answer(
    system: &TestSystem,
    key: &str,
    order: &Checkout,
    charged: bool,
) {
    put_fault(
        system,
        &order.order_id,
        json!({"mode": "timeout", "times": 1, "timeoutMs": 1000, "approveBeforeTimeout": charged}),
    )
    .await;
    let (status, body) = confirm_order(system, key, order).await;
    assert_eq!(status, 202, "{body}");
}

/// One field (`newStatus`, `reason`, …) of every history row in an order's payment details
/// (`GET /api/payments/{orderId}`), oldest first.
pub fn history_of(details: &Value, field: &str) -> Vec<String> {
    details["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h[field].as_str().unwrap_or_default().to_string())
        .collect()
}

/// How many `event_type` events order-service's outbox holds for the order.
pub async fn outbox_events_of(system: &TestSystem, order_id: &str, event_type: &str) -> i64 {
    let pool = system.db(&order_service::SPEC).await;
    let n: i64 = sqlx::query_scalar(
        "select count(*) from outbox where payload -> 'payload' ->> 'orderId' = $1 and event_type = $2",
    )
    .bind(order_id)
    .bind(event_type)
    .fetch_one(&pool)
    .await
    .expect("outbox readable");
    pool.close().await;
    n
}
