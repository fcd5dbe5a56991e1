//! The hold and its release job, and the ledger's HTTP surface: entry pages, statements (JSON
//! and CSV), the trial balance, the fee-rate endpoint and their refusals of bad input.

mod support;

use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::{json, Value};
use support::{canceled, confirmed, Wallets};

const A: i64 = 1;

fn d(n: i64) -> Decimal {
    Decimal::from(n)
}

fn dec(v: &Value) -> Decimal {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a decimal: {v}"))
}

/// A short hold: sales land in pending and the service's own job makes them available.
#[tokio::test]
async fn sales_wait_out_the_hold_then_become_available() {
    let w = Wallets::start_with(&[("SETTLEMENT_HOLD", "2s"), ("FEE_RATE_DEFAULT", "0.05")]).await;
    w.register(A).await;
    w.publish(&confirmed(100, &[(11, A, 1000), (12, A, 2000)]))
        .await;
    w.expect_balance(A, d(2850)).await;
    let (_, wallet) = w.wallet(A).await;
    assert_eq!(
        (dec(&wallet["pending"]), dec(&wallet["available"])),
        (d(2850), d(0)),
        "{wallet}"
    );
    let deadline = tokio::time::Instant::now() + support::WAIT;
    loop {
        let (_, wallet) = w.wallet(A).await;
        if dec(&wallet["available"]) == d(2850) {
            assert_eq!(dec(&wallet["pending"]), d(0));
            assert_eq!(dec(&wallet["balance"]), d(2850));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never released: {wallet}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        w.count("select count(*) from ledger_entries where kind = 'RELEASE'")
            .await,
        2
    );
    w.assert_ledger_sound().await;
    w.stop().await;
}

/// Passes racing each other (and the service's own job) release every due sale exactly once.
#[tokio::test]
async fn concurrent_release_passes_release_each_sale_once() {
    let w = Wallets::start_with(&[("SETTLEMENT_HOLD", "1h")]).await;
    for seller in 1..=3 {
        w.register(seller).await;
    }
    let mut expected = Decimal::ZERO;
    for order in 0..20 {
        let lines: Vec<(i64, i64, i64)> = (0..3)
            .map(|i| (1000 + order * 10 + i, 1 + (order + i) % 3, 100 + order))
            .collect();
        expected += lines.iter().map(|l| d(l.2)).sum::<Decimal>();
        w.publish(&confirmed(500 + order, &lines)).await;
    }
    w.wait_idle(&support::ORDERS, "wallet-settlement").await;
    assert_eq!(w.count("select count(*) from ledger_sales").await, 60);
    sqlx::query("update ledger_sales set release_due_at = now() - interval '1 second'")
        .execute(&w.pool)
        .await
        .expect("due");
    let passes = || {
        (0..4).map(|_| {
            let pool = w.pool.clone();
            async move { wallet_service::release::release_due(&pool, 7).await }
        })
    };
    let mut released = 0;
    // Until nothing is due; small batches so the passes interleave.
    while w
        .count("select count(*) from ledger_sales where released_at is null")
        .await
        > 0
    {
        for n in futures_join(passes()).await {
            released += n.expect("pass");
        }
    }
    assert!(released <= 60);
    assert_eq!(
        w.count("select count(*) from ledger_entries where kind = 'RELEASE'")
            .await,
        60
    );
    let available: Decimal = sqlx::query_scalar(
        "select sum(balance) from ledger_accounts where kind = 'SELLER_AVAILABLE'",
    )
    .fetch_one(&w.pool)
    .await
    .expect("available");
    assert_eq!(available, expected);
    w.assert_ledger_sound().await;
    w.stop().await;
}

async fn futures_join<F, T>(futures: impl Iterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("pass task"));
    }
    out
}

