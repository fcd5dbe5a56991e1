//! OpenAPI examples of the payout and webhook objects, written as the JSON on the wire and
//! parsed with the types' own parsers (see [`crate::examples`]): a seller's share of the order
//! in the payment examples, paid out the next day.

use poem_openapi::types::Example;
use serde_json::{json, Value};
use service_kit::openapi::example;

use crate::{
    controls_api::{Deliveries, Delivery, WebhookUrls},
    payout::{PayoutItem, PayoutList, PayoutOne, PayoutRequestItem},
    payout_faults::{PayoutFaultRequest, PayoutFaultView},
};

const REF_PAYOUT_ID: &str = "settlement-20240214-1001";

fn item() -> Value {
    json!({
        "id": "FPA_3kV9mQ2xR7tY1uW8sZ4pL6nB",
        "refPayoutId": REF_PAYOUT_ID,
        "destination": "1001",
        "scheduleType": "EXPRESS",
        "payoutDate": "2024-02-14",
        "amount": {"currency": "KRW", "value": 2700},
        "transactionDescription": "paymsa 정산",
        "requestedAt": "2024-02-14T10:00:00+09:00",
        "status": "COMPLETED",
        "error": null,
        "metadata": {"walletNo": "7001"}
    })
}

impl Example for PayoutRequestItem {
    fn example() -> Self {
        example(json!({
            "refPayoutId": REF_PAYOUT_ID,
            "destination": "1001",
            "scheduleType": "EXPRESS",
            "amount": {"currency": "KRW", "value": 2700},
            "transactionDescription": "paymsa 정산",
            "metadata": {"walletNo": "7001"}
        }))
    }
}

impl Example for PayoutItem {
    fn example() -> Self {
        example(item())
    }
}

impl Example for PayoutList {
    fn example() -> Self {
        let mut requested = item();
        requested["status"] = json!("REQUESTED");
        example(json!({
            "version": "2022-11-16",
            "traceId": "0f9b2c4e6a8d1f3b5c7e9a1d3f5b7c9e",
            "entityType": "payout",
            "entityBody": {"items": [requested]}
        }))
    }
}

impl Example for PayoutOne {
    fn example() -> Self {
        example(json!({
            "version": "2022-11-16",
            "traceId": "0f9b2c4e6a8d1f3b5c7e9a1d3f5b7c9e",
            "entityType": "payout",
            "entityBody": item()
        }))
    }
}

impl Example for PayoutFaultRequest {
    fn example() -> Self {
        example(json!({"mode": "fail", "errorCode": "INVALID_BANK_ACCOUNT"}))
    }
}

impl Example for PayoutFaultView {
    fn example() -> Self {
        example(json!({
            "refPayoutId": REF_PAYOUT_ID,
            "mode": "fail",
            "errorCode": "INVALID_BANK_ACCOUNT",
            "errorMessage": "유효하지 않은 계좌입니다.",
            "remaining": 1,
            "timeoutMs": 15000
        }))
    }
}

impl Example for WebhookUrls {
    fn example() -> Self {
        example(json!({"urls": ["http://127.0.0.1:8080/webhooks/toss"]}))
    }
}

fn delivery() -> Value {
    json!({
        "id": 42,
        "eventType": "payout.changed",
        "url": "http://127.0.0.1:8080/webhooks/toss",
        "status": "DELIVERED",
        "attempts": 2,
        "lastStatus": 200,
        "lastError": null,
        "signed": true,
        "createdAt": "2024-02-14T10:00:01+09:00",
        "nextAttemptAt": "2024-02-14T10:00:02+09:00",
        "deliveredAt": "2024-02-14T10:00:02+09:00",
        "body": {
            "eventType": "payout.changed",
            "createdAt": "2024-02-14T10:00:01.000000",
            "data": item()
        }
    })
}

impl Example for Delivery {
    fn example() -> Self {
        example(delivery())
    }
}

impl Example for Deliveries {
    fn example() -> Self {
        example(json!({"deliveries": [delivery()]}))
    }
}
