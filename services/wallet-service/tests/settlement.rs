//! Settling an order's sellers together (src/credits.rs): every seller of an order is credited
//! by the same statements, so these check that the sellers still come out separately — one
//! without a wallet parked while the others are credited, cancels that overtook the order
//! applied to each of their sellers, a replay changing nothing.

mod support;

use rust_decimal::Decimal;
use serde_json::json;
use support::{canceled, confirmed, Wallets, ORDERS, SELLERS, WALLETS};

const A: i64 = 1;
const B: i64 = 2;
/// Registers only after its sale arrived.
const C: i64 = 3;

#[tokio::test]
async fn an_order_of_three_sellers_credits_two_and_parks_the_one_without_a_wallet() {
    let w = Wallets::start_with(&[("FEE_RATE_DEFAULT", "0")]).await;
    w.register(A).await;
    w.register(B).await;
    w.expect_balance(B, Decimal::ZERO).await;

    let order = confirmed(
        400,
        &[(41, A, 100), (42, C, 300), (43, B, 200), (44, A, 50)],
    );
    w.publish(&order).await;
    w.expect_balance(A, Decimal::from(150)).await;
    w.expect_balance(B, Decimal::from(200)).await;
    w.wait_idle(&ORDERS, "wallet-settlement").await;
    // C's line waits for its wallet.
    w.expect_count(
        "select count(*) from pending_settlements where seller_no = 3",
        1,
    )
    .await;
    assert!(
        w.envelopes(&WALLETS, "wallet.settled").await.is_empty(),
        "not settled while a line is parked"
    );

    // A replay (a new message id, as after a lost ack) credits nobody twice.
    w.publish_as(&order, "replay-400").await;
    w.wait_idle(&ORDERS, "wallet-settlement").await;
    assert_eq!(w.balance(A).await, Some(Decimal::from(150)));
    assert_eq!(w.balance(B).await, Some(Decimal::from(200)));
    assert_eq!(
        w.count("select count(*) from wallet_transactions where payment_event_no = 400")
            .await,
        3
    );
    assert_eq!(
        w.count("select count(*) from ledger_entries where kind = 'SALE'")
            .await,
        3
    );

    w.register(C).await;
    w.expect_balance(C, Decimal::from(300)).await;
    let settled = w.wait_for("wallet.settled", 1).await;
    assert_eq!(
        settled[0]["payload"]["credits"],
        json!([
            {"sellerNo": "1", "amount": "150.00"},
            {"sellerNo": "2", "amount": "200.00"},
            {"sellerNo": "3", "amount": "300.00"}
        ])
    );
    w.assert_ledger_matches_balances().await;
    w.assert_ledger_sound().await;
    w.stop().await;
}

#[tokio::test]
async fn cancels_that_overtook_the_order_are_applied_to_each_of_its_sellers() {
    let w = Wallets::start_with(&[("FEE_RATE_DEFAULT", "0")]).await;
    w.register(A).await;
    w.register(B).await;
    w.expect_balance(B, Decimal::ZERO).await;

    // The refund of a line of each seller arrives before the order's settlement: parked.
    w.publish(&canceled(500, 9501, &[(51, A, 40, 100), (52, B, 70, 200)]))
        .await;
    w.wait_idle(&ORDERS, "wallet-reversal").await;
    assert_eq!(w.count("select count(*) from pending_reversals").await, 2);

    w.publish(&confirmed(500, &[(51, A, 100), (52, B, 200)]))
        .await;
    w.expect_balance(A, Decimal::from(60)).await;
    w.expect_balance(B, Decimal::from(130)).await;
    assert_eq!(w.count("select count(*) from pending_reversals").await, 0);
    let settled = w.wait_for("wallet.settled", 1).await;
    assert_eq!(
        settled[0]["payload"]["credits"],
        json!([{"sellerNo": "1", "amount": "100.00"}, {"sellerNo": "2", "amount": "200.00"}])
    );
    let reversed = w.wait_for("wallet.reversed", 1).await;
    assert_eq!(
        reversed[0]["payload"]["reversals"],
        json!([{"sellerNo": "1", "amount": "40.00"}, {"sellerNo": "2", "amount": "70.00"}])
    );
    w.assert_ledger_matches_balances().await;
    w.assert_ledger_sound().await;
    w.stop().await;
}

