//! Examples in the OpenAPI document: one order (상품A + 상품B, 3000 KRW) on its way through
//! the sandbox, written as the JSON on the wire ([`service_kit::openapi::example`] parses it
//! with the type's own parser, so an example that stops matching its type fails the build of
//! the document instead of being published).

use chrono::{FixedOffset, TimeZone};
use poem_openapi::types::Example;
use serde_json::json;
use service_kit::openapi::example;

use crate::{
    amount::Amount,
    errors::TossError,
    faults::Faults,
    payment::{Payment, PaymentRecord, PaymentStatus},
    sandbox_api::{ApprovalCreated, ApprovalRequest, OrderFaultRequest, OrderFaultView},
    stats_api::{OrderStatsView, StatsView},
    toss_api::{CancelRequest, ConfirmRequest},
    transactions::Transaction,
    window::{ApproveForm, DeclineForm},
};

/// order-service's orderIds are UUIDs.
const ORDER_ID: &str = "6f1c2a7e-3b4d-4e8f-9a0b-1c2d3e4f5a6b";
const PAYMENT_KEY: &str = "tgen_20240213121814xK3mP9qR2s";
const ORDER_NAME: &str = "상품A 외 1건";

impl Example for ApprovalRequest {
    fn example() -> Self {
        example(json!({"orderId": ORDER_ID, "amount": 3000, "orderName": ORDER_NAME}))
    }
}

impl Example for ApprovalCreated {
    fn example() -> Self {
        example(json!({"paymentKey": PAYMENT_KEY}))
    }
}

impl Example for ConfirmRequest {
    fn example() -> Self {
        example(json!({"paymentKey": PAYMENT_KEY, "orderId": ORDER_ID, "amount": 3000}))
    }
}

impl Example for CancelRequest {
    /// A partial refund: one of the two products is returned.
    fn example() -> Self {
        example(json!({"cancelReason": "상품B 반품", "cancelAmount": 1000}))
    }
}

impl Example for Payment {
    /// Built by the code that answers confirms, so every field is as the sandbox sends it.
    fn example() -> Self {
        let kst = FixedOffset::east_opt(9 * 3600).expect("KST is a valid offset");
        let at = |h, m, s| {
            kst.with_ymd_and_hms(2024, 2, 13, h, m, s)
                .single()
                .expect("a valid time")
        };
        PaymentRecord {
            payment_key: PAYMENT_KEY.into(),
            order_id: ORDER_ID.into(),
            order_name: ORDER_NAME.into(),
            amount: Amount(3000),
            status: PaymentStatus::Done,
            requested_at: at(12, 18, 14),
            approved_at: Some(at(12, 18, 20)),
            last_transaction_key: Some("9C62B18EEF0DE3EB7F4422EB6D14BC6E".into()),
            approve_no: Some("00000000".into()),
            failure: None,
            balance: 3000,
            cancels: Vec::new(),
        }
        .to_payment()
    }
}

impl Example for TossError {
    fn example() -> Self {
        example(json!({
            "code": "REJECT_CARD_PAYMENT",
            "message": "한도초과 혹은 잔액부족으로 결제에 실패했습니다."
        }))
    }
}

impl Example for Faults {
    /// Slow and flaky: every call 200 ms late, one confirm in ten a transient error.
    fn example() -> Self {
        example(json!({
            "latencyMs": 200,
            "errorRate": 0.1,
            "errorCode": "PROVIDER_ERROR",
            "timeoutRate": 0.0,
            "timeoutMs": 15000,
            "approveBeforeTimeout": false,
            "seed": 42
        }))
    }
}

impl Example for OrderFaultRequest {
    /// The next confirm of the order is declined by the card company.
    fn example() -> Self {
        example(json!({
            "operation": "confirm",
            "mode": "error",
            "errorCode": "REJECT_CARD_PAYMENT",
            "times": 1
        }))
    }
}

impl Example for OrderFaultView {
    fn example() -> Self {
        example(json!({
            "orderId": ORDER_ID,
            "operation": "confirm",
            "mode": "error",
            "errorCode": "REJECT_CARD_PAYMENT",
            "remaining": 1,
            "timeoutMs": 15000,
            "approveBeforeTimeout": false
        }))
    }
}

impl Example for OrderStatsView {
    fn example() -> Self {
        example(json!({
            "orderId": ORDER_ID,
            "confirmCalls": 1,
            "charged": true,
            "cancelCalls": 1,
            "refundedAmount": 1000
        }))
    }
}

impl Example for StatsView {
    fn example() -> Self {
        example(json!({
            "confirmCalls": 1,
            "charges": 1,
            "cancelCalls": 1,
            "refundedAmount": 1000,
            "perOrder": [{
                "orderId": ORDER_ID,
                "confirmCalls": 1,
                "charged": true,
                "cancelCalls": 1,
                "refundedAmount": 1000
            }]
        }))
    }
}

impl Example for ApproveForm {
    fn example() -> Self {
        example(json!({
            "orderId": ORDER_ID,
            "amount": "3000",
            "orderName": ORDER_NAME,
            "successUrl": "http://localhost:8080/success",
            "failUrl": "http://localhost:8080/fail"
        }))
    }
}

impl Example for DeclineForm {
    fn example() -> Self {
        example(json!({"orderId": ORDER_ID, "failUrl": "http://localhost:8080/fail"}))
    }
}

impl Example for Transaction {
    /// The charge of a card payment.
    fn example() -> Self {
        example(json!({
            "mId": "tosspayments",
            "transactionKey": "txrd_a01hpat8amgxm6k3vq2cyt4cxqa",
            "paymentKey": PAYMENT_KEY,
            "orderId": ORDER_ID,
            "method": "카드",
            "customerKey": null,
            "useEscrow": false,
            "receiptUrl": "https://dashboard.tosspayments.com/receipt/redirection?transactionId=txrd_a01hpat8amgxm6k3vq2cyt4cxqa",
            "status": "DONE",
            "transactionAt": "2024-02-13T12:18:20+09:00",
            "currency": "KRW",
            "amount": 3000
        }))
    }
}