#[tokio::test]
async fn entries_statements_and_the_trial_balance() {
    let w = Wallets::start_with(&[("SETTLEMENT_HOLD", "1h"), ("FEE_RATE_DEFAULT", "0.1")]).await;
    w.register(A).await;
    w.publish(&confirmed(100, &[(11, A, 1000)])).await;
    w.expect_balance(A, d(900)).await;
    let middle = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(50)).await;
    w.publish(&confirmed(101, &[(12, A, 2000)])).await;
    w.expect_balance(A, d(2700)).await;
    w.publish(&canceled(101, 9001, &[(12, A, 500, 2000)])).await;
    w.expect_balance(A, d(2250)).await;

    // Pages of 2, newest first, following nextCursor.
    let base = format!("/api/wallets/sellers/{A}");
    let (status, first) = w.get_json(&format!("{base}/entries?limit=2"), false).await;
    assert_eq!(status, 200, "{first}");
    let kinds: Vec<&str> = first["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds, ["REVERSAL", "SALE"]);
    assert_eq!(dec(&first["entries"][0]["amount"]), d(-450));
    let cursor = first["nextCursor"].as_str().expect("a next page");
    let (_, second) = w
        .get_json(&format!("{base}/entries?limit=2&cursor={cursor}"), false)
        .await;
    assert_eq!(
        second["entries"].as_array().map(Vec::len),
        Some(1),
        "{second}"
    );
    assert!(
        second.get("nextCursor").is_none_or(Value::is_null),
        "{second}"
    );

    // A statement from the middle: opening 900, +1800, −450, closing 2250.
    let from = middle.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let (status, st) = w
        .get_json(&format!("{base}/statement?from={from}"), false)
        .await;
    assert_eq!(status, 200, "{st}");
    let sum: Decimal = st["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| dec(&e["amount"]))
        .sum();
    assert_eq!(
        (dec(&st["openingBalance"]), sum, dec(&st["closingBalance"])),
        (d(900), d(1350), d(2250))
    );
    let (_, all) = w.get_json(&format!("{base}/statement"), false).await;
    assert_eq!(
        (dec(&all["openingBalance"]), dec(&all["closingBalance"])),
        (d(0), d(2250))
    );

    // The same as CSV.
    let (status, ctype, csv) = w
        .get_text(&format!("{base}/statement?from={from}"), "text/csv", None)
        .await;
    assert_eq!(status, 200, "{csv}");
    assert!(ctype.starts_with("text/csv"), "{ctype}");
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(
        rows[0],
        [
            "entryNo",
            "kind",
            "createdAt",
            "orderId",
            "paymentOrderNo",
            "cancelNo",
            "amount",
            "balance"
        ]
    );
    assert_eq!((rows[1][1], rows[1][7]), ("OPENING", "900"));
    assert_eq!(
        (rows[2][1], rows[2][6], rows[2][7]),
        ("SALE", "1800", "2700")
    );
    assert_eq!(
        (rows[3][1], rows[3][5], rows[3][6], rows[3][7]),
        ("REVERSAL", "9001", "-450", "2250")
    );
    assert_eq!((rows[4][1], rows[4][7]), ("CLOSING", "2250"));

    // Trial balance: admin only, every kind listed, total 0.
    let (status, _) = w.get_json("/admin/ledger/trial-balance", false).await;
    assert_eq!(status, 401);
    let (status, tb) = w.get_json("/admin/ledger/trial-balance", true).await;
    assert_eq!(status, 200, "{tb}");
    assert_eq!(
        (dec(&tb["total"]), &tb["balanced"]),
        (d(0), &json!(true)),
        "{tb}"
    );
    let kind = |k: &str| {
        tb["kinds"]
            .as_array()
            .and_then(|ks| ks.iter().find(|x| x["kind"] == k))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(dec(&kind("PSP_CLEARING")["balance"]), d(2500));
    assert_eq!(dec(&kind("PLATFORM_FEES")["balance"]), d(250));
    assert_eq!(dec(&kind("SELLER_PENDING")["balance"]), d(2250));
    assert_eq!(tb["kinds"].as_array().map(Vec::len), Some(6));
    w.assert_ledger_sound().await;
    w.stop().await;
}

#[tokio::test]
async fn bad_input_is_a_problem() {
    let w = Wallets::start().await;
    w.register(A).await;
    w.expect_balance(A, Decimal::ZERO).await;
    let base = format!("/api/wallets/sellers/{A}");
    for (path, status) in [
        (format!("{base}/entries?limit=0"), 400),
        (format!("{base}/entries?limit=201"), 400),
        (format!("{base}/entries?cursor=abc"), 400),
        (format!("{base}/statement?from=yesterday"), 400),
        // chrono reads a year Postgres cannot hold: the client's mistake, not a 500
        (format!("{base}/statement?from=-10000-01-01T00:00:00Z"), 400),
        (
            format!("{base}/statement?from=2025-01-02T00:00:00Z&to=2025-01-01T00:00:00Z"),
            400,
        ),
        ("/api/wallets/sellers/999/entries".to_string(), 404),
        ("/api/wallets/sellers/999/statement".to_string(), 404),
    ] {
        let (_, ctype, body) = w.get_text(&path, "application/json", None).await;
        let (got, _) = w.get_json(&path, false).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(
            ctype.starts_with("application/problem+json"),
            "{path}: {ctype}"
        );
    }
    for rate in [json!("1"), json!("-0.1"), json!("0.1234567"), json!("x")] {
        let (status, body) = w
            .put_admin(
                &format!("/admin/sellers/{A}/fee-rate"),
                &json!({"feeRate": rate}),
            )
            .await;
        assert_eq!(status, 400, "{rate}: {body}");
    }
    w.stop().await;
}
