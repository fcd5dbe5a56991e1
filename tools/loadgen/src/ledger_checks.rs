//! wallet-service's double-entry ledger (docs/ledger.md) after a run, read from its database
//! and its trial balance, and held against order-service's lines (with the commission
//! computed here from each sale's rate) and the sandbox's payouts:
//!
//! - every entry's postings sum to 0; Σ of all postings is 0 (and the trial balance API agrees);
//! - every account's stored balance equals its postings (`PSP_CLEARING` Σ, the others −Σ), and
//!   `wallets.balance` = pending + available;
//! - every sale's fee is floor(gross × rate) and its refunds gave back floor(fee × refunded /
//!   gross) of it;
//! - per seller, pending + available + in transit + paid out = Σ net credits − Σ net reversals;
//!   `PLATFORM_FEES` = Σ fees − Σ fee reversals;
//! - `PSP_CLEARING` − Σ `SELLER_PAID_OUT` = Σ charged − Σ refunded − Σ paid out at the PSP;
//! - every payout closed, paid at most once, and the PSP's record of it equals ours.
//!
//! [`Commission`], [`payout_debits`] and [`fee_back_per_cancel`] let the older checks that
//! compare wallet credits with order-service's gross amounts hold with a commission.

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;
use sqlx::PgPool;

use crate::{
    client::{Client, Who},
    invariants::Checks,
    payouts::{dec, PayoutLog},
    stack::Stack,
};

/// Each sold line's commission rate, as its sale was posted.
pub struct Commission {
    rates: HashMap<i64, Decimal>,
}

impl Commission {
    pub async fn load(wallet: &PgPool) -> anyhow::Result<Self> {
        let rates = sqlx::query_as("select payment_order_no, fee_rate from ledger_sales")
            .fetch_all(wallet)
            .await?
            .into_iter()
            .collect();
        Ok(Self { rates })
    }

    /// The line's fee: floor(amount × rate) (0 for a line never posted).
    pub fn fee(&self, line: i64, amount: Decimal) -> Decimal {
        let rate = self.rates.get(&line).copied().unwrap_or_default();
        (amount * rate).floor()
    }

    /// The fee given back once `refunded` of the line's `amount` is refunded, over all its
    /// refunds: floor(fee × refunded / amount).
    pub fn fee_back(&self, line: i64, amount: Decimal, refunded: Decimal) -> Decimal {
        if amount.is_zero() {
            return Decimal::ZERO;
        }
        (self.fee(line, amount) * refunded / amount).floor()
    }

    /// What the seller is credited for the line and what its refunds take back, both net.
    pub fn net(&self, line: i64, amount: Decimal, refunded: Decimal) -> (Decimal, Decimal) {
        (
            amount - self.fee(line, amount),
            refunded - self.fee_back(line, amount, refunded),
        )
    }
}

/// Per seller, Σ payout debits − Σ payout returns in `wallet_transactions`.
pub async fn payout_debits(wallet: &PgPool) -> anyhow::Result<HashMap<i64, Decimal>> {
    Ok(sqlx::query_as(
        "select seller_no, sum(case type when 'DEBIT' then amount else -amount end)
           from wallet_transactions where type in ('DEBIT', 'PAYOUT_RETURN') group by 1",
    )
    .fetch_all(wallet)
    .await?
    .into_iter()
    .collect())
}

/// Per (cancel, seller), the commission the cancel's `REVERSAL` entries gave back
/// (`PLATFORM_FEES` debits): added to the wallet's net reversal, it is the gross refund.
pub async fn fee_back_per_cancel(wallet: &PgPool) -> anyhow::Result<HashMap<(i64, i64), Decimal>> {
    Ok(sqlx::query_as(
        "select e.cancel_no, e.seller_no, sum(p.amount) from ledger_entries e
           join ledger_postings p on p.entry_id = e.id
           join ledger_accounts a on a.id = p.account_id
          where e.kind = 'REVERSAL' and a.kind = 'PLATFORM_FEES' group by 1, 2",
    )
    .fetch_all(wallet)
    .await?
    .into_iter()
    .map(|(c, s, a): (i64, i64, Decimal)| ((c, s), a))
    .collect())
}

pub(crate) fn listed(off: &[String]) -> String {
    let mut out = off.iter().take(8).cloned().collect::<Vec<_>>().join("; ");
    if off.len() > 8 {
        out.push_str(&format!("; … {} in all", off.len()));
    }
    out
}

/// One sold line as order-service holds it.
struct Line {
    no: i64,
    seller: i64,
    amount: Decimal,
    refunded: Decimal,
}

pub async fn check(
    stack: &mut Stack,
    client: &Client,
    log: &PayoutLog,
    checks: &mut Checks,
) -> anyhow::Result<()> {
    let order = stack.db("order-service").await?;
    let wallet = stack.db("wallet-service").await?;
    postings(&wallet, client, checks).await?;

    let lines: Vec<Line> = sqlx::query_as(
        "select payment_order_no, seller_no, amount, refunded_amount from payment_orders
          where status in ('SUCCESS', 'PARTIAL_CANCELED', 'CANCELED')",
    )
    .fetch_all(&order)
    .await?
    .into_iter()
    .map(|(no, seller, amount, refunded)| Line {
        no,
        seller,
        amount,
        refunded,
    })
    .collect();
    let commission = Commission::load(&wallet).await?;
    sales(&wallet, &lines, &commission, checks).await?;
    accounts(&wallet, &lines, &commission, checks).await?;
    crate::ledger_psp_checks::psp_money(&order, &wallet, client, log, checks).await
}

