//! The double-entry ledger against real Postgres and NATS: the posting rules of sales and
//! reversals with commission, the rounding rule, refunds in parts returning exactly the sale,
//! net taken from pending before available, and the database refusing what the ledger forbids.
//! After every scenario: entries sum to 0, balances = postings, wallet balance = pending +
//! available.

mod support;

use rust_decimal::Decimal;
use serde_json::json;
use support::{canceled, confirmed, Wallets, ORDERS};

const A: i64 = 1;
const B: i64 = 2;

fn d(n: i64) -> Decimal {
    Decimal::from(n)
}

/// Postings of the entry with `key`: (account kind, seller, amount), in account order.
async fn postings(w: &Wallets, key: &str) -> Vec<(String, Option<i64>, Decimal)> {
    sqlx::query_as(
        "select a.kind, a.seller_no, p.amount from ledger_postings p
           join ledger_accounts a on a.id = p.account_id
           join ledger_entries e on e.id = p.entry_id
          where e.idempotency_key = $1 order by a.id",
    )
    .bind(key)
    .fetch_all(&w.pool)
    .await
    .expect("postings")
}

fn p(kind: &str, seller: Option<i64>, amount: i64) -> (String, Option<i64>, Decimal) {
    (kind.to_string(), seller, d(amount))
}

