//! The ledger invariants a chaos or scale-out run must leave intact, checked against each
//! service's own database and API once the system has settled down.

use std::collections::{HashMap, HashSet};

use rust_decimal::Decimal;
use sqlx::Row;

use crate::{client::Client, ledger, poison::Poison, stack::Stack};

pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

#[derive(Default)]
pub struct Checks(pub Vec<Check>);

impl Checks {
    pub fn add(&mut self, name: &'static str, ok: bool, detail: String) {
        self.0.push(Check { name, ok, detail });
    }

    pub fn all_hold(&self) -> bool {
        self.0.iter().all(|c| c.ok)
    }

    pub fn print(&self) {
        println!("\ninvariants:");
        for c in &self.0 {
            println!(
                "  [{}] {:<44} {}",
                if c.ok { " ok " } else { "FAIL" },
                c.name,
                c.detail
            );
        }
    }
}

/// A paid line (SUCCESS, PARTIAL_CANCELED or CANCELED) as order-service holds it; its time is
/// the PSP's approval, as in the event.
struct PaidLine {
    seller: i64,
    product: i64,
    amount: Decimal,
    refunded: Decimal,
    paid_at_ms: i64,
}

const PAID: &str = "('SUCCESS', 'PARTIAL_CANCELED', 'CANCELED')";

