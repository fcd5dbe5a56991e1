use serde_json::json;

use super::*;

fn at(t: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(t).ok()
}

#[test]
fn sizes_and_ages_read_like_before() {
    assert_eq!(size(0), "0 B");
    assert_eq!(size(1023), "1023 B");
    assert_eq!(size(85_504), "83.5 KiB");
    assert_eq!(size(3 * 1024 * 1024), "3.0 MiB");
    assert_eq!(size(5 * 1024 * 1024 * 1024 * 1024), "5120.0 GiB");
    let now = at("2026-12-05T04:00:00.9Z");
    assert_eq!(ago(now, Some("2026-12-05T03:59:18.5Z")), "42s ago");
    assert_eq!(ago(now, Some("2026-12-05T03:29:00Z")), "31m ago");
    assert_eq!(ago(now, Some("2026-12-04T23:00:00Z")), "5h ago");
    assert_eq!(ago(now, Some("0001-01-01T00:00:00Z")), "-");
    assert_eq!(ago(now, Some("2026-12-05T04:01:00Z")), "-");
    assert_eq!(ago(now, None), "-");
    assert_eq!(ago(None, Some("2026-12-05T03:59:18Z")), "-");
}

#[test]
fn credentials_are_not_shown() {
    assert_eq!(
        without_credentials("nats://paymsa-admin:secret@127.0.0.1:4335"),
        "nats://127.0.0.1:4335"
    );
    assert_eq!(
        without_credentials("nats://a:b@h1:1,nats://a:b@h2:2"),
        "nats://h1:1,nats://h2:2"
    );
    assert_eq!(
        without_credentials("nats://127.0.0.1:4222"),
        "nats://127.0.0.1:4222"
    );
}

#[test]
fn a_table_pads_columns_and_trims_the_line_ends() {
    let rows = vec![vec![
        "a-long-name".to_string(),
        "1".to_string(),
        String::new(),
    ]];
    assert_eq!(
        table(&["name", "n", "last"], &rows, "  "),
        "  name         n  last\n  a-long-name  1\n"
    );
}

fn consumer(name: &str, config: Value) -> Value {
    json!({
        "name": name,
        "config": config,
        "delivered": {"stream_seq": 12, "last_active": "2026-12-05T03:59:00Z"},
        "ack_floor": {"stream_seq": 11},
        "num_pending": 3,
        "num_ack_pending": 1,
        "num_redelivered": 0
    })
}

#[test]
fn the_report_lists_streams_dlq_last_and_counts_test_streams() {
    let jsz = json!({
        "now": "2026-12-05T04:00:00Z",
        "account_details": [{"stream_detail": [
            {"name": "DLQ", "config": {"subjects": ["$JS.EVENT.ADVISORY.>"], "retention": "limits"},
             "state": {"messages": 4, "bytes": 2048, "first_seq": 1, "last_seq": 4}},
            {"name": "T0123456789AB_ORDERS", "consumer_detail": [{"name": "x"}]},
            {"name": "ORDERS",
             "config": {"subjects": ["order.>"], "retention": "limits", "num_replicas": 3},
             "state": {"messages": 12, "bytes": 85_504, "first_seq": 1, "last_seq": 12},
             "consumer_detail": [
                consumer("wallet-settlement", json!({"filter_subject": "order.payment.confirmed", "max_deliver": 3})),
                consumer("order-query-projection", json!({
                    "filter_subjects": ["order.payment.confirmed", "order.payment.canceled", "order.payment.refunded"],
                    "max_deliver": -1
                })),
             ]}
        ]}]
    });
    let expected = "\
(1 test-namespace streams with 1 consumers not shown: left by a `just test` that was interrupted;
 the next `just test` deletes them)

stream ORDERS  subjects order.>  messages 12  83.5 KiB  seq 1..12  retention limits  replicas 3
    consumer                filter                             delivered  ack floor  pending  ack pending  redelivered  max deliver  last delivery
    order-query-projection  order.payment.confirmed (+2 more)  12         11         3        1            0            unlimited    60s ago
    wallet-settlement       order.payment.confirmed            12         11         3        1            0            3            60s ago

stream DLQ  subjects $JS.EVENT.ADVISORY.>  messages 4  2.0 KiB  seq 1..4  retention limits  replicas 1
    (no consumers)

";
    assert_eq!(report(&jsz), format!("{expected}{LEGEND}"));
}

#[test]
fn an_empty_server_says_so() {
    let report = report(&json!({"account_details": []}));
    assert!(report.starts_with("no streams yet (the services create them at start)\n"));
}