/// Σ postings per entry and overall, the trial balance API, balances against postings.
async fn postings(wallet: &PgPool, client: &Client, checks: &mut Checks) -> anyhow::Result<()> {
    let (entries, rows): (i64, i64) = sqlx::query_as(
        "select (select count(*) from ledger_entries), (select count(*) from ledger_postings)",
    )
    .fetch_one(wallet)
    .await?;
    let unbalanced: Vec<(i64, String, Decimal)> = sqlx::query_as(
        "select e.id, e.kind, coalesce(sum(p.amount), 0) from ledger_entries e
           left join ledger_postings p on p.entry_id = e.id
          group by e.id having coalesce(sum(p.amount), 0) <> 0 order by 1",
    )
    .fetch_all(wallet)
    .await?;
    let by_kind: Vec<(String, i64)> =
        sqlx::query_as("select kind, count(*) from ledger_entries group by 1 order by 1")
            .fetch_all(wallet)
            .await?;
    checks.add(
        "every ledger entry's postings sum to 0",
        unbalanced.is_empty(),
        if unbalanced.is_empty() {
            format!(
                "{entries} entries, {rows} postings ({})",
                by_kind
                    .iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            listed(
                &unbalanced
                    .iter()
                    .map(|(id, kind, sum)| format!("entry {id} {kind}: Σ {sum}"))
                    .collect::<Vec<_>>(),
            )
        },
    );

    let total: Decimal = sqlx::query_scalar("select coalesce(sum(amount), 0) from ledger_postings")
        .fetch_one(wallet)
        .await?;
    let tb = client
        .get_as(Who::Admin, "wallet-service", "/admin/ledger/trial-balance")
        .await?;
    let api_total = dec(&tb.body["total"]);
    let api_ok =
        tb.status == 200 && tb.body["balanced"] == true && api_total == Some(Decimal::ZERO);
    let kinds: Vec<String> = tb.body["kinds"]
        .as_array()
        .map(|k| {
            k.iter()
                .map(|k| format!("{} {}", k["kind"].as_str().unwrap_or("?"), k["balance"]))
                .collect()
        })
        .unwrap_or_default();
    checks.add(
        "trial balance: Σ all postings = 0",
        total.is_zero() && api_ok,
        format!(
            "database Σ {total}; GET /admin/ledger/trial-balance {}: balanced {}, total {} ({})",
            tb.status,
            tb.body["balanced"],
            tb.body["total"],
            kinds.join(", ").replace('"', "")
        ),
    );

    let accounts: Vec<(i64, String, Option<i64>, Decimal, Decimal)> = sqlx::query_as(
        "select a.id, a.kind, a.seller_no, a.balance, coalesce(sum(p.amount), 0)
           from ledger_account_balances a left join ledger_postings p on p.account_id = a.id
          group by a.id, a.kind, a.seller_no, a.balance order by a.id",
    )
    .fetch_all(wallet)
    .await?;
    let off: Vec<String> = accounts
        .iter()
        .filter(|(_, kind, _, balance, sum)| {
            let expected = if kind == "PSP_CLEARING" { *sum } else { -*sum };
            *balance != expected
        })
        .map(|(id, kind, seller, balance, sum)| {
            format!("account {id} {kind} seller {seller:?}: balance {balance}, Σ postings {sum}")
        })
        .collect();
    let wallets_off: Vec<String> = sqlx::query_as(
        "select w.seller_no, w.balance, coalesce(sum(a.balance), 0) from wallet_balances w
           left join ledger_account_balances a on a.seller_no = w.seller_no
                and a.kind in ('SELLER_PENDING', 'SELLER_AVAILABLE')
          group by w.seller_no, w.balance having w.balance <> coalesce(sum(a.balance), 0)",
    )
    .fetch_all(wallet)
    .await?
    .into_iter()
    .map(|(s, w, l): (i64, Decimal, Decimal)| {
        format!("seller {s}: wallet balance {w}, pending + available {l}")
    })
    .collect();
    let all: Vec<String> = off.iter().chain(&wallets_off).cloned().collect();
    checks.add(
        "every account's balance = its postings",
        all.is_empty(),
        if all.is_empty() {
            format!(
                "{} accounts (PSP_CLEARING Σ, others −Σ); wallets.balance = pending + available",
                accounts.len()
            )
        } else {
            listed(&all)
        },
    );
    Ok(())
}

/// Each sale row against its line: gross, fee = floor(gross × rate), refunds and what they
/// gave back of fee and net.
async fn sales(
    wallet: &PgPool,
    lines: &[Line],
    commission: &Commission,
    checks: &mut Checks,
) -> anyhow::Result<()> {
    type Sale = (Decimal, Decimal, Decimal, Decimal, Decimal, Decimal);
    let sales: HashMap<i64, Sale> = sqlx::query_as(
        "select payment_order_no, gross, fee, fee_rate, refunded, fee_returned, net_returned
           from ledger_sales",
    )
    .fetch_all(wallet)
    .await?
    .into_iter()
    .map(
        |(no, g, f, r, rf, fr, nr): (i64, Decimal, Decimal, Decimal, Decimal, Decimal, Decimal)| {
            (no, (g, f, r, rf, fr, nr))
        },
    )
    .collect();
    let mut off = Vec::new();
    let (mut gross, mut fees, mut fees_back) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    let mut rates: BTreeMap<String, usize> = BTreeMap::new();
    for l in lines {
        let Some(&(g, f, rate, refunded, fee_back, net_back)) = sales.get(&l.no) else {
            off.push(format!("line {}: no sale", l.no));
            continue;
        };
        *rates.entry(rate.normalize().to_string()).or_default() += 1;
        let want_fee = commission.fee(l.no, l.amount);
        let want_back = commission.fee_back(l.no, l.amount, l.refunded);
        gross += g;
        fees += f;
        fees_back += fee_back;
        if g != l.amount
            || f != want_fee
            || refunded != l.refunded
            || fee_back != want_back
            || net_back != l.refunded - want_back
        {
            off.push(format!(
                "line {}: amount {} refunded {}, sale gross {g} fee {f} (rate {rate}, want {want_fee}) refunded {refunded} fee back {fee_back} (want {want_back}) net back {net_back}",
                l.no, l.amount, l.refunded
            ));
        }
    }
    let sold: std::collections::HashSet<i64> = lines.iter().map(|l| l.no).collect();
    let stray = sales.keys().filter(|no| !sold.contains(no)).count();
    checks.add(
        "every sale's fee = floor(gross × rate)",
        off.is_empty() && stray == 0,
        if off.is_empty() {
            format!(
                "{} sales, gross {gross}, fees {fees}, fees given back {fees_back}; rates {rates:?}; refunds gave back floor(fee × refunded / gross)",
                sales.len()
            )
        } else {
            format!("{}; sales for unpaid lines {stray}", listed(&off))
        },
    );
    Ok(())
}

/// Per seller and for the platform, the ledger's balances against order-service's lines.
async fn accounts(
    wallet: &PgPool,
    lines: &[Line],
    commission: &Commission,
    checks: &mut Checks,
) -> anyhow::Result<()> {
    let balances: Vec<(Option<i64>, String, Decimal)> =
        sqlx::query_as("select seller_no, kind, balance from ledger_account_balances")
            .fetch_all(wallet)
            .await?;
    let mut held: BTreeMap<i64, Decimal> = BTreeMap::new();
    let mut platform: HashMap<String, Decimal> = HashMap::new();
    for (seller, kind, balance) in &balances {
        match seller {
            Some(s) => *held.entry(*s).or_default() += *balance,
            None => *platform.entry(kind.clone()).or_default() += *balance,
        }
    }
    let mut expected: BTreeMap<i64, Decimal> = BTreeMap::new();
    let (mut fees, mut fees_back) = (Decimal::ZERO, Decimal::ZERO);
    for l in lines {
        let (net, back) = commission.net(l.no, l.amount, l.refunded);
        *expected.entry(l.seller).or_default() += net - back;
        fees += commission.fee(l.no, l.amount);
        fees_back += commission.fee_back(l.no, l.amount, l.refunded);
    }
    let sellers: std::collections::BTreeSet<i64> =
        held.keys().chain(expected.keys()).copied().collect();
    let off: Vec<String> = sellers
        .iter()
        .filter_map(|s| {
            let h = held.get(s).copied().unwrap_or_default();
            let e = expected.get(s).copied().unwrap_or_default();
            (h != e).then(|| {
                format!("seller {s}: pending + available + in transit + paid out {h}, Σ net credits − Σ net reversals {e}")
            })
        })
        .collect();
    let held_total: Decimal = held.values().sum();
    checks.add(
        "seller accounts = Σ net credits − reversals",
        off.is_empty(),
        if off.is_empty() {
            let by_kind = |k: &str| -> Decimal {
                balances
                    .iter()
                    .filter(|(s, kind, _)| s.is_some() && kind == k)
                    .map(|b| b.2)
                    .sum()
            };
            format!(
                "{} sellers hold {held_total}: pending {}, available {}, in transit {}, paid out {}",
                held.len(),
                by_kind("SELLER_PENDING"),
                by_kind("SELLER_AVAILABLE"),
                by_kind("PAYOUTS_IN_TRANSIT"),
                by_kind("SELLER_PAID_OUT")
            )
        } else {
            listed(&off)
        },
    );
    let platform_fees = platform.get("PLATFORM_FEES").copied().unwrap_or_default();
    checks.add(
        "PLATFORM_FEES = Σ fees − Σ fee reversals",
        platform_fees == fees - fees_back,
        format!("PLATFORM_FEES {platform_fees}; fees {fees} − given back {fees_back}"),
    );
    Ok(())
}
