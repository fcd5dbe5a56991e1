//! Ledger accounts: the two platform accounts (created by the migration) and four per seller,
//! created together on first use so their ids ascend in a fixed kind order.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use sqlx::PgConnection;

use super::AccountKind;
use crate::ids::SellerNo;

/// The ids of one seller's accounts and of the platform's.
#[derive(Debug, Clone, Copy)]
pub struct Accounts {
    pub clearing: i64,
    pub fees: i64,
    pub pending: i64,
    pub available: i64,
    pub in_transit: i64,
    pub paid_out: i64,
}

/// The seller's accounts, created if missing (one query when they exist, as they do for every
/// seller after its first sale).
pub async fn for_seller(
    conn: &mut PgConnection,
    seller_no: SellerNo,
) -> Result<Accounts, sqlx::Error> {
    let rows = kinds_and_ids(&mut *conn, seller_no).await?;
    if let Ok(accounts) = Accounts::from_rows(&rows) {
        return Ok(accounts);
    }
    // `as _`: the kinds encode as their text (sqlx::Type); the checked type of a `text[]` is
    // `Vec<String>`.
    sqlx::query!(
        "insert into ledger_accounts (kind, seller_no)
         select k, $1 from unnest($2::text[]) with ordinality as t(k, n) order by n
         on conflict (kind, seller_no) do nothing",
        seller_no.0,
        &AccountKind::SELLER[..] as _,
    )
    .execute(&mut *conn)
    .await?;
    let rows = kinds_and_ids(conn, seller_no).await?;
    Accounts::from_rows(&rows)
}

/// Several sellers' accounts, with one query when they all exist; a seller without them yet
/// gets them from [`for_seller`].
pub async fn for_sellers(
    conn: &mut PgConnection,
    sellers: &[SellerNo],
) -> Result<BTreeMap<SellerNo, Accounts>, sqlx::Error> {
    let numbers: Vec<i64> = sellers.iter().map(|s| s.0).collect();
    // `seller_no?`: null for the platform's accounts.
    let rows = sqlx::query!(
        r#"select seller_no as "seller_no?: SellerNo", kind as "kind: AccountKind", id
             from ledger_accounts where seller_no = any($1) or seller_no is null"#,
        &numbers,
    )
    .fetch_all(&mut *conn)
    .await?;
    let platform: Vec<(AccountKind, i64)> = rows
        .iter()
        .filter(|r| r.seller_no.is_none())
        .map(|r| (r.kind, r.id))
        .collect();
    let mut found = BTreeMap::new();
    for &seller_no in sellers {
        let mut own = platform.clone();
        own.extend(
            rows.iter()
                .filter(|r| r.seller_no == Some(seller_no))
                .map(|r| (r.kind, r.id)),
        );
        let accounts = match Accounts::from_rows(&own) {
            Ok(accounts) => accounts,
            Err(_) => for_seller(&mut *conn, seller_no).await?,
        };
        found.insert(seller_no, accounts);
    }
    Ok(found)
}

/// The seller's accounts and the platform's, as (kind, id).
async fn kinds_and_ids(
    conn: &mut PgConnection,
    seller_no: SellerNo,
) -> Result<Vec<(AccountKind, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select kind as "kind: AccountKind", id from ledger_accounts
            where seller_no = $1 or seller_no is null"#,
        seller_no.0,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.kind, r.id)).collect())
}

impl Accounts {
    fn from_rows(rows: &[(AccountKind, i64)]) -> Result<Self, sqlx::Error> {
        let id = |k: AccountKind| {
            rows.iter()
                .find(|(kind, _)| *kind == k)
                .map(|(_, id)| *id)
                .ok_or(sqlx::Error::RowNotFound)
        };
        Ok(Accounts {
            clearing: id(AccountKind::PspClearing)?,
            fees: id(AccountKind::PlatformFees)?,
            pending: id(AccountKind::SellerPending)?,
            available: id(AccountKind::SellerAvailable)?,
            in_transit: id(AccountKind::PayoutsInTransit)?,
            paid_out: id(AccountKind::SellerPaidOut)?,
        })
    }
}

/// Row-locks `ids` in id order (so two writers cannot lock two accounts in opposite orders)
/// and returns their balances in that order.
pub async fn lock(
    conn: &mut PgConnection,
    ids: &[i64],
) -> Result<Vec<(i64, Decimal)>, sqlx::Error> {
    let rows = sqlx::query!(
        "select id, balance from ledger_accounts where id = any($1) order by id for no key update",
        ids,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.balance)).collect())
}

/// A seller's balances by kind (zero for accounts not created yet).
#[derive(Debug, Default, Clone, Copy)]
pub struct SellerBalances {
    pub pending: Decimal,
    pub available: Decimal,
    pub in_transit: Decimal,
    pub paid_out: Decimal,
}

pub async fn seller_balances(
    conn: &mut PgConnection,
    seller_no: SellerNo,
) -> Result<SellerBalances, sqlx::Error> {
    // `!`: a view's columns are described as nullable; the table's are not null.
    let rows = sqlx::query!(
        r#"select kind as "kind!: AccountKind", balance as "balance!"
             from ledger_account_balances where seller_no = $1"#,
        seller_no.0,
    )
    .fetch_all(conn)
    .await?;
    let mut b = SellerBalances::default();
    for row in rows {
        let balance = row.balance;
        match row.kind {
            AccountKind::SellerPending => b.pending = balance,
            AccountKind::SellerAvailable => b.available = balance,
            AccountKind::PayoutsInTransit => b.in_transit = balance,
            AccountKind::SellerPaidOut => b.paid_out = balance,
            AccountKind::PspClearing | AccountKind::PlatformFees => {}
        }
    }
    Ok(b)
}

/// Commission the seller has paid: fees of its sales less the fee given back by refunds.
pub async fn fees_charged(
    conn: &mut PgConnection,
    seller_no: SellerNo,
) -> Result<Decimal, sqlx::Error> {
    let fees = sqlx::query_scalar!(
        "select sum(fee - fee_returned) from ledger_sales where seller_no = $1",
        seller_no.0,
    )
    .fetch_one(conn)
    .await?;
    Ok(fees.unwrap_or_default())
}

/// One line of the trial balance: an account kind's totals.
#[derive(Debug, Clone)]
pub struct KindTotal {
    pub kind: AccountKind,
    pub accounts: i64,
    /// Σ debits and Σ credits (positive) of the kind's postings.
    pub debits: Decimal,
    pub credits: Decimal,
    /// Σ of the kind's maintained balances, in the kind's normal direction.
    pub balance: Decimal,
}

/// Per kind: postings summed from scratch, beside the maintained balances.
pub async fn trial_balance(conn: &mut PgConnection) -> Result<Vec<KindTotal>, sqlx::Error> {
    // `!`: aggregates and a view's columns are described as nullable; a kind listed has
    // accounts, whose balances are not null.
    sqlx::query_as!(
        KindTotal,
        r#"with p as (
             select account_id,
                    coalesce(sum(amount) filter (where amount > 0), 0) as debits,
                    coalesce(-sum(amount) filter (where amount < 0), 0) as credits
               from ledger_postings group by account_id)
         select a.kind as "kind!: AccountKind", count(*) as "accounts!",
                coalesce(sum(p.debits), 0)::numeric as "debits!",
                coalesce(sum(p.credits), 0)::numeric as "credits!",
                sum(a.balance)::numeric as "balance!"
           from ledger_account_balances a left join p on p.account_id = a.id
          group by a.kind"#,
    )
    .fetch_all(conn)
    .await
}
