//! Settlements committed in groups (`SETTLEMENT_GROUP_LANES`) and applied as one batch
//! (src/settlement_batch.rs): every order of a plain group credited by the same statements in
//! one transaction, and a group with a seller who has no wallet yet going the careful way,
//! one savepoint per order, with that seller's line parked; and a batch that fails after it
//! wrote credits keeping nothing, its orders then credited once each on the careful path.

mod support;

use rust_decimal::Decimal;
use support::{confirmed, Wallets, ORDERS, WALLETS};

const A: i64 = 1;
const B: i64 = 2;
/// Registers only after its sale arrived.
const C: i64 = 3;

/// One lane that waits a second to fill its group: the orders published together are one group.
const GROUPED: [(&str, &str); 3] = [
    ("FEE_RATE_DEFAULT", "0"),
    ("SETTLEMENT_GROUP_LANES", "1"),
    ("GROUP_COMMIT_LINGER_MS", "1000"),
];

/// At a 5 % commission (floor per line), with a second copy of one event (another message id,
/// as after a lost ack) in the same group.
#[tokio::test]
async fn a_plain_group_is_credited_in_one_batch() {
    let w = Wallets::start_with(&[
        ("FEE_RATE_DEFAULT", "0.05"),
        ("SETTLEMENT_GROUP_LANES", "1"),
        ("GROUP_COMMIT_LINGER_MS", "1000"),
    ])
    .await;
    w.register(A).await;
    w.register(B).await;
    w.expect_balance(B, Decimal::ZERO).await;

    let copied = confirmed(701, &[(73, A, 50)]);
    for order in [
        confirmed(700, &[(71, A, 100), (72, B, 200)]),
        copied.clone(),
        confirmed(702, &[(74, B, 30), (75, A, 20)]),
        confirmed(703, &[(76, B, 10)]),
    ] {
        w.publish(&order).await;
    }
    w.publish_as(&copied, "copy-701").await;
    // A: 100 − 5, 50 − 2, 20 − 1; B: 200 − 10, 30 − 1, 10 − 0.
    w.expect_balance(A, Decimal::from(162)).await;
    w.expect_balance(B, Decimal::from(229)).await;
    w.wait_idle(&ORDERS, "wallet-settlement").await;
    assert_eq!(w.wait_for("wallet.settled", 4).await.len(), 4);
    assert_eq!(w.envelopes(&WALLETS, "wallet.settled").await.len(), 4);
    assert_eq!(
        w.count("select count(*) from wallet_transactions").await,
        6,
        "the copy credited nothing"
    );
    assert_eq!(
        w.count("select count(*) from ledger_entries where kind = 'SALE'")
            .await,
        6
    );
    // One transaction and no savepoint per order: every credit row has the same xmin. The
    // careful path writes each order's rows in a subtransaction of its own (the next test).
    assert_eq!(
        w.count("select count(distinct xmin::text) from wallet_transactions")
            .await,
        1,
        "the four orders were one batch"
    );
    w.assert_ledger_matches_balances().await;
    w.assert_ledger_sound().await;
    w.stop().await;
}

#[tokio::test]
async fn a_group_with_a_seller_without_a_wallet_goes_one_order_at_a_time() {
    let w = Wallets::start_with(&GROUPED).await;
    w.register(A).await;
    w.register(B).await;
    w.expect_balance(B, Decimal::ZERO).await;
    log_credit_xacts(&w).await;

    w.publish(&confirmed(710, &[(81, A, 100)])).await;
    w.publish(&confirmed(711, &[(82, C, 300), (83, B, 50)]))
        .await;
    w.expect_balance(A, Decimal::from(100)).await;
    w.expect_balance(B, Decimal::from(50)).await;
    assert_eq!(
        w.count("select count(*) from pending_settlements where seller_no = 3")
            .await,
        1,
        "C's line waits for its wallet"
    );
    // The batch declined and wrote nothing; each order then had its own savepoint, in the
    // group's one transaction (two groups of one order each would show two of those).
    assert_eq!(
        w.count("select count(distinct xmin::text) from wallet_transactions")
            .await,
        2
    );
    assert_eq!(
        w.count("select count(distinct xact) from test_credit_xacts")
            .await,
        1,
        "the two orders were one group"
    );
    assert_eq!(w.wait_for("wallet.settled", 1).await.len(), 1);

    w.register(C).await;
    w.expect_balance(C, Decimal::from(300)).await;
    assert_eq!(w.wait_for("wallet.settled", 2).await.len(), 2);
    w.assert_ledger_matches_balances().await;
    w.assert_ledger_sound().await;
    w.stop().await;
}

