//! Examples in the OpenAPI document: the seed's member 1 with one paid order of 상품A and
//! 상품B, written as the JSON on the wire ([`service_kit::openapi::example`] parses it with
//! the type's own parser, so an example that stops matching its type fails the build).

use poem_openapi::types::Example;
use serde_json::{json, Value};
use service_kit::openapi::example;

use crate::{
    admin::RebuildStarted,
    views::{Order, OrderPage},
};

/// `?paymentEventNo=` of the next page: the previous page's `nextCursor.paymentEventNo`.
pub(crate) fn cursor_payment_event_no() -> Option<String> {
    Some("7162689416334217216".into())
}

/// `?createdDateTime=` of the next page: the previous page's `nextCursor.createdDateTime`.
pub(crate) fn cursor_created_date_time() -> Option<String> {
    Some("1707728561507".into())
}

fn paid_order() -> Value {
    let line = |no: &str, product: &str, name: &str, amount: &str| {
        json!({
            "paymentOrderNo": no,
            "productNo": product,
            "sellerNo": "1",
            "productName": name,
            "amount": amount
        })
    };
    json!({
        "paymentEventNo": "7163052337186181120",
        "memberNo": "1",
        "orderId": "6f1c2a7e-3b4d-4e8f-9a0b-1c2d3e4f5a6b",
        "orderName": "상품A 외 1건",
        "status": "PAID",
        "totalAmount": "3000",
        "paymentKey": "tgen_20240213121814xK3mP9qR2s",
        "method": "카드",
        "approvedAt": "2024-02-13T03:18:20Z",
        "failureCode": null,
        "walletSettled": true,
        "createdDateTime": "2024-02-13T03:18:05.123Z",
        "lines": [
            line("7163052337202958336", "1", "상품A", "1000"),
            line("7163052337202958337", "2", "상품B", "2000")
        ],
        "refundedAmount": "0",
        "cancels": []
    })
}

impl Example for Order {
    fn example() -> Self {
        example(paid_order())
    }
}

impl Example for OrderPage {
    /// A page of `limit=1` with an older order after it.
    fn example() -> Self {
        example(json!({
            "orders": [paid_order()],
            "nextCursor": {
                "paymentEventNo": "7163052337186181120",
                "createdDateTime": 1707794285123_i64
            }
        }))
    }
}

impl Example for RebuildStarted {
    fn example() -> Self {
        example(json!({
            "droppedViews": 42,
            "consumers": ["order-query-projection", "order-query-wallet"]
        }))
    }
}
