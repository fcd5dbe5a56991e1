//! Examples in the OpenAPI document: wallet-service's settlement consumer gave up on one
//! `order.payment.confirmed` after its maximum deliveries.

use poem_openapi::types::{Base64, Example, ToJSON};
use serde_json::json;
use service_kit::openapi::example;

use super::{
    api::DismissRequest,
    views::{DeadLetterDetail, DeadLetterItem, DeadLetterPage, ReplayResult},
};

const ENVELOPE: &str = r#"{"eventId":"0190d1c4-7a3e-7c51-9f0e-5b2a8e4d3c21","type":"order.payment.confirmed","version":1,"occurredAt":"2024-02-13T03:18:20.412Z","payload":{"paymentEventNo":"7163052337186181120","memberNo":"1","orderId":"6f1c2a7e-3b4d-4e8f-9a0b-1c2d3e4f5a6b","totalAmount":"3000"}}"#;

fn item() -> serde_json::Value {
    json!({
        "id": "7163101842931372032",
        "stream": "ORDERS",
        "streamSeq": 1284,
        "consumer": "wallet-settlement",
        "subject": "order.payment.confirmed",
        "reason": "MAX_DELIVERIES",
        "deliveries": 5,
        "eventId": "0190d1c4-7a3e-7c51-9f0e-5b2a8e4d3c21",
        "msgId": "0190d1c4-7a3e-7c51-9f0e-5b2a8e4d3c21",
        "firstSeenAt": "2024-02-13T03:19:02.731Z",
        "lastReplayedAt": null,
        "replayCount": 0,
        "resolvedAt": null
    })
}

fn detail() -> serde_json::Value {
    let mut value = item();
    let extra = json!({
        "lastError": null,
        "headers": {
            "Nats-Msg-Id": ["0190d1c4-7a3e-7c51-9f0e-5b2a8e4d3c21"],
            "traceparent": ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"]
        },
        "payload": Base64(ENVELOPE.as_bytes().to_vec()).to_json(),
        "payloadText": ENVELOPE,
        "replayable": true
    });
    if let (Some(obj), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
        obj.extend(extra.clone());
    }
    value
}

impl Example for DeadLetterItem {
    fn example() -> Self {
        example(item())
    }
}

impl Example for DeadLetterDetail {
    fn example() -> Self {
        example(detail())
    }
}

impl Example for DeadLetterPage {
    fn example() -> Self {
        example(json!({"items": [item()], "nextCursor": null}))
    }
}

impl Example for ReplayResult {
    fn example() -> Self {
        let mut replayed = detail();
        replayed["lastReplayedAt"] = json!("2024-02-13T04:02:11.058Z");
        replayed["resolvedAt"] = json!("2024-02-13T04:02:11.058Z");
        replayed["replayCount"] = json!(1);
        example(json!({
            "outcome": "APPLIED",
            "consumer": "wallet-settlement",
            "deadLetter": replayed
        }))
    }
}

impl Example for DismissRequest {
    fn example() -> Self {
        example(
            json!({"reason": "the order was deleted by hand before its settlement; nothing to credit"}),
        )
    }
}
