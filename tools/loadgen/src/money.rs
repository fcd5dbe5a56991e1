//! The invariants of money that flows back and of repairs: order-service against the PSP
//! ([`crate::psp_check`]), each done cancel reversed once per seller for exactly its lines,
//! re-driven orders settled once, order-query's refunds equal ours, and order-service's own
//! reconciliation over the run's window clean once the system has drained.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::{
    client::{Client, Who},
    invariants::Checks,
    stack::Stack,
};

pub async fn check(
    stack: &mut Stack,
    client: &Client,
    since: DateTime<Utc>,
    checks: &mut Checks,
) -> anyhow::Result<()> {
    let order = stack.db("order-service").await?;
    let wallet = stack.db("wallet-service").await?;
    let query = stack.db("order-query-service").await?;
    crate::psp_check::check(&order, client, since, checks).await?;

    // Each done cancel: one REVERSAL per (cancel, seller) of exactly its lines' amounts.
    let expected: BTreeMap<(i64, i64), Decimal> = sqlx::query_as(
        "select c.cancel_no, o.seller_no, sum(l.amount) from payment_cancels c
           join payment_cancel_lines l on l.cancel_no = c.cancel_no
           join payment_orders o on o.payment_order_no = l.payment_order_no
          where c.status = 'DONE' group by c.cancel_no, o.seller_no",
    )
    .fetch_all(&order)
    .await?
    .into_iter()
    .map(|(c, s, a): (i64, i64, Decimal)| ((c, s), a))
    .collect();
    let mut reversed: BTreeMap<(i64, i64), (Decimal, usize)> = BTreeMap::new();
    let rows: Vec<(i64, i64, Decimal)> = sqlx::query_as(
        "select cancel_no, seller_no, amount from wallet_transactions where type = 'REVERSAL'",
    )
    .fetch_all(&wallet)
    .await?;
    for (c, s, a) in rows {
        let r = reversed.entry((c, s)).or_default();
        r.0 += a;
        r.1 += 1;
    }
    // A REVERSAL is net of the commission it gave back; with it, the gross refund.
    let fee_back = crate::ledger_checks::fee_back_per_cancel(&wallet).await?;
    let mut off = Vec::new();
    for (key, amount) in &expected {
        match reversed.get(key) {
            Some((a, 1)) if *a + fee_back.get(key).copied().unwrap_or_default() == *amount => {}
            got => off.push(format!(
                "cancel {} seller {}: {amount} expected, reversed {got:?}",
                key.0, key.1
            )),
        }
    }
    off.extend(
        reversed
            .keys()
            .filter(|k| !expected.contains_key(k))
            .map(|k| {
                format!(
                    "cancel {} seller {}: reversed, but no done cancel",
                    k.0, k.1
                )
            }),
    );
    checks.add(
        "each done cancel reversed once per seller",
        off.is_empty(),
        if off.is_empty() {
            format!("{} (cancel, seller) reversals", expected.len())
        } else {
            off.into_iter().take(10).collect::<Vec<_>>().join("; ")
        },
    );

    // Re-driven orders (order.payment.confirmed published again): every line credited once.
    let redriven: Vec<(i64, i32, i64)> = sqlx::query_as(
        "select e.payment_event_no, e.redrive_count, count(o.*) from payment_events e
           join payment_orders o on o.payment_event_no = e.payment_event_no
          where e.redrive_count > 0 group by e.payment_event_no",
    )
    .fetch_all(&order)
    .await?;
    let credits: HashMap<i64, (i64, i64)> = sqlx::query_as(
        "select payment_event_no, count(*), count(distinct payment_order_no)
           from wallet_transactions where type = 'CREDIT' group by payment_event_no",
    )
    .fetch_all(&wallet)
    .await?
    .into_iter()
    .map(|(e, n, d): (i64, i64, i64)| (e, (n, d)))
    .collect();
    let wrong: Vec<String> = redriven
        .iter()
        .filter(|(e, _, lines)| credits.get(e) != Some(&(*lines, *lines)))
        .map(|(e, _, lines)| format!("order {e}: {lines} lines, credits {:?}", credits.get(e)))
        .collect();
    let republished: i64 = redriven.iter().map(|r| i64::from(r.1)).sum();
    checks.add(
        "every re-driven order settled once",
        wrong.is_empty(),
        format!(
            "{} orders re-driven ({republished} re-publications){}",
            redriven.len(),
            if wrong.is_empty() {
                String::new()
            } else {
                format!(": {}", wrong.join("; "))
            }
        ),
    );

    // order-query shows the refunds order-service made.
    let ours: HashMap<i64, Decimal> = sqlx::query_as(
        "select payment_event_no, refunded_amount from payment_events where refunded_amount > 0",
    )
    .fetch_all(&order)
    .await?
    .into_iter()
    .collect();
    let projected: HashMap<i64, Decimal> = sqlx::query_as(
        "select payment_event_no, sum(amount) from order_cancels group by payment_event_no",
    )
    .fetch_all(&query)
    .await?
    .into_iter()
    .collect();
    let differ = ours
        .iter()
        .filter(|(e, a)| projected.get(e) != Some(a))
        .count()
        + projected.keys().filter(|e| !ours.contains_key(e)).count();
    checks.add(
        "order-query's refunds = order-service's",
        differ == 0,
        format!("{} orders with refunds; different {differ}", ours.len()),
    );

    reconciliation(client, since, checks).await
}

/// `GET /admin/reconciliation` over the run and `GET /admin/payments/unresolved` at the end.
async fn reconciliation(
    client: &Client,
    since: DateTime<Utc>,
    checks: &mut Checks,
) -> anyhow::Result<()> {
    let from = (since - chrono::Duration::minutes(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let to = Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    let path = format!("/admin/reconciliation?from={from}&to={to}");
    let report = client.get_as(Who::Admin, "order-service", &path).await?;
    let mismatches = report.body["mismatches"]
        .as_array()
        .with_context(|| format!("reconciliation: {} {}", report.status, report.body))?;
    let unresolved = client
        .get_as(Who::Admin, "order-service", "/admin/payments/unresolved")
        .await?;
    let stuck = unresolved.body.as_array().map_or(usize::MAX, Vec::len);
    checks.add(
        "GET /admin/reconciliation: 0 mismatches",
        mismatches.is_empty() && stuck == 0,
        format!(
            "checked {}, matched {}, in flight {}, mismatches {}{}; unresolved payments {stuck}",
            report.body["checked"],
            report.body["matched"],
            report.body["inFlight"],
            mismatches.len(),
            mismatches
                .iter()
                .take(5)
                .map(|m| format!(" {m}"))
                .collect::<String>()
        ),
    );
    Ok(())
}
