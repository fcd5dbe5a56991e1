//! Examples in the OpenAPI document: the seed's seller 1 after one paid order of 상품A and
//! 상품B, written as the JSON on the wire ([`service_kit::openapi::example`] parses it with
//! the type's own parser, so an example that stops matching its type fails the build).

use poem_openapi::types::Example;
use serde_json::json;
use service_kit::openapi::example;

use crate::api::Wallet;

impl Example for Wallet {
    fn example() -> Self {
        let credit = |no: &str, line: &str, amount: &str| {
            json!({
                "transactionNo": no,
                "amount": amount,
                "type": "CREDIT",
                "orderId": "6f1c2a7e-3b4d-4e8f-9a0b-1c2d3e4f5a6b",
                "paymentOrderNo": line,
                "createdAt": "2024-02-13T03:18:21.306Z"
            })
        };
        example(json!({
            "walletNo": "1",
            "sellerNo": "1",
            "balance": "3000",
            "pending": "2000",
            "available": "1000",
            "inTransit": "0",
            "paidOut": "0",
            "feesCharged": "0",
            "version": 2,
            "recentTransactions": [
                credit("7163052362956759040", "7163052337202958337", "2000"),
                credit("7163052362956759041", "7163052337202958336", "1000")
            ],
            "createdAt": "2024-02-01T00:00:00Z",
            "updatedAt": "2024-02-13T03:18:21.306Z"
        }))
    }
}
