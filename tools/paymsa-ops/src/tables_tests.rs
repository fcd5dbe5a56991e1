use serde_json::json;

use super::*;

#[test]
fn hot_shows_the_top_and_the_marked_products() {
    let d = json!({"products": [
        {"rank": 1, "score": 30.0, "name": "Mechanical keyboard", "productNo": 41, "likeCount": 0,
         "reviewCount": 0, "paidOrderLines": 3},
        {"rank": 2, "score": 12.5, "name": null, "productNo": "7", "likeCount": 1,
         "reviewCount": 0, "paidOrderLines": 1},
        {"rank": 3, "score": 10.25, "name": "Wireless mouse", "productNo": 42, "likeCount": 0,
         "reviewCount": 0, "paidOrderLines": 1},
    ]});
    let kind = Kind::Hot {
        top: 1,
        mark: vec!["41".into(), "42".into()],
    };
    let expected = "\
rank  score  product              productNo  likes  reviews  paid lines
#1    30.0   Mechanical keyboard  41         0      0        3           ◀ demo
#3    10.2   Wireless mouse       42         0      0        1           ◀ demo
";
    assert_eq!(render(&kind, &d), expected);
    let none = Kind::Hot {
        top: 5,
        mark: vec![],
    };
    assert_eq!(
        render(&none, &json!({"products": []})),
        "rank  score  product  productNo  likes  reviews  paid lines\n(no ranked products yet)\n"
    );
}

#[test]
fn orders_show_one_row_per_order() {
    let d = json!({"orders": [
        {"orderId": "o-2", "orderName": "Mechanical keyboard", "status": "PAID",
         "totalAmount": 45000, "walletSettled": true,
         "createdDateTime": "2026-12-05T03:32:51.123456Z", "lines": [{}]},
        {"orderId": "o-1", "orderName": null, "status": "PAID", "totalAmount": null,
         "walletSettled": false, "createdDateTime": "2026-12-05T03:30:00Z", "lines": [{}, {}]},
    ]});
    let expected = "\
orderId  orderName            status  total  settled  createdDateTime          lines
o-2      Mechanical keyboard  PAID    45000  yes      2026-12-05T03:32:51.123  1
o-1                           PAID    None   no       2026-12-05T03:30:00Z     2
";
    assert_eq!(render(&Kind::Orders, &d), expected);
    assert!(render(&Kind::Orders, &json!({"orders": []})).ends_with("lines\n(no orders)\n"));
}

#[test]
fn the_ledger_shows_eight_rows_sized_for_all() {
    let row = |i: usize, order: &str| {
        json!({"createdAt": format!("2026-12-05T03:30:0{i}.000000Z"), "type": "CREDIT",
               "amount": 100, "orderId": order, "paymentOrderNo": i})
    };
    let mut rows: Vec<Value> = (0..9).map(|i| row(i, "o")).collect();
    rows.push(row(0, "order-with-a-long-id"));
    let out = render(&Kind::Ledger, &json!({ "recentTransactions": rows }));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 10, "{out}");
    assert_eq!(
        lines[0],
        "createdAt                kind    amount  orderId               paymentOrderNo"
    );
    assert_eq!(lines[1], "2026-12-05T03:30:00.000  CREDIT  100     o");
    assert_eq!(lines[9], "… 2 more");
    let empty = render(&Kind::Ledger, &json!({"recentTransactions": []}));
    assert!(
        empty.ends_with("paymentOrderNo\n(no transactions)\n"),
        "{empty}"
    );
}
