//! Examples of the ledger endpoints: seller 1 sold a line of 10 000 won at 5 % commission,
//! the sale was released after its hold, then 4 000 of it was refunded. Written as the JSON on
//! the wire and parsed by the type's own parser (a stale example fails the build's tests).

use poem_openapi::types::Example;
use serde_json::{json, Value};
use service_kit::openapi::example;

use crate::{
    admin_api::{FeeRate, FeeRateRequest, TrialBalance},
    ledger_api::{EntryPage, Statement},
};

fn posting(account: &str, amount: &str) -> Value {
    let seller = !matches!(account, "PSP_CLEARING" | "PLATFORM_FEES");
    let mut p = json!({"account": account, "amount": amount});
    if seller {
        p["sellerNo"] = json!("1");
    }
    p
}

/// Newest first: the reversal, the release, the sale.
fn entries() -> Vec<Value> {
    let base = |no: &str, kind: &str, amount: &str, at: &str, postings: Vec<Value>| {
        json!({
            "entryNo": no,
            "kind": kind,
            "amount": amount,
            "orderId": "6f1c2a7e-3b4d-4e8f-9a0b-1c2d3e4f5a6b",
            "paymentEventNo": "7163052337202958335",
            "paymentOrderNo": "7163052337202958336",
            "postings": postings,
            "createdAt": at
        })
    };
    let mut reversal = base(
        "3",
        "REVERSAL",
        "-3800",
        "2024-02-16T09:00:00Z",
        vec![
            posting("PSP_CLEARING", "-4000"),
            posting("PLATFORM_FEES", "200"),
            posting("SELLER_AVAILABLE", "3800"),
        ],
    );
    reversal["cancelNo"] = json!("7163999999999999999");
    reversal["feeRate"] = json!("0.05");
    let mut sale = base(
        "1",
        "SALE",
        "9500",
        "2024-02-13T03:18:21.306Z",
        vec![
            posting("PSP_CLEARING", "10000"),
            posting("PLATFORM_FEES", "-500"),
            posting("SELLER_PENDING", "-9500"),
        ],
    );
    sale["feeRate"] = json!("0.05");
    vec![
        reversal,
        base(
            "2",
            "RELEASE",
            "0",
            "2024-02-15T03:18:22Z",
            vec![
                posting("SELLER_PENDING", "9500"),
                posting("SELLER_AVAILABLE", "-9500"),
            ],
        ),
        sale,
    ]
}

impl Example for EntryPage {
    fn example() -> Self {
        example(json!({"entries": entries(), "nextCursor": "1"}))
    }
}

impl Example for Statement {
    fn example() -> Self {
        let mut oldest_first = entries();
        oldest_first.reverse();
        example(json!({
            "sellerNo": "1",
            "from": "2024-02-01T00:00:00Z",
            "to": "2024-03-01T00:00:00Z",
            "openingBalance": "0",
            "entries": oldest_first,
            "closingBalance": "5700"
        }))
    }
}

impl Example for FeeRateRequest {
    fn example() -> Self {
        example(json!({"feeRate": "0.05"}))
    }
}

impl Example for FeeRate {
    fn example() -> Self {
        example(json!({"sellerNo": "1", "feeRate": "0.05", "updatedAt": "2024-02-01T00:00:00Z"}))
    }
}

impl Example for TrialBalance {
    fn example() -> Self {
        let line =
            |kind: &str, side: &str, accounts: i64, d: &str, c: &str, net: &str, bal: &str| {
                json!({"kind": kind, "normalSide": side, "accounts": accounts, "debits": d,
                   "credits": c, "net": net, "balance": bal})
            };
        example(json!({
            "kinds": [
                line("PSP_CLEARING", "DEBIT", 1, "10000", "4000", "6000", "6000"),
                line("PLATFORM_FEES", "CREDIT", 1, "200", "500", "-300", "300"),
                line("SELLER_PENDING", "CREDIT", 1, "9500", "9500", "0", "0"),
                line("SELLER_AVAILABLE", "CREDIT", 1, "3800", "9500", "-5700", "5700"),
                line("PAYOUTS_IN_TRANSIT", "CREDIT", 1, "0", "0", "0", "0"),
                line("SELLER_PAID_OUT", "CREDIT", 1, "0", "0", "0", "0")
            ],
            "total": "0",
            "balanced": true
        }))
    }
}
