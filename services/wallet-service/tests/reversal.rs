//! `wallet-reversal` against real Postgres and NATS: a cancel takes back exactly the sellers'
//! credit for its lines, once per (cancel, seller) however often it is delivered; a cancel
//! that overtakes its settlement is parked and applied with it; a reversal may take a balance
//! below zero; `wallet.reversed` is published once and `wallet.settled` never for a reversal.
//! After every scenario: per seller, Σ credits − Σ reversals (− debits) = balance.

mod support;

use rust_decimal::Decimal;
use serde_json::json;
use support::{canceled, confirmed, Wallets, ORDERS, WALLETS};

const A: i64 = 1;
const B: i64 = 2;

#[tokio::test]
async fn a_cancel_is_reversed_once_however_often_it_arrives() {
    let w = Wallets::start().await;
    w.register(A).await;
    w.register(B).await;
    // A sells lines 11 (1000) and 12 (2000), B line 13 (500).
    w.publish(&confirmed(
        100,
        &[(11, A, 1000), (12, A, 2000), (13, B, 500)],
    ))
    .await;
    w.expect_balance(A, Decimal::from(3000)).await;
    w.expect_balance(B, Decimal::from(500)).await;

    // Line 11 fully and 300 of line 13 refunded.
    let cancel = canceled(100, 9001, &[(11, A, 1000, 1000), (13, B, 300, 500)]);
    w.publish(&cancel).await;
    // A replay (same eventId, new Nats-Msg-Id) and a re-emission (new eventId, same cancel).
    w.publish_as(&cancel, "replayed-9001").await;
    let mut again = canceled(100, 9001, &[(11, A, 1000, 1000), (13, B, 300, 500)]);
    again.occurred_at = cancel.occurred_at;
    w.publish(&again).await;
    w.wait_idle(&ORDERS, "wallet-reversal").await;

    w.expect_balance(A, Decimal::from(2000)).await;
    w.expect_balance(B, Decimal::from(200)).await;
    let rows = w
        .count("select count(*) from wallet_transactions where type = 'REVERSAL'")
        .await;
    assert_eq!(rows, 2, "one reversal row per (cancel, seller)");
    w.assert_ledger_matches_balances().await;

    // Exactly one wallet.reversed, from the ledger; the single wallet.settled is untouched.
    let written = w
        .count("select count(*) from outbox where event_type = 'wallet.reversed'")
        .await;
    assert_eq!(written, 1, "the re-emitted cancel announced nothing");
    let reversed = w.envelopes(&WALLETS, "wallet.reversed").await;
    assert_eq!(reversed.len(), 1, "{reversed:?}");
    assert_eq!(
        reversed[0]["payload"],
        json!({
            "orderId": "order-100",
            "paymentEventNo": "100",
            "cancelNo": "9001",
            "reversals": [
                {"sellerNo": "1", "amount": "1000.00"},
                {"sellerNo": "2", "amount": "300.00"}
            ]
        })
    );
    assert_eq!(w.envelopes(&WALLETS, "wallet.settled").await.len(), 1);

    // The wallet API lists the reversal with its cancel.
    let (status, body) = w.wallet(A).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["balance"], "2000");
    let newest = &body["recentTransactions"][0];
    assert_eq!(
        (&newest["type"], &newest["cancelNo"], &newest["amount"]),
        (&json!("REVERSAL"), &json!("9001"), &json!("1000")),
        "{body}"
    );
    w.stop().await;
}

#[tokio::test]
async fn a_cancel_before_its_settlement_is_parked_then_applied_with_it() {
    let w = Wallets::start().await;
    w.register(A).await;
    w.expect_balance(A, Decimal::ZERO).await;
    w.publish(&canceled(200, 9002, &[(21, A, 400, 1000)])).await;
    w.wait_idle(&ORDERS, "wallet-reversal").await;
    assert_eq!(w.count("select count(*) from pending_reversals").await, 1);
    assert!(w.envelopes(&WALLETS, "wallet.reversed").await.is_empty());

    w.publish(&confirmed(200, &[(21, A, 1000)])).await;
    w.expect_balance(A, Decimal::from(600)).await;
    w.wait_idle(&ORDERS, "wallet-settlement").await;
    assert_eq!(w.count("select count(*) from pending_reversals").await, 0);
    w.assert_ledger_matches_balances().await;
    // Settled first, then reversed: the settlement's transaction wrote them in that order.
    let (settled, reversed) = wait_for_both(&w).await;
    assert_eq!(settled["payload"]["credits"][0]["amount"], "1000.00");
    assert_eq!(reversed["payload"]["reversals"][0]["amount"], "400.00");
    w.stop().await;
}

#[tokio::test]
async fn a_cancel_for_a_seller_without_a_wallet_waits_for_the_wallet() {
    let w = Wallets::start().await;
    // Sale and cancel both arrive before seller B's registration.
    w.publish(&confirmed(300, &[(31, B, 700)])).await;
    w.publish(&canceled(300, 9003, &[(31, B, 700, 700)])).await;
    w.wait_idle(&ORDERS, "wallet-settlement").await;
    w.wait_idle(&ORDERS, "wallet-reversal").await;
    w.expect_count("select count(*) from pending_settlements", 1)
        .await;
    w.expect_count("select count(*) from pending_reversals", 1)
        .await;

    w.register(B).await;
    w.wait_idle(&events::topology::SELLERS, "wallet-onboarding")
        .await;
    w.expect_balance(B, Decimal::ZERO).await;
    let parked = w
        .count("select (select count(*) from pending_settlements) + (select count(*) from pending_reversals)")
        .await;
    assert_eq!(parked, 0);
    assert_eq!(
        w.count("select count(*) from wallet_transactions where seller_no = 2")
            .await,
        2,
        "the credit and its reversal"
    );
    wait_for_both(&w).await;
    w.assert_ledger_matches_balances().await;
    w.stop().await;
}

