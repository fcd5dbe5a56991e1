use serde_json::{json, Value};

use super::*;

fn args(path: &str) -> GetArgs {
    GetArgs {
        path: path.into(),
        json: false,
        format: None,
        sort: false,
        join: None,
        len: false,
    }
}

fn get_ok(doc: &Value, args: GetArgs) -> String {
    match get(doc, &args) {
        Ok(text) => text,
        Err(e) => panic!("{}: {e:#}", args.path),
    }
}

/// A payment as GET /api/payments/{orderId} answers it (the fields the demo read with it).
fn payment() -> Value {
    json!({
        "orderId": "o-1", "amount": 45000, "orderName": "키보드 외 1건", "status": "SUCCESS",
        "isWalletDone": false, "refundableAmount": null, "missingProductNos": [999],
        "lines": [{"sellerNo": "17"}, {"sellerNo": "18"}],
        "cancels": [{"status": "DONE"}, {"status": "REQUESTED"}],
        "headers": {"Nats-Msg-Id": ["m-1"]}
    })
}

#[test]
fn values_print_as_jget_printed_them() {
    let d = payment();
    assert_eq!(get_ok(&d, args(".orderId")), "o-1");
    assert_eq!(get_ok(&d, args("amount")), "45000");
    assert_eq!(get_ok(&d, args(".isWalletDone")), "false");
    assert_eq!(get_ok(&d, args(".refundableAmount")), "");
    assert_eq!(get_ok(&d, args(".missingProductNos")), "[999]");
    assert_eq!(get_ok(&d, args(".headers")), r#"{"Nats-Msg-Id": ["m-1"]}"#);
    assert_eq!(get_ok(&d, args(".lines[0].sellerNo")), "17");
    assert_eq!(get_ok(&json!(1.5), args(".")), "1.5");
}

#[test]
fn a_missing_member_is_an_error_unless_optional() {
    let d = payment();
    let missing = get(&d, &args(".walletNo")).expect_err("no walletNo");
    assert!(missing.to_string().contains("\"walletNo\""), "{missing}");
    assert_eq!(get_ok(&d, args(".walletNo?")), "");
    assert!(get(&d, &args(".lines[2]")).is_err());
    assert!(get(&d, &args(".lines[x]")).is_err());
    assert!(get(&d, &args(".lines[0")).is_err());
}

#[test]
fn json_quotes_and_escapes_as_json_dumps() {
    let d = payment();
    let json = |path: &str| GetArgs {
        json: true,
        ..args(path)
    };
    assert_eq!(get_ok(&d, json(".amount")), "45000");
    assert_eq!(get_ok(&d, json(".orderId")), "\"o-1\"");
    assert_eq!(get_ok(&d, json(".refundableAmount")), "null");
    assert_eq!(
        get_ok(&d, json(".orderName")),
        r#""\ud0a4\ubcf4\ub4dc \uc678 1\uac74""#
    );
}

#[test]
fn lists_join_sort_filter_and_count() {
    let d = payment();
    let joined = GetArgs {
        join: Some(" ".into()),
        ..args(".cancels[].status")
    };
    assert_eq!(get_ok(&d, joined), "DONE REQUESTED");
    assert_eq!(get_ok(&d, args(".lines[].sellerNo")), "17\n18");
    let letters = json!([
        {"service": "wallet-service", "id": "5", "consumer": "wallet-settlement", "replayCount": 0},
        {"service": "order-query-service", "id": "6", "consumer": "order-query-projection", "replayCount": 1},
        {"service": "hot-catalog-service", "id": "7", "consumer": "hot-catalog-orders", "replayCount": 0},
    ]);
    let sorted = GetArgs {
        sort: true,
        join: Some(" ".into()),
        ..args("[].consumer")
    };
    assert_eq!(
        get_ok(&letters, sorted),
        "hot-catalog-orders order-query-projection wallet-settlement"
    );
    assert_eq!(get_ok(&letters, args("[service=wallet-service].id")), "5");
    assert_eq!(get_ok(&letters, args("[replayCount=0][consumer=c].id")), "");
    assert_eq!(get_ok(&letters, args("[replayCount=0].id")), "5\n7");
    let count = |path: &str| GetArgs {
        len: true,
        ..args(path)
    };
    assert_eq!(get_ok(&letters, count("[]")), "3");
    assert_eq!(get_ok(&letters, count("[replayCount=1]")), "1");
    assert_eq!(get_ok(&json!({"orders": []}), count(".orders[]")), "0");
    // a product not in the ranking has no fields: ""
    let hot = json!({"products": [{"productNo": 2, "rank": 1, "score": 23.0}]});
    assert_eq!(get_ok(&hot, args(".products[productNo=2].score?")), "23.0");
    assert_eq!(get_ok(&hot, args(".products[productNo=9].score?")), "");
}

#[test]
fn templates_read_each_value() {
    let ack = json!({"stream": "ORDERS", "seq": 12});
    let seq = GetArgs {
        format: Some("{stream} seq {seq}".into()),
        ..args(".")
    };
    assert_eq!(get_ok(&ack, seq), "ORDERS seq 12");
    let payout = json!({"history": [
        {"to": "IN_TRANSIT", "source": "API"}, {"to": "COMPLETED", "source": "WEBHOOK"}
    ]});
    let history = GetArgs {
        format: Some("{to} ({source})".into()),
        join: Some(" → ".into()),
        ..args(".history[]")
    };
    assert_eq!(
        get_ok(&payout, history),
        "IN_TRANSIT (API) → COMPLETED (WEBHOOK)"
    );
}

#[test]
fn paths_parse_into_steps() {
    assert_eq!(
        parse(".a[0][].b?[k=v]").ok(),
        Some(vec![
            Step::Key {
                name: "a",
                optional: false
            },
            Step::Index(0),
            Step::Each,
            Step::Key {
                name: "b",
                optional: true
            },
            Step::Where {
                key: "k",
                value: "v"
            },
        ])
    );
    assert_eq!(parse(".").ok(), Some(vec![]));
    assert!(parse("a..b").is_err());
}
