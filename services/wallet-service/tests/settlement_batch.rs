//! Settlements committed in groups (`SETTLEMENT_GROUP_LANES`) and applied as one batch
//! (src/settlement_batch.rs): every order of a plain group credited by the same statements in
//! one transaction, and a group with a seller who has no wallet yet going the careful way,
//! one savepoint per order, with that seller's line parked.

mod support;

use rust_decimal::Decimal;
use support::{confirmed, Wallets};

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

#[tokio::test]
async fn a_plain_group_is_credited_in_one_batch() {
    let w = Wallets::start_with(&GROUPED).await;
    w.register(A).await;
    w.register(B).await;
    w.expect_balance(B, Decimal::ZERO).await;

    for order in [
        confirmed(700, &[(71, A, 100), (72, B, 200)]),
        confirmed(701, &[(73, A, 50)]),
        confirmed(702, &[(74, B, 30), (75, A, 20)]),
        confirmed(703, &[(76, B, 10)]),
    ] {
        w.publish(&order).await;
    }
    w.expect_balance(A, Decimal::from(170)).await;
    w.expect_balance(B, Decimal::from(240)).await;
    assert_eq!(w.wait_for("wallet.settled", 4).await.len(), 4);
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
    // The batch declined and wrote nothing; each order then had its own savepoint.
    assert_eq!(
        w.count("select count(distinct xmin::text) from wallet_transactions")
            .await,
        2
    );
    assert_eq!(w.wait_for("wallet.settled", 1).await.len(), 1);

    w.register(C).await;
    w.expect_balance(C, Decimal::from(300)).await;
    assert_eq!(w.wait_for("wallet.settled", 2).await.len(), 2);
    w.assert_ledger_matches_balances().await;
    w.assert_ledger_sound().await;
    w.stop().await;
}