/// The reversal always posts: the PSP already refunded the customer. A seller who was paid out
/// meanwhile ends below zero, and owes the difference: the net comes out of SELLER_PENDING
/// (empty after the release) and then SELLER_AVAILABLE, which goes negative.
#[tokio::test]
async fn a_reversal_may_take_the_balance_below_zero() {
    let w = Wallets::start_with(&[("SETTLEMENT_HOLD", "0s")]).await;
    w.register(A).await;
    w.publish(&confirmed(400, &[(41, A, 1000)])).await;
    w.expect_balance(A, Decimal::from(1000)).await;
    // Released by the service's job at once (no hold).
    let deadline = tokio::time::Instant::now() + support::WAIT;
    while w.account(Some(A), "SELLER_AVAILABLE").await != Decimal::from(1000) {
        assert!(tokio::time::Instant::now() < deadline, "never released");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // A payout of 800, as the payout flow will write it: a DEBIT row and balance change, and
    // a PAYOUT entry moving available money into transit.
    let mut tx = w.pool.begin().await.expect("begin");
    sqlx::query(
        "with d as (insert into wallet_transactions (id, wallet_no, seller_no, amount, type, idempotency_key)
             select 1, wallet_no, seller_no, 800, 'DEBIT', 'payout:1' from wallets where seller_no = $1
             returning wallet_no)
         update wallets set balance = balance - 800, version = version + 1
         where wallet_no = (select wallet_no from d)",
    )
    .bind(A)
    .execute(&mut *tx)
    .await
    .expect("payout");
    sqlx::query(
        "with e as (insert into ledger_entries (idempotency_key, kind, seller_no, payout_no)
                    values ('payout:1', 'PAYOUT', $1, 1) returning id)
         insert into ledger_postings (entry_id, account_id, amount)
         select e.id, a.id, case a.kind when 'SELLER_AVAILABLE' then 800 else -800 end
           from e, ledger_accounts a
          where a.seller_no = $1 and a.kind in ('SELLER_AVAILABLE', 'PAYOUTS_IN_TRANSIT')
          order by a.id",
    )
    .bind(A)
    .execute(&mut *tx)
    .await
    .expect("payout entry");
    tx.commit().await.expect("payout commits");
    w.publish(&canceled(400, 9004, &[(41, A, 1000, 1000)]))
        .await;
    w.expect_balance(A, Decimal::from(-800)).await;
    w.assert_ledger_matches_balances().await;
    w.assert_ledger_sound().await;
    let (_, body) = w.wallet(A).await;
    assert_eq!(
        (
            &body["balance"],
            &body["pending"],
            &body["available"],
            &body["inTransit"]
        ),
        (&json!("-800"), &json!("0"), &json!("-800"), &json!("800")),
        "{body}"
    );
    w.stop().await;
}

/// Waits for the one wallet.settled and the one wallet.reversed of the test and returns them,
/// checking the settlement was published first (and nothing twice).
async fn wait_for_both(w: &Wallets) -> (serde_json::Value, serde_json::Value) {
    let deadline = tokio::time::Instant::now() + support::WAIT;
    loop {
        let mut all = w.envelopes(&WALLETS, "wallet.settled").await;
        all.extend(w.envelopes(&WALLETS, "wallet.reversed").await);
        if all.len() >= 2 {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            let types = w.types(&WALLETS).await;
            let money: Vec<&str> = types
                .iter()
                .map(String::as_str)
                .filter(|t| *t != "wallet.created")
                .collect();
            assert_eq!(money, ["wallet.settled", "wallet.reversed"]);
            return (all[0].clone(), all[1].clone());
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no settled + reversed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A cancel that refunds more than its line can never be posted. It is rejected on arrival (a
/// dead letter, for a person), not parked: parked, it failed only when the settlement of the
/// line applied it, and took that settlement — the seller's credit and `wallet.settled` — to
/// the dead-letter queue with it (until stop 31).
#[tokio::test]
async fn a_cancel_above_its_line_is_rejected_on_arrival_not_parked_to_fail_its_settlement() {
    let w = Wallets::start().await;
    w.register(A).await;
    w.expect_balance(A, Decimal::ZERO).await;
    w.publish(&canceled(400, 9400, &[(41, A, 1001, 1000)]))
        .await;
    w.expect_count(
        "select count(*) from dead_letters where consumer = 'wallet-reversal'",
        1,
    )
    .await;
    assert_eq!(w.count("select count(*) from pending_reversals").await, 0);

    w.publish(&confirmed(400, &[(41, A, 1000)])).await;
    w.expect_balance(A, Decimal::from(1000)).await;
    assert_eq!(w.wait_for("wallet.settled", 1).await.len(), 1);
    w.expect_count(
        "select count(*) from dead_letters where consumer = 'wallet-settlement'",
        0,
    )
    .await;
    w.assert_ledger_matches_balances().await;
    w.stop().await;
}
