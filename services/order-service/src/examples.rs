//! Examples in the OpenAPI document: the seed's member 1 buys 상품A (1000) and 상품B (2000)
//! from seller 1, written as the JSON on the wire ([`service_kit::openapi::example`] parses it
//! with the type's own parser, so an example that stops matching its type fails the build).

use poem_openapi::types::Example;
use serde_json::json;
use service_kit::openapi::example;

use crate::{
    admin::{ReconciliationReport, ResolvedCancel, UnresolvedCancel, UnresolvedPayment},
    api::{CheckoutRequest, ConfirmRequest, PaymentResult},
    cancels::api::{CancelBody, CancelResult},
    checkout::CheckoutResult,
    details::PaymentDetails,
    webhooks::{TossWebhook, WebhookAccepted},
};

const ORDER_ID: &str = "6f1c2a7e-3b4d-4e8f-9a0b-1c2d3e4f5a6b";
const PAYMENT_KEY: &str = "tgen_20240213121814xK3mP9qR2s";
const PAYMENT_EVENT_NO: &str = "7163052337186181120";

impl Example for CheckoutRequest {
    fn example() -> Self {
        example(json!({"memberNo": "1", "productNos": ["1", "2"]}))
    }
}

impl Example for CheckoutResult {
    fn example() -> Self {
        example(json!({
            "orderId": ORDER_ID,
            "paymentEventNo": PAYMENT_EVENT_NO,
            "memberNo": "1",
            "orderName": "상품A 외 1건",
            "amount": "3000"
        }))
    }
}

impl Example for ConfirmRequest {
    /// What the success page sends: the PSP's paymentKey, the orderId and the total.
    fn example() -> Self {
        example(json!({"paymentKey": PAYMENT_KEY, "orderId": ORDER_ID, "amount": 3000}))
    }
}

impl Example for PaymentResult {
    fn example() -> Self {
        example(json!({
            "orderId": ORDER_ID,
            "status": "SUCCESS",
            "amount": "3000",
            "orderName": "상품A 외 1건"
        }))
    }
}

impl Example for PaymentDetails {
    /// Paid and settled: each line went NOT_STARTED → EXECUTING → SUCCESS.
    fn example() -> Self {
        let line = |no: &str, product: &str, name: &str, amount: &str| {
            json!({
                "paymentOrderNo": no,
                "productNo": product,
                "sellerNo": "1",
                "productName": name,
                "amount": amount,
                "refundedAmount": "0",
                "status": "SUCCESS",
                "failedCount": 0
            })
        };
        let change = |no: &str, from: &str, to: &str, reason: &str, by: &str, at: &str| {
            json!({
                "paymentOrderNo": no,
                "previousStatus": from,
                "newStatus": to,
                "reason": reason,
                "changedBy": by,
                "changedAt": at
            })
        };
        let created = |no: &str| {
            json!({
                "paymentOrderNo": no,
                "newStatus": "NOT_STARTED",
                "reason": "CHECKOUT",
                "changedBy": "checkout-api",
                "changedAt": "2024-02-13T03:18:05.123Z"
            })
        };
        let (a, b) = ("7163052337202958336", "7163052337202958337");
        example(json!({
            "orderId": ORDER_ID,
            "paymentEventNo": PAYMENT_EVENT_NO,
            "memberNo": "1",
            "orderName": "상품A 외 1건",
            "totalAmount": "3000",
            "status": "SUCCESS",
            "paymentKey": PAYMENT_KEY,
            "method": "카드",
            "approvedAt": "2024-02-13T03:18:20Z",
            "isPaymentDone": true,
            "isWalletDone": true,
            "refundedAmount": "0",
            "refundableAmount": "3000",
            "needsAttention": false,
            "cancels": [],
            "lines": [line(a, "1", "상품A", "1000"), line(b, "2", "상품B", "2000")],
            "history": [
                created(a),
                created(b),
                change(a, "NOT_STARTED", "EXECUTING", "CONFIRM_REQUESTED", "confirm-api", "2024-02-13T03:18:19.870Z"),
                change(b, "NOT_STARTED", "EXECUTING", "CONFIRM_REQUESTED", "confirm-api", "2024-02-13T03:18:19.870Z"),
                change(a, "EXECUTING", "SUCCESS", "PSP_CONFIRM_OK", "confirm-api", "2024-02-13T03:18:20.402Z"),
                change(b, "EXECUTING", "SUCCESS", "PSP_CONFIRM_OK", "confirm-api", "2024-02-13T03:18:20.402Z")
            ],
            "createdAt": "2024-02-13T03:18:05.123Z"
        }))
    }
}

impl Example for CancelBody {
    /// A partial refund of 1000 won.
    fn example() -> Self {
        example(json!({"cancelReason": "고객 변심", "cancelAmount": 1000}))
    }
}

impl Example for CancelResult {
    fn example() -> Self {
        example(json!({
            "orderId": ORDER_ID,
            "cancelNo": "7163052337202958400",
            "status": "DONE",
            "cancelAmount": "1000",
            "refundedAmount": "1000",
            "refundableAmount": "2000",
            "orderStatus": "PARTIAL_CANCELED",
            "canceledAt": "2024-02-14T01:02:03Z"
        }))
    }
}

impl Example for UnresolvedPayment {
    fn example() -> Self {
        example(json!({
            "orderId": ORDER_ID,
            "totalAmount": "3000",
            "paymentKey": PAYMENT_KEY,
            "failedCount": 7,
            "nextLookupAt": "2024-02-13T03:40:00Z",
            "createdAt": "2024-02-13T03:18:05.123Z"
        }))
    }
}

impl Example for ReconciliationReport {
    /// A charge the PSP made while its answer was lost, accepted by reconciliation.
    fn example() -> Self {
        example(json!({
            "from": "2024-02-13T03:00:00Z",
            "to": "2024-02-13T04:00:00Z",
            "checked": 120,
            "matched": 119,
            "matchedOnSecondLook": 0,
            "inFlight": 0,
            "mismatches": [{
                "orderId": ORDER_ID,
                "ours": {"status": "UNKNOWN", "charged": "0", "refunded": "0"},
                "psp": {"status": "DONE", "charged": "3000", "refunded": "0"},
                "action": "ACCEPTED_PAYMENT"
            }]
        }))
    }
}

impl Example for TossWebhook {
    /// What Toss sends when a payment becomes DONE (the Payment object, shortened).
    fn example() -> Self {
        example(json!({
            "eventType": "PAYMENT_STATUS_CHANGED",
            "createdAt": "2024-02-13T12:18:21.000000",
            "data": {"paymentKey": PAYMENT_KEY, "orderId": ORDER_ID, "status": "DONE", "totalAmount": 3000}
        }))
    }
}

impl Example for WebhookAccepted {
    fn example() -> Self {
        example(json!({"result": "LOOKUP_SCHEDULED"}))
    }
}

impl Example for UnresolvedCancel {
    fn example() -> Self {
        example(json!({
            "orderId": ORDER_ID,
            "cancelNo": "7163052337202958400",
            "cancelAmount": "1000",
            "attempts": 6,
            "lastReason": "PSP_TIMEOUT",
            "requestedAt": "2024-02-14T01:02:03Z"
        }))
    }
}

impl Example for ResolvedCancel {
    fn example() -> Self {
        example(json!({
            "orderId": ORDER_ID,
            "cancelNo": "7163052337202958400",
            "status": "REJECTED",
            "cancelAmount": "1000",
            "failureCode": "CLOSED_BY_OPERATOR"
        }))
    }
}
