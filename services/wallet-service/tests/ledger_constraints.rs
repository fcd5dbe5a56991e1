//! The wallet database refuses what the double-entry ledger forbids, whatever a handler does:
//! an entry whose postings do not sum to zero, pending money below zero, available money below
//! zero outside a reversal, an edit of a posted entry, a posting to no account, an account
//! deleted (the constraints and triggers of
//! migrations/wallet-service).

mod support;

use rust_decimal::Decimal;
use support::{confirmed, Wallets};

const A: i64 = 1;

fn d(n: i64) -> Decimal {
    Decimal::from(n)
}

#[tokio::test]
async fn the_database_refuses_what_the_ledger_forbids() {
    let w = Wallets::start_with(&[("SETTLEMENT_HOLD", "1h")]).await;
    w.register(A).await;
    w.publish(&confirmed(400, &[(41, A, 1000)])).await;
    w.expect_balance(A, d(1000)).await;

    // An entry whose postings do not sum to 0: accepted statement by statement, refused at
    // commit by the deferred constraint trigger.
    let mut tx = w.pool.begin().await.expect("begin");
    let id: i64 = sqlx::query_scalar(
        "insert into ledger_entries (idempotency_key, kind) values ('by-hand', 'SALE') returning id",
    )
    .fetch_one(&mut *tx)
    .await
    .expect("entry");
    sqlx::query(
        "insert into ledger_postings (entry_id, account_id, amount)
         select $1, id, 100 from ledger_accounts where kind = 'PSP_CLEARING'",
    )
    .bind(id)
    .execute(&mut *tx)
    .await
    .expect("a lone posting is accepted until commit");
    let err = tx
        .commit()
        .await
        .expect_err("an unbalanced entry must not commit");
    assert!(err.to_string().contains("unbalanced"), "{err}");
    assert_eq!(
        w.count("select count(*) from ledger_entries where idempotency_key = 'by-hand'")
            .await,
        0
    );

    // Balanced, but taking SELLER_PENDING below zero: refused at once.
    let over_pending = hand_entry(&w, "RELEASE", "SELLER_PENDING", 1001).await;
    assert!(
        over_pending.contains("ledger_accounts_pending_floor"),
        "{over_pending}"
    );
    // SELLER_AVAILABLE may only go negative through a REVERSAL.
    let over_available = hand_entry(&w, "PAYOUT", "SELLER_AVAILABLE", 1).await;
    assert!(
        over_available.contains("SELLER_AVAILABLE"),
        "{over_available}"
    );
    // Posted entries are never edited.
    let edit = sqlx::query("update ledger_postings set amount = amount * 2")
        .execute(&w.pool)
        .await
        .expect_err("append-only");
    assert!(edit.to_string().contains("append-only"), "{edit}");
    // No foreign key guards the accounts any more (it share-locked the platform accounts in
    // every settlement; migration 20261227000001): the posting trigger refuses an unknown
    // account under the key's old name, and an account can be neither deleted nor renumbered.
    let mut tx = w.pool.begin().await.expect("begin");
    let id: i64 = sqlx::query_scalar(
        "insert into ledger_entries (idempotency_key, kind) values ('nowhere', 'SALE') returning id",
    )
    .fetch_one(&mut *tx)
    .await
    .expect("entry");
    let unknown = sqlx::query(
        "insert into ledger_postings (entry_id, account_id, amount) values ($1, -1, 100), ($1, -2, -100)",
    )
    .bind(id)
    .execute(&mut *tx)
    .await
    .expect_err("no such account");
    assert!(unknown.to_string().contains("unknown account"), "{unknown}");
    drop(tx);
    for change in [
        "delete from ledger_accounts where kind = 'PLATFORM_FEES'",
        "update ledger_accounts set id = default where kind = 'PSP_CLEARING'",
        "truncate ledger_accounts cascade",
    ] {
        let err = sqlx::query(change)
            .execute(&w.pool)
            .await
            .expect_err("accounts are permanent");
        assert!(err.to_string().contains("never deleted"), "{change}: {err}");
    }
    w.assert_ledger_sound().await;
    w.stop().await;
}

/// Debits `amount` from the seller's `account` against PSP_CLEARING in an entry of `kind`;
/// returns the database's refusal.
async fn hand_entry(w: &Wallets, kind: &str, account: &str, amount: i64) -> String {
    let mut tx = w.pool.begin().await.expect("begin");
    let id: i64 = sqlx::query_scalar(
        "insert into ledger_entries (idempotency_key, kind, seller_no) values ('hand:' || $1, $1, 1)
         returning id",
    )
    .bind(kind)
    .fetch_one(&mut *tx)
    .await
    .expect("entry");
    let res = sqlx::query(
        "insert into ledger_postings (entry_id, account_id, amount)
         select $1, id, case when kind = 'PSP_CLEARING' then -$3 else $3 end from ledger_accounts
          where (kind = $2 and seller_no = 1) or kind = 'PSP_CLEARING' order by id",
    )
    .bind(id)
    .bind(account)
    .bind(Decimal::from(amount))
    .execute(&mut *tx)
    .await;
    match res {
        Ok(_) => tx
            .commit()
            .await
            .map(|_| "committed".to_string())
            .unwrap_or_else(|e| e.to_string()),
        Err(e) => e.to_string(),
    }
}
