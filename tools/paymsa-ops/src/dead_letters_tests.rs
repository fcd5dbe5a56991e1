use serde_json::json;

use super::*;

fn letter(service: &str, id: &str, seen: &str, resolved: Value) -> Value {
    json!({
        "service": service, "id": id, "consumer": "wallet-settlement", "stream": "ORDERS",
        "streamSeq": 7, "subject": "order.payment.confirmed", "reason": "TERMINATED",
        "deliveries": 1, "replayCount": 0, "firstSeenAt": seen, "resolvedAt": resolved
    })
}

#[test]
fn the_listing_has_one_row_per_letter() {
    let items = [
        letter(
            "wallet-service",
            "387446195200471040",
            "2026-12-05T03:32:51.123Z",
            Value::Null,
        ),
        json!({"service": "order-query-service", "id": "9", "consumer": "c", "stream": "ORDERS",
               "streamSeq": 8, "subject": null, "reason": "MAX_DELIVERIES", "deliveries": 3,
               "replayCount": 2, "firstSeenAt": "2026-12-05T03:30:00Z",
               "resolvedAt": "2026-12-05T03:40:00Z"}),
    ];
    let expected = "\
first seen           service              id                  consumer           stream:seq  subject                  reason          deliv  replays  state
2026-12-05 03:32:51  wallet-service       387446195200471040  wallet-settlement  ORDERS:7    order.payment.confirmed  TERMINATED      1      0        open
2026-12-05 03:30:00  order-query-service  9                   c                  ORDERS:8    (gone)                   MAX_DELIVERIES  3      2        resolved
";
    assert_eq!(listing(&items), expected);
}

#[test]
fn the_detail_shows_every_field_headers_and_the_payload_indented() {
    let mut d = letter("wallet-service", "5", "2026-12-05T03:32:51Z", Value::Null);
    d["headers"] = json!({"Nats-Msg-Id": ["demo-1"]});
    d["payloadText"] = json!(r#"{"orderId":"7","amount":"10.00"}"#);
    d["replayable"] = json!(true);
    let text = detail(&d);
    assert!(text.starts_with("id              5\nstream          ORDERS\nstreamSeq       7\n"));
    assert!(text.contains("\neventId         -\n"), "{text}");
    assert!(text.contains("\nreplayable      true\n"), "{text}");
    assert!(
        text.contains("\nheaders         {\"Nats-Msg-Id\": [\"demo-1\"]}\n"),
        "{text}"
    );
    assert!(
        text.ends_with("payload:\n  {\n    \"orderId\": \"7\",\n    \"amount\": \"10.00\"\n  }\n")
    );

    d["payloadText"] = json!("not json");
    assert!(detail(&d).ends_with("payload:\n  not json\n"));
    d["payloadText"] = Value::Null;
    d["payload"] = json!("/w==");
    assert!(detail(&d).ends_with("payload         (not UTF-8; base64) /w==\n"));
}

#[test]
fn dead_letters_use_the_dlq_listing() {
    let d = json!([{"service": "wallet-service", "id": "5", "consumer": "wallet-settlement",
                    "stream": "ORDERS", "streamSeq": 7, "subject": "order.payment.confirmed",
                    "reason": "TERMINATED", "deliveries": 1, "replayCount": 0,
                    "firstSeenAt": "2026-12-05T03:32:51Z", "resolvedAt": null}]);
    let out = listing(d.as_array().map(Vec::as_slice).unwrap_or_default());
    assert!(out.starts_with("first seen "), "{out}");
    assert!(out.contains("wallet-service  5 "), "{out}");
}
