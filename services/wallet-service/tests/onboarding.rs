//! A seller's onboarding applies what was parked for it a chunk of orders per transaction
//! (src/onboarding.rs, `ONBOARDING_PARKED_ORDERS`): each parked order costs an advisory lock
//! until the commit, and one transaction for thousands of them ran out of Postgres's lock
//! table. These check that chunks still credit every line once, apply the reversal parked
//! behind them and announce every order once, that a redelivery after the first chunk
//! applies the rest, and that a parked sale pays the commission rate of when it was parked.

mod support;

use events::{Envelope, SellerRegistered};
use rust_decimal::Decimal;
use serde_json::json;
use support::{canceled, confirmed, Wallets, ORDERS, SELLERS};

/// Has a wallet from the start.
const A: i64 = 1;
/// Registers after its sales arrived.
const C: i64 = 3;

#[tokio::test]
async fn parked_orders_are_applied_a_chunk_per_transaction_each_once() {
    const ORDER_COUNT: i64 = 5;
    let w =
        Wallets::start_with(&[("FEE_RATE_DEFAULT", "0"), ("ONBOARDING_PARKED_ORDERS", "2")]).await;
    w.register(A).await;
    w.expect_balance(A, Decimal::ZERO).await;
    for i in 0..ORDER_COUNT {
        let lines = [
            (7000 + 3 * i, A, 10),
            (7001 + 3 * i, C, 100),
            (7002 + 3 * i, C, i + 1),
        ];
        w.publish(&confirmed(700 + i, &lines)).await;
    }
    // A cancel of the last order, parked behind its credits.
    w.publish(&canceled(704, 9704, &[(7013, C, 40, 100)])).await;
    w.wait_idle(&ORDERS, "wallet-settlement").await;
    w.wait_idle(&ORDERS, "wallet-reversal").await;
    w.expect_count("select count(*) from pending_settlements", 2 * ORDER_COUNT)
        .await;

    w.register(C).await;
    // 5 × 100 + (1 + 2 + 3 + 4 + 5), less the refund of 40.
    w.expect_balance(C, Decimal::from(475)).await;
    w.wait_idle(&SELLERS, "wallet-onboarding").await;
    assert_eq!(w.count("select count(*) from pending_settlements").await, 0);
    assert_eq!(
        w.count("select count(*) from wallet_transactions where seller_no = 3 and type = 'CREDIT'")
            .await,
        2 * ORDER_COUNT,
        "every parked line credited once"
    );
    // Chunks of two orders: three transactions wrote the five orders' credits.
    assert_eq!(
        w.count(
            "select count(distinct xmin::text) from wallet_transactions
              where seller_no = 3 and type = 'CREDIT'"
        )
        .await,
        3,
        "two orders per transaction"
    );
    w.expect_each_order_settled_once(ORDER_COUNT as usize).await;
    assert_eq!(w.wait_for("wallet.reversed", 1).await.len(), 1);
    w.assert_ledger_matches_balances().await;
    w.stop().await;
}

/// The process stopped after the first chunk's transaction: the wallet exists and the event is
/// recorded as applied, the other orders are still parked. The redelivered event changes
/// nothing itself, and the onboarding still applies what is parked.
#[tokio::test]
async fn a_redelivery_after_the_first_chunk_applies_the_rest() {
    let w =
        Wallets::start_with(&[("FEE_RATE_DEFAULT", "0"), ("ONBOARDING_PARKED_ORDERS", "2")]).await;
    w.register(A).await;
    w.expect_balance(A, Decimal::ZERO).await;
    for i in 0..3 {
        w.publish(&confirmed(
            750 + i,
            &[(7500 + 2 * i, A, 10), (7501 + 2 * i, C, 100)],
        ))
        .await;
    }
    w.wait_idle(&ORDERS, "wallet-settlement").await;
    w.expect_count("select count(*) from pending_settlements", 3)
        .await;

    let registered = Envelope::new(SellerRegistered {
        seller_no: C,
        seller_id: format!("seller-{C}"),
    });
    sqlx::query("insert into wallets (wallet_no, seller_no) values (903, $1)")
        .bind(C)
        .execute(&w.pool)
        .await
        .expect("the first chunk's wallet");
    sqlx::query(
        "insert into processed_events (consumer, event_id) values ('wallet-onboarding', $1)",
    )
    .bind(registered.event_id)
    .execute(&w.pool)
    .await
    .expect("the first chunk's record of the event");
    w.publish(&registered).await;

    w.expect_balance(C, Decimal::from(300)).await;
    w.wait_idle(&SELLERS, "wallet-onboarding").await;
    assert_eq!(w.count("select count(*) from pending_settlements").await, 0);
    assert_eq!(w.wait_for("wallet.settled", 3).await.len(), 3);
    w.assert_ledger_matches_balances().await;
    w.stop().await;
}

/// The seller's rate changes while its sales are parked: each keeps the rate of its sale,
/// whichever chunk applies it. Before stop 21 every parked line paid the rate of its chunk's
/// transaction, here 20 % for the two sales made at 10 %.
#[tokio::test]
async fn a_parked_sale_pays_the_rate_of_when_it_was_parked() {
    let w =
        Wallets::start_with(&[("FEE_RATE_DEFAULT", "0"), ("ONBOARDING_PARKED_ORDERS", "1")]).await;
    w.register(A).await;
    w.expect_balance(A, Decimal::ZERO).await;
    let set_rate = |rate: &'static str| {
        let w = &w;
        async move {
            let path = format!("/admin/sellers/{C}/fee-rate");
            let (status, body) = w.put_admin(&path, &json!({ "feeRate": rate })).await;
            assert_eq!(status, 200, "{body}");
        }
    };
    set_rate("0.1").await;
    for i in 0..2 {
        w.publish(&confirmed(
            770 + i,
            &[(7700 + 2 * i, A, 10), (7701 + 2 * i, C, 1000)],
        ))
        .await;
    }
    w.wait_idle(&ORDERS, "wallet-settlement").await;
    set_rate("0.2").await;
    w.publish(&confirmed(772, &[(7704, A, 10), (7705, C, 1000)]))
        .await;
    w.wait_idle(&ORDERS, "wallet-settlement").await;
    w.expect_count("select count(*) from pending_settlements", 3)
        .await;

    w.register(C).await;
    // 1000 − 100, twice, and 1000 − 200.
    w.expect_balance(C, Decimal::from(2600)).await;
    assert_eq!(
        w.count(
            "select count(*) from ledger_sales where seller_no = 3 and fee_rate = 0.1 and fee = 100"
        )
        .await,
        2,
        "the sales made at 10 %"
    );
    assert_eq!(
        w.count("select count(distinct xmin::text) from ledger_sales where seller_no = 3")
            .await,
        3,
        "one order per chunk"
    );
    w.assert_ledger_matches_balances().await;
    w.stop().await;
}