/// The ledger refuses a statement that posts more than two sales at once, as only a batch of
/// several orders does: the batch has already written its credits and ledger entries when it
/// fails. Nothing of it may stay, and every order is then credited once, in a savepoint of its
/// own.
#[tokio::test]
async fn a_batch_failing_after_its_credits_keeps_nothing_and_each_order_settles_once() {
    let w = Wallets::start_with(&GROUPED).await;
    w.register(A).await;
    w.register(B).await;
    w.expect_balance(B, Decimal::ZERO).await;
    for statement in [
        "create sequence test_refused_batches",
        "create function test_refuse_batches() returns trigger language plpgsql as $$
         begin
             if (select count(*) from posted) > 2 then
                 perform nextval('test_refused_batches');
                 raise exception 'test: more than two sales in one statement';
             end if;
             return null;
         end $$",
        "create trigger test_refuse_batches after insert on ledger_sales
         referencing new table as posted for each statement
         execute function test_refuse_batches()",
    ] {
        sqlx::query(statement)
            .execute(&w.pool)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    log_credit_xacts(&w).await;

    w.publish(&confirmed(730, &[(90, A, 100)])).await;
    w.publish(&confirmed(731, &[(91, B, 200), (92, A, 30)]))
        .await;
    w.publish(&confirmed(732, &[(93, B, 10)])).await;
    w.expect_balance(A, Decimal::from(130)).await;
    w.expect_balance(B, Decimal::from(210)).await;
    w.expect_each_order_settled_once(3).await;
    assert!(
        w.count("select case when is_called then last_value else 0 end from test_refused_batches")
            .await
            >= 1,
        "the group was tried as a batch"
    );
    assert_eq!(
        w.count("select count(*) from wallet_transactions").await,
        4,
        "each line credited once"
    );
    assert_eq!(
        w.count("select count(*) from ledger_entries where kind = 'SALE'")
            .await,
        4
    );
    // Each order in a subtransaction of its own: the batch's rows are gone.
    assert_eq!(
        w.count("select count(distinct xmin::text) from wallet_transactions")
            .await,
        3
    );
    // After the failed batch its group carried on (rolled back to the batch's savepoint) and
    // committed once; had the group failed as a whole, each order would have gone alone.
    assert!(
        w.count("select count(distinct xact) from test_credit_xacts")
            .await
            < 3,
        "the group committed together"
    );
    w.assert_ledger_matches_balances().await;
    w.stop().await;
}

/// Each `wallet.settled` a batch writes continues the trace of the order event that caused it,
/// as on the careful path (tests/tests/e2e/tracing.rs follows one order end to end).
#[tokio::test]
async fn a_batch_keeps_each_orders_trace() {
    let w = Wallets::start_with(&GROUPED).await;
    w.register(A).await;
    w.register(B).await;
    w.expect_balance(B, Decimal::ZERO).await;

    let traces = [
        (720, "4bf92f3577b34da6a3ce929d0e0e4720"),
        (721, "4bf92f3577b34da6a3ce929d0e0e4721"),
    ];
    for (no, trace_id) in traces {
        let order = confirmed(no, &[(no * 10, A, 10), (no * 10 + 1, B, 20)]);
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", order.event_id.to_string().as_str());
        headers.insert(
            "traceparent",
            format!("00-{trace_id}-00f067aa0ba902b7-01").as_str(),
        );
        w.js.publish_with_headers(
            w.topology.subject("order.payment.confirmed"),
            headers,
            serde_json::to_vec(&order).expect("serializes").into(),
        )
        .await
        .expect("published")
        .await
        .expect("stored");
    }
    w.expect_balance(B, Decimal::from(40)).await;
    assert_eq!(
        w.count("select count(distinct xmin::text) from wallet_transactions")
            .await,
        1,
        "the two orders were one batch"
    );
    w.wait_for("wallet.settled", 2).await;
    let mut stream =
        w.js.get_stream(w.topology.stream_name(&WALLETS))
            .await
            .expect("stream");
    let state = stream.info().await.expect("info").state.clone();
    let mut seen = Vec::new();
    for seq in state.first_sequence..=state.last_sequence {
        let Some(m) = service_kit::testing::stream_message(&stream, seq).await else {
            continue;
        };
        if m.subject.as_str() != w.topology.subject("wallet.settled") {
            continue;
        }
        let body: serde_json::Value = serde_json::from_slice(&m.payload).expect("json");
        let no = body["payload"]["paymentEventNo"]
            .to_string()
            .replace('"', "");
        let parent = m
            .headers
            .get("traceparent")
            .map(|v| v.as_str().to_string())
            .unwrap_or_default();
        seen.push((no, parent));
    }
    seen.sort();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for ((no, trace_id), (settled_no, parent)) in traces.iter().zip(&seen) {
        assert_eq!(&no.to_string(), settled_no);
        assert!(
            parent.starts_with(&format!("00-{trace_id}-")),
            "wallet.settled of {no} carries {parent:?}, not its order's trace {trace_id}"
        );
    }
    w.stop().await;
}

/// Logs the top-level transaction each credit row committed in (`xmin` shows subtransactions)
/// into `test_credit_xacts`.
async fn log_credit_xacts(w: &Wallets) {
    for statement in [
        "create table test_credit_xacts (payment_event_no bigint, xact text)",
        "create function test_log_xact() returns trigger language plpgsql as $$
         begin
             insert into test_credit_xacts values (new.payment_event_no, pg_current_xact_id()::text);
             return null;
         end $$",
        "create trigger test_log_xact after insert on wallet_transactions
         for each row execute function test_log_xact()",
    ] {
        sqlx::query(statement)
            .execute(&w.pool)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}