/// Settlements committed in groups (`SETTLEMENT_GROUP_LANES`), two orders in one group, each
/// with a parked reversal of a different seller, the later order's seller first: the group
/// posts both reversals at its end, their wallets locked in seller order (settlement.rs,
/// `finish`), each `wallet.reversed` after the `wallet.settled` of its order.
#[tokio::test]
async fn a_group_of_settlements_applies_the_reversals_parked_for_its_orders() {
    let w = Wallets::start_with(&[
        ("FEE_RATE_DEFAULT", "0"),
        ("SETTLEMENT_GROUP_LANES", "1"),
        ("GROUP_COMMIT_LINGER_MS", "1000"),
    ])
    .await;
    w.register(A).await;
    w.register(B).await;
    w.expect_balance(B, Decimal::ZERO).await;

    w.publish(&canceled(600, 9601, &[(61, B, 30, 300)])).await;
    w.publish(&canceled(601, 9602, &[(62, A, 10, 100)])).await;
    w.wait_idle(&ORDERS, "wallet-reversal").await;
    assert_eq!(w.count("select count(*) from pending_reversals").await, 2);

    w.publish(&confirmed(600, &[(61, B, 300)])).await;
    w.publish(&confirmed(601, &[(62, A, 100)])).await;
    w.expect_balance(A, Decimal::from(90)).await;
    w.expect_balance(B, Decimal::from(270)).await;
    assert_eq!(w.count("select count(*) from pending_reversals").await, 0);
    assert_eq!(w.wait_for("wallet.settled", 2).await.len(), 2);
    assert_eq!(w.wait_for("wallet.reversed", 2).await.len(), 2);
    // Both reversals in one transaction (one xmin): the two
    // settlements were one group, and its end (`finish`) posted them. Settled apart, each
    // reversal would be in its own settlement's transaction.
    assert_eq!(w.count("select count(*) from wallet_transactions").await, 4);
    assert_eq!(
        w.count(
            "select count(distinct xmin::text) from wallet_transactions where type = 'REVERSAL'"
        )
        .await,
        1
    );
    w.assert_ledger_matches_balances().await;
    w.assert_ledger_sound().await;
    w.stop().await;
}

/// The sellers of one order onboarded at the same time (the onboarding consumer handles four
/// at once): each applies its own parked line, and the order is announced settled exactly
/// once, by whichever commits last, as is the cancel parked for both. Onboarding takes the
/// orders' locks for this (src/onboarding.rs); without them both onboardings asked whether
/// the order was complete before either committed, each saw the other's parked line, and
/// neither announced it.
#[tokio::test]
async fn sellers_of_one_order_onboarded_together_announce_it_settled_once() {
    const PAIRS: i64 = 8;
    let w = Wallets::start_with(&[("FEE_RATE_DEFAULT", "0")]).await;
    let seller = |pair: i64, k: i64| 100 + 2 * pair + k;
    for pair in 0..PAIRS {
        let lines = [
            (6000 + 2 * pair, seller(pair, 0), 10),
            (6001 + 2 * pair, seller(pair, 1), 20),
        ];
        w.publish(&confirmed(600 + pair, &lines)).await;
    }
    w.publish(&canceled(
        600,
        9600,
        &[(6000, 100, 4, 10), (6001, 101, 5, 20)],
    ))
    .await;
    w.wait_idle(&ORDERS, "wallet-settlement").await;
    w.wait_idle(&ORDERS, "wallet-reversal").await;
    // Every line waits for its seller's wallet.
    w.expect_count("select count(*) from pending_settlements", 2 * PAIRS)
        .await;
    w.expect_count("select count(*) from pending_reversals", 2)
        .await;

    for pair in 0..PAIRS {
        w.register(seller(pair, 0)).await;
        w.register(seller(pair, 1)).await;
    }
    w.expect_balance(seller(0, 1), Decimal::from(15)).await;
    w.wait_idle(&SELLERS, "wallet-onboarding").await;
    w.expect_each_order_settled_once(PAIRS as usize).await;
    let reversed = w.wait_for("wallet.reversed", 1).await;
    assert_eq!(
        reversed[0]["payload"]["reversals"],
        json!([{"sellerNo": "100", "amount": "4.00"}, {"sellerNo": "101", "amount": "5.00"}])
    );
    assert_eq!(reversed.len(), 1);
    w.assert_ledger_matches_balances().await;
    w.stop().await;
}