#[tokio::test]
async fn a_sale_posts_gross_fee_and_net_and_a_refund_gives_them_back_in_proportion() {
    let w = Wallets::start_with(&[("FEE_RATE_DEFAULT", "0.05"), ("SETTLEMENT_HOLD", "1h")]).await;
    w.register(A).await;
    w.register(B).await;
    // B has a rate of its own.
    let (status, body) = w
        .put_admin(
            &format!("/admin/sellers/{B}/fee-rate"),
            &json!({"feeRate": "0.1"}),
        )
        .await;
    assert_eq!((status, &body["feeRate"]), (200, &json!("0.1")), "{body}");
    w.expect_balance(B, Decimal::ZERO).await;

    // Fees per line, rounded down: 1999 → 99, 19 → 0, 20 → 1 (A at 5 %); 555 → 55 (B at 10 %).
    w.publish(&confirmed(
        100,
        &[(11, A, 1999), (12, A, 19), (13, A, 20), (14, B, 555)],
    ))
    .await;
    w.expect_balance(A, d(1999 - 99 + 19 + 20 - 1)).await;
    w.expect_balance(B, d(500)).await;
    assert_eq!(
        postings(&w, "sale:11").await,
        [
            p("PSP_CLEARING", None, 1999),
            p("PLATFORM_FEES", None, -99),
            p("SELLER_PENDING", Some(A), -1900)
        ]
    );
    assert_eq!(
        postings(&w, "sale:12").await,
        [
            p("PSP_CLEARING", None, 19),
            p("SELLER_PENDING", Some(A), -19)
        ],
        "a zero fee posts nothing to PLATFORM_FEES"
    );
    let rate: Decimal =
        sqlx::query_scalar("select fee_rate from ledger_entries where idempotency_key = 'sale:14'")
            .fetch_one(&w.pool)
            .await
            .expect("rate");
    assert_eq!(
        rate,
        Decimal::new(1, 1),
        "the rate is stored with the entry"
    );
    // Σ per-line fees = the platform's fees; nothing drifts.
    assert_eq!(w.account(None, "PLATFORM_FEES").await, d(99 + 1 + 55));
    assert_eq!(
        w.account(None, "PSP_CLEARING").await,
        d(1999 + 19 + 20 + 555)
    );
    assert_eq!(w.account(Some(A), "SELLER_PENDING").await, d(1938));
    assert_eq!(w.account(Some(A), "SELLER_AVAILABLE").await, d(0));
    // wallet.settled carries what each seller is credited: net.
    w.wait_idle(&ORDERS, "wallet-settlement").await;
    let settled = w.wait_for("wallet.settled", 1).await;
    assert_eq!(
        settled[0]["payload"]["credits"],
        json!([{"sellerNo": "1", "amount": "1938.00"}, {"sellerNo": "2", "amount": "500.00"}])
    );
    let (_, wallet) = w.wallet(A).await;
    assert_eq!(
        (
            &wallet["balance"],
            &wallet["pending"],
            &wallet["available"],
            &wallet["feesCharged"]
        ),
        (&json!("1938"), &json!("1938"), &json!("0"), &json!("100")),
        "{wallet}"
    );

    // Refund 1000 of line 11 (fee 99): fee back floor(99 × 1000 / 1999) = 49, net back 951.
    w.publish(&canceled(100, 9001, &[(11, A, 1000, 1999)]))
        .await;
    w.expect_balance(A, d(1938 - 951)).await;
    assert_eq!(
        postings(&w, "reverse:9001:11").await,
        [
            p("PSP_CLEARING", None, -1000),
            p("PLATFORM_FEES", None, 49),
            p("SELLER_PENDING", Some(A), 951)
        ]
    );
    let reversed = w.wait_for("wallet.reversed", 1).await;
    assert_eq!(
        reversed[0]["payload"]["reversals"],
        json!([{"sellerNo": "1", "amount": "951.00"}])
    );
    w.assert_ledger_matches_balances().await;
    w.assert_ledger_sound().await;

    // Every rate change is kept, with the rate it replaced and who made it.
    let (status, body) = w
        .put_admin(
            &format!("/admin/sellers/{B}/fee-rate"),
            &json!({"feeRate": "0.12"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let changes: Vec<(Decimal, Option<Decimal>, String)> = sqlx::query_as(
        "select fee_rate, previous_rate, changed_by from seller_fee_rate_changes
          where seller_no = $1 order by id",
    )
    .bind(B)
    .fetch_all(&w.pool)
    .await
    .expect("rate changes");
    let rate = |r: &str| r.parse::<Decimal>().expect("rate");
    assert_eq!(
        changes,
        [
            (rate("0.1"), None, "admin-token".to_string()),
            (rate("0.12"), Some(rate("0.1")), "admin-token".to_string())
        ]
    );
    w.stop().await;
}

/// A line with a fraction of a won (accepted and credited as such: docs/ledger.md) refunded
/// 1000 of 1000.50 at 5 %: the proportional fee share (49) would give back 951 of a net of
/// 950.50, which `ledger_sales` refuses, so until stop 31 the reversal failed and the cancel
/// was dead-lettered with the customer already refunded. Now 50 of fee and 950 of net come
/// back, and the last 0.50 returns exactly what is left.
#[tokio::test]
async fn a_line_with_a_fraction_of_a_won_is_reversed_within_what_it_posted() {
    let w = Wallets::start_with(&[("FEE_RATE_DEFAULT", "0.05")]).await;
    w.register(A).await;
    let won = |s: &str| s.parse::<Decimal>().expect("amount");
    let mut sale = confirmed(250, &[(25, A, 1000)]);
    sale.payload.lines[0].amount = won("1000.50");
    sale.payload.total_amount = won("1000.50");
    w.publish(&sale).await;
    w.expect_balance(A, won("950.50")).await;
    w.publish(&canceled(250, 9250, &[(25, A, 1000, 1000)]))
        .await;
    w.wait_for("wallet.reversed", 1).await;
    assert_eq!(
        postings(&w, "reverse:9250:25").await,
        [
            p("PSP_CLEARING", None, -1000),
            p("PLATFORM_FEES", None, 50),
            p("SELLER_PENDING", Some(A), 950)
        ]
    );
    let mut rest = canceled(250, 9251, &[(25, A, 0, 1000)]);
    rest.payload.lines[0].amount = won("0.50");
    rest.payload.lines[0].line_amount = won("1000.50");
    rest.payload.cancel_amount = won("0.50");
    rest.payload.refunded_total = won("1000.50");
    rest.payload.total_amount = won("1000.50");
    w.publish(&rest).await;
    w.wait_for("wallet.reversed", 2).await;
    w.expect_balance(A, Decimal::ZERO).await;
    assert_eq!(w.account(None, "PLATFORM_FEES").await, Decimal::ZERO);
    assert_eq!(w.account(None, "PSP_CLEARING").await, Decimal::ZERO);
    w.assert_ledger_matches_balances().await;
    w.assert_ledger_sound().await;
    w.stop().await;
}

/// Nine refunds of 111 and one of 1 on a line of 1000 at 5 %: every refund's fee share is
/// the floored cumulative share, no net share is negative, and the whole line comes back
/// exactly: fee 50, net 950, PSP_CLEARING and PLATFORM_FEES back to 0.
#[tokio::test]
async fn a_line_refunded_in_parts_returns_exactly_what_its_sale_posted() {
    let w = Wallets::start_with(&[("FEE_RATE_DEFAULT", "0.05")]).await;
    w.register(A).await;
    w.publish(&confirmed(200, &[(21, A, 1000), (22, A, 300)]))
        .await;
    w.expect_balance(A, d(950 + 285)).await;
    let mut refunds = vec![111; 9];
    refunds.push(1);
    let mut left = 950;
    for (i, x) in refunds.iter().enumerate() {
        let cancel_no = 9100 + i as i64;
        w.publish(&canceled(200, cancel_no, &[(21, A, *x, 1000)]))
            .await;
        w.wait_for("wallet.reversed", i + 1).await;
        let key = format!("reverse:{cancel_no}:21");
        let fee_back: Decimal = postings(&w, &key)
            .await
            .iter()
            .filter(|(k, _, _)| k == "PLATFORM_FEES")
            .map(|(_, _, a)| *a)
            .sum();
        // Cumulative floor: after 111·(i+1) refunded, floor(50 · 111(i+1) / 1000) is back.
        let refunded: i64 = refunds[..=i].iter().sum();
        let before: i64 = refunds[..i].iter().sum();
        let expected = if refunded == 1000 {
            50 - 50 * before / 1000
        } else {
            50 * refunded / 1000 - 50 * before / 1000
        };
        assert_eq!(fee_back, d(expected), "refund {i}");
        left -= x - expected;
    }
    assert_eq!(left, 0);
    w.expect_balance(A, d(285)).await;
    assert_eq!(
        w.account(None, "PLATFORM_FEES").await,
        d(15),
        "only line 22's fee is left"
    );
    assert_eq!(w.account(None, "PSP_CLEARING").await, d(300));
    let (refunded, fee_returned, net_returned): (Decimal, Decimal, Decimal) = sqlx::query_as(
        "select refunded, fee_returned, net_returned from ledger_sales where payment_order_no = 21",
    )
    .fetch_one(&w.pool)
    .await
    .expect("sale");
    assert_eq!(
        (refunded, fee_returned, net_returned),
        (d(1000), d(50), d(950))
    );
    w.assert_ledger_matches_balances().await;
    w.assert_ledger_sound().await;
    w.stop().await;
}

/// A refund's net comes out of SELLER_PENDING first, then SELLER_AVAILABLE (which may go
/// negative); a sale released after its pending money was taken moves only what is left.
#[tokio::test]
async fn a_refund_takes_net_from_pending_before_available() {
    let w = Wallets::start_with(&[("SETTLEMENT_HOLD", "1h")]).await;
    w.register(A).await;
    w.publish(&confirmed(300, &[(31, A, 1000)])).await;
    w.expect_balance(A, d(1000)).await;
    release_now(&w, 31).await;
    w.publish(&confirmed(301, &[(32, A, 500)])).await;
    w.expect_balance(A, d(1500)).await;
    assert_eq!(w.account(Some(A), "SELLER_PENDING").await, d(500));
    assert_eq!(w.account(Some(A), "SELLER_AVAILABLE").await, d(1000));

    // Line 31 (released) refunded in full: 500 from pending, 500 from available.
    w.publish(&canceled(300, 9301, &[(31, A, 1000, 1000)]))
        .await;
    w.expect_balance(A, d(500)).await;
    assert_eq!(
        postings(&w, "reverse:9301:31").await,
        [
            p("PSP_CLEARING", None, -1000),
            p("SELLER_PENDING", Some(A), 500),
            p("SELLER_AVAILABLE", Some(A), 500)
        ]
    );
    // Line 32's release finds nothing pending: it is marked released and moves 0.
    release_now(&w, 32).await;
    assert_eq!(w.account(Some(A), "SELLER_PENDING").await, d(0));
    assert_eq!(w.account(Some(A), "SELLER_AVAILABLE").await, d(500));
    // Line 32 refunded too: pending is empty, so available goes to 0.
    w.publish(&canceled(301, 9302, &[(32, A, 500, 500)])).await;
    w.expect_balance(A, d(0)).await;
    w.assert_ledger_sound().await;
    w.stop().await;
}

/// Makes line `line` due and runs a release pass.
async fn release_now(w: &Wallets, line: i64) {
    sqlx::query("update ledger_sales set release_due_at = now() where payment_order_no = $1")
        .bind(line)
        .execute(&w.pool)
        .await
        .expect("due");
    wallet_service::release::release_due(&w.pool, 100)
        .await
        .expect("release");
    let released = w
        .count(&format!("select count(*) from ledger_sales where payment_order_no = {line} and released_at is not null"))
        .await;
    assert_eq!(released, 1, "line {line} released");
}

#[tokio::test]
async fn sale_postings_wait_as_deltas_and_the_rollup_folds_them_exactly_once() {
    let w = Wallets::start_with(&[("FEE_RATE_DEFAULT", "0.1"), ("SETTLEMENT_HOLD", "1h")]).await;
    w.register(A).await;
    w.register(B).await;
    for order in 0..20 {
        w.publish(&confirmed(
            300 + order,
            &[(3000 + 2 * order, A, 1000), (3001 + 2 * order, B, 555)],
        ))
        .await;
    }
    w.expect_balance(A, d(20 * 900)).await;
    w.expect_balance(B, d(20 * 500)).await;
    // Two rollups at once (as with two instances): each delta is folded by one of them.
    let (a, b) = tokio::join!(
        wallet_service::rollup::fold_deltas(&w.pool, 7),
        wallet_service::rollup::fold_deltas(&w.pool, 10_000)
    );
    a.expect("fold");
    b.expect("fold");
    while wallet_service::rollup::fold_deltas(&w.pool, 10_000)
        .await
        .expect("fold")
        > 0
    {}
    assert_eq!(
        w.count("select count(*) from ledger_balance_deltas").await,
        0
    );
    // The stored rows alone now hold the whole sums (the job of the running service may have
    // folded some of them first: either way each delta counted once).
    let (clearing, fees): (Decimal, Decimal) = sqlx::query_as(
        "select sum(balance) filter (where kind = 'PSP_CLEARING'),
                sum(balance) filter (where kind = 'PLATFORM_FEES')
           from ledger_accounts where seller_no is null",
    )
    .fetch_one(&w.pool)
    .await
    .expect("platform rows");
    assert_eq!((clearing, fees), (d(20 * 1555), d(20 * (100 + 55))));
    // The sellers' sales are folded into their pending accounts and their wallet rows alike.
    let sellers: Vec<(i64, Decimal, Decimal)> = sqlx::query_as(
        "select w.seller_no, w.balance, a.balance from wallets w
           join ledger_accounts a on a.seller_no = w.seller_no and a.kind = 'SELLER_PENDING'
          order by w.seller_no",
    )
    .fetch_all(&w.pool)
    .await
    .expect("seller rows");
    assert_eq!(
        sellers,
        [(A, d(20 * 900), d(20 * 900)), (B, d(20 * 500), d(20 * 500))]
    );
    w.assert_ledger_sound().await;
}