pub async fn check_all(
    stack: &mut Stack,
    client: &Client,
    poisons: &[Poison],
    since: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Checks> {
    let mut checks = Checks::default();
    let order = stack.db("order-service").await?;
    let wallet = stack.db("wallet-service").await?;
    let query = stack.db("order-query-service").await?;

    let lines: HashMap<i64, PaidLine> = sqlx::query(&format!(
        "select o.payment_order_no, o.seller_no, o.product_no, o.amount, o.refunded_amount,
                (extract(epoch from e.approved_at) * 1000)::bigint as paid_at_ms
           from payment_orders o join payment_events e on e.payment_event_no = o.payment_event_no
          where o.status in {PAID}"
    ))
    .fetch_all(&order)
    .await?
    .iter()
    .map(|r| {
        (
            r.get::<i64, _>(0),
            PaidLine {
                seller: r.get(1),
                product: r.get(2),
                amount: r.get(3),
                refunded: r.get(4),
                paid_at_ms: r.get(5),
            },
        )
    })
    .collect();

    // 1. Every paid line credited exactly once, nothing else credited.
    let credits: Vec<(i64, i64, Decimal)> = sqlx::query_as(
        "select payment_order_no, seller_no, amount from wallet_transactions where type = 'CREDIT'",
    )
    .fetch_all(&wallet)
    .await?;
    let mut per_line: HashMap<i64, usize> = HashMap::new();
    for (line, _, _) in &credits {
        *per_line.entry(*line).or_default() += 1;
    }
    let doubled = per_line.values().filter(|&&n| n > 1).count();
    let missing = lines.keys().filter(|l| !per_line.contains_key(l)).count();
    let stray = per_line.keys().filter(|l| !lines.contains_key(l)).count();
    let pending: i64 = sqlx::query_scalar("select count(*) from pending_settlements")
        .fetch_one(&wallet)
        .await?;
    checks.add(
        "every paid line settled exactly once",
        doubled == 0 && missing == 0 && stray == 0 && pending == 0,
        format!(
            "{} paid lines, {} credits; missing {missing}, doubled {doubled}, for unpaid lines {stray}, parked {pending}",
            lines.len(),
            credits.len()
        ),
    );

    // 2. Per seller: Σ credits = Σ paid lines, Σ reversals = Σ refunded of them (both net of
    //    the commission), and Σ credits − Σ reversals − Σ payouts = balance.
    let commission = crate::ledger_checks::Commission::load(&wallet).await?;
    let paid_out = crate::ledger_checks::payout_debits(&wallet).await?;
    let mut expected: HashMap<i64, (Decimal, Decimal)> = HashMap::new();
    for (no, l) in &lines {
        let (net, net_back) = commission.net(*no, l.amount, l.refunded);
        let e = expected.entry(l.seller).or_default();
        e.0 += net;
        e.1 += net_back;
    }
    let mut booked: HashMap<i64, (Decimal, Decimal)> = HashMap::new();
    for (_, seller, amount) in &credits {
        booked.entry(*seller).or_default().0 += *amount;
    }
    let reversals: Vec<(i64, Decimal)> =
        sqlx::query_as("select seller_no, amount from wallet_transactions where type = 'REVERSAL'")
            .fetch_all(&wallet)
            .await?;
    for (seller, amount) in &reversals {
        booked.entry(*seller).or_default().1 += *amount;
    }
    let balances: HashMap<i64, Decimal> =
        sqlx::query_as("select seller_no, balance from wallet_balances")
            .fetch_all(&wallet)
            .await?
            .into_iter()
            .collect();
    let sellers: HashSet<i64> = expected.keys().chain(booked.keys()).copied().collect();
    let off: Vec<String> = sellers
        .iter()
        .filter_map(|s| {
            let e = expected.get(s).copied().unwrap_or_default();
            let k = booked.get(s).copied().unwrap_or_default();
            let b = balances.get(s).copied().unwrap_or_default();
            let p = paid_out.get(s).copied().unwrap_or_default();
            (e != k || k.0 - k.1 - p != b).then(|| {
                format!(
                    "seller {s}: lines {} refunded {} (net), credits {} reversals {}, payouts {p}, balance {b}",
                    e.0, e.1, k.0, k.1
                )
            })
        })
        .collect();
    let total: Decimal = expected.values().map(|e| e.0).sum();
    let refunded: Decimal = expected.values().map(|e| e.1).sum();
    checks.add(
        "Σ credits − reversals − payouts = balance",
        off.is_empty(),
        if off.is_empty() {
            format!(
                "{} sellers, {total} credited = paid lines net of commission, {refunded} reversed = refunded net ({} reversals), {} paid out or in transit",
                sellers.len(),
                reversals.len(),
                paid_out.values().sum::<Decimal>()
            )
        } else {
            off.join("; ")
        },
    );

    // 3. No duplicate wallet transaction (the unique keys make this a belt-and-braces count).
    let (rows, keys): (i64, i64) =
        sqlx::query_as("select count(*), count(distinct idempotency_key) from wallet_transactions")
            .fetch_one(&wallet)
            .await?;
    checks.add(
        "no duplicate wallet transaction",
        rows == keys,
        format!("{rows} rows, {keys} distinct keys"),
    );

    // 4. Every UNKNOWN resolved; nothing left EXECUTING.
    let open = ledger::open_lines(&order).await?;
    let resolved: Vec<(String, i64)> = sqlx::query_as(
        "select o.status, count(distinct o.payment_order_no) from payment_orders o
           join payment_order_histories h on h.payment_order_no = o.payment_order_no
          where h.new_status = 'UNKNOWN' group by o.status order by 1",
    )
    .fetch_all(&order)
    .await?;
    let by_recovery: i64 = sqlx::query_scalar(
        "select count(distinct payment_order_no) from payment_order_histories
          where changed_by = 'recovery-job' and new_status in ('SUCCESS', 'FAILURE')",
    )
    .fetch_one(&order)
    .await?;
    let unpaid_done = ledger::paid_not_settled(&order).await?;
    let stuck: Vec<String> = sqlx::query_as(
        "select e.order_id, o.status, e.payment_key from payment_orders o
           join payment_events e on e.payment_event_no = o.payment_event_no
          where o.status in ('EXECUTING', 'UNKNOWN') order by 1 limit 5",
    )
    .fetch_all(&order)
    .await?
    .into_iter()
    .map(|(id, status, key): (String, String, Option<String>)| {
        format!("{id} {status} paymentKey {}", key.unwrap_or_default())
    })
    .collect();
    checks.add(
        "every UNKNOWN resolved by the recovery job",
        open == 0 && unpaid_done == 0,
        format!(
            "open {open}{}; lines that were UNKNOWN, by final status: {resolved:?}; finished by the recovery job: {by_recovery}; paid but wallet not done: {unpaid_done}",
            if stuck.is_empty() { String::new() } else { format!(" ({})", stuck.join(", ")) }
        ),
    );

    // 5. order-query holds every paid order, with its total and lines.
    let paid: HashMap<i64, (Decimal, i64)> = sqlx::query_as(
        "select e.payment_event_no, e.total_amount, count(o.*) from payment_events e
           join payment_orders o on o.payment_event_no = e.payment_event_no
          where e.is_payment_done group by e.payment_event_no",
    )
    .fetch_all(&order)
    .await?
    .into_iter()
    .map(|(e, t, n): (i64, Decimal, i64)| (e, (t, n)))
    .collect();
    let views: HashMap<i64, (String, Option<Decimal>, i64)> = sqlx::query_as(
        "select v.payment_event_no, v.status, v.total_amount, count(l.*) from order_views v
           left join order_view_lines l on l.payment_event_no = v.payment_event_no
          group by v.payment_event_no",
    )
    .fetch_all(&query)
    .await?
    .into_iter()
    .map(|(e, s, t, n): (i64, String, Option<Decimal>, i64)| (e, (s, t, n)))
    .collect();
    let wrong = paid
        .iter()
        .filter(|(e, (total, n))| {
            !matches!(views.get(e), Some((s, Some(t), m)) if s == "PAID" && t == total && m == n)
        })
        .count();
    let phantom = views
        .iter()
        .filter(|(e, (s, _, _))| s == "PAID" && !paid.contains_key(e))
        .count();
    checks.add(
        "order-query holds every paid order",
        wrong == 0 && phantom == 0,
        format!(
            "{} paid orders; missing or different {wrong}; PAID but not paid {phantom}",
            paid.len()
        ),
    );

    crate::hot_check::check(stack, client, &lines_by_product(&lines), &mut checks).await?;
    crate::poison::check(stack, poisons, &mut checks).await?;
    crate::money::check(stack, client, since, &mut checks).await?;
    Ok(checks)
}

/// Paid-line times per product, for the hot-products recomputation; a line refunded in full
/// is taken back out of the ranking (a partial refund leaves the purchase in).
fn lines_by_product(lines: &HashMap<i64, PaidLine>) -> HashMap<i64, Vec<i64>> {
    let mut out: HashMap<i64, Vec<i64>> = HashMap::new();
    for l in lines.values().filter(|l| l.refunded < l.amount) {
        out.entry(l.product).or_default().push(l.paid_at_ms);
    }
    out
}
