//! Our record of every payment against the PSP's: the sandbox's transaction log
//! (`GET /v1/transactions`, paged, as a merchant reconciles) folded per orderId into what was
//! charged, what was refunded and the payment's last status, compared with order-service's
//! orders and lines.

use std::collections::{BTreeMap, HashMap};

use anyhow::{bail, Context};
use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::{client::Client, invariants::Checks};

/// `Basic base64("test_sk_sandbox:")`: the sandbox takes any `test_sk_` key.
const PSP_AUTH: &str = "Basic dGVzdF9za19zYW5kYm94Og==";
const PAGE: usize = 5000;

/// One order as either side sees it: status (`-` not charged, DONE, PARTIAL_CANCELED,
/// CANCELED), charged, refunded.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ledger {
    pub status: String,
    pub charged: Decimal,
    pub refunded: Decimal,
}

impl std::fmt::Display for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} charged {} refunded {}",
            self.status, self.charged, self.refunded
        )
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The PSP's transactions from `since` − 5 min to now + 1 min, per orderId.
async fn psp_ledgers(
    client: &Client,
    since: DateTime<Utc>,
) -> anyhow::Result<HashMap<String, Ledger>> {
    let (from, to) = (
        rfc3339(since - Duration::minutes(5)),
        rfc3339(Utc::now() + Duration::minutes(1)),
    );
    let mut out: HashMap<String, Ledger> = HashMap::new();
    let mut after: Option<String> = None;
    loop {
        let mut path = format!("/v1/transactions?startDate={from}&endDate={to}&limit={PAGE}");
        if let Some(key) = &after {
            path.push_str(&format!("&startingAfter={key}"));
        }
        let answer = client
            .call(
                "psp-sandbox",
                reqwest::Method::GET,
                &path,
                None,
                &[("Authorization", PSP_AUTH)],
            )
            .await?;
        if answer.status != 200 {
            bail!("GET /v1/transactions: {} {}", answer.status, answer.body);
        }
        let page = answer
            .body
            .as_array()
            .context("transactions: not an array")?;
        for t in page {
            let order = t["orderId"].as_str().context("transaction orderId")?;
            let amount = amount(&t["amount"]).context("transaction amount")?;
            let status = t["status"].as_str().context("transaction status")?;
            let l = out.entry(order.to_string()).or_default();
            if status == "DONE" {
                l.charged += amount;
            } else {
                l.refunded += amount;
            }
            l.status = status.to_string();
        }
        match page.last() {
            Some(last) if page.len() == PAGE => {
                after = Some(
                    last["transactionKey"]
                        .as_str()
                        .context("transactionKey")?
                        .to_string(),
                )
            }
            _ => return Ok(out),
        }
    }
}

fn amount(v: &Value) -> Option<Decimal> {
    v.as_i64()
        .map(Decimal::from)
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// order-service's orders: charged (the total, if paid), refunded, and the status its lines
/// add up to.
async fn our_ledgers(order: &sqlx::PgPool) -> anyhow::Result<BTreeMap<String, Ledger>> {
    let rows: Vec<(String, bool, Decimal, Decimal, Vec<String>)> = sqlx::query_as(
        "select e.order_id, e.is_payment_done, e.total_amount, e.refunded_amount,
                array_agg(o.status) from payment_events e
           join payment_orders o on o.payment_event_no = e.payment_event_no
          group by e.payment_event_no",
    )
    .fetch_all(order)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, paid, total, refunded, lines)| {
            let all = |s: &str| lines.iter().all(|l| l == s);
            let any = |s: &str| lines.iter().any(|l| l == s);
            let status = if all("CANCELED") {
                "CANCELED"
            } else if any("CANCELED") || any("PARTIAL_CANCELED") {
                "PARTIAL_CANCELED"
            } else if all("SUCCESS") {
                "DONE"
            } else {
                "-"
            };
            let charged = if paid { total } else { Decimal::ZERO };
            let ledger = Ledger {
                status: status.into(),
                charged,
                refunded,
            };
            (id, ledger)
        })
        .collect())
}

/// Every order: the PSP's status and amounts equal ours; Σ refunds at the PSP = Σ done cancels.
pub async fn check(
    order: &sqlx::PgPool,
    client: &Client,
    since: DateTime<Utc>,
    checks: &mut Checks,
) -> anyhow::Result<()> {
    let psp = psp_ledgers(client, since).await?;
    let ours = our_ledgers(order).await?;
    let none = Ledger {
        status: "-".into(),
        ..Ledger::default()
    };
    let (mut charged_not_paid, mut paid_not_charged, mut differ) = (0, 0, 0);
    let mut examples = Vec::new();
    for (id, o) in &ours {
        let p = psp.get(id).unwrap_or(&none);
        if o == p {
            continue;
        }
        if o.charged.is_zero() && !p.charged.is_zero() {
            charged_not_paid += 1;
        } else if !o.charged.is_zero() && p.charged.is_zero() {
            paid_not_charged += 1;
        } else {
            differ += 1;
        }
        if examples.len() < 10 {
            examples.push(format!("{id}: ours {o}; PSP {p}"));
        }
    }
    let strangers: Vec<&String> = psp.keys().filter(|k| !ours.contains_key(*k)).collect();
    let paid = ours.values().filter(|o| !o.charged.is_zero()).count();
    let ok = charged_not_paid + paid_not_charged + differ == 0 && strangers.is_empty();
    checks.add(
        "every order: PSP status and amounts = ours",
        ok,
        format!(
            "{} orders, {paid} charged, {} with transactions at the PSP; charged but not paid {charged_not_paid}, paid but not charged {paid_not_charged}, amounts or status differ {differ}, unknown to us {}{}",
            ours.len(),
            psp.len(),
            strangers.len(),
            if examples.is_empty() { String::new() } else { format!(" — {}", examples.join("; ")) }
        ),
    );

    let psp_refunds: Decimal = psp.values().map(|l| l.refunded).sum();
    let (done, cancelled): (i64, Option<Decimal>) = sqlx::query_as(
        "select count(*), sum(cancel_amount) from payment_cancels where status = 'DONE'",
    )
    .fetch_one(order)
    .await?;
    let cancelled = cancelled.unwrap_or_default();
    checks.add(
        "Σ refunds at the PSP = Σ done cancels",
        psp_refunds == cancelled,
        format!("PSP refunded {psp_refunds}; {done} done cancels for {cancelled}"),
    );
    Ok(())
}
