//! The ledger checks against the PSP's own record (ledger_checks.rs has the rest): money at the
//! PSP — `PSP_CLEARING` − Σ `SELLER_PAID_OUT` = Σ charged − Σ refunded − Σ paid out there — and
//! every payout closed, paid at most once, as the sandbox has it (`GET /v2/payouts`).

use std::collections::HashMap;

use anyhow::{bail, Context};
use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::PgPool;

use crate::{
    client::Client,
    invariants::Checks,
    ledger_checks::listed,
    payouts::{dec, PayoutLog},
};

/// `Basic base64("test_sk_sandbox:")`.
const PSP_AUTH: &str = "Basic dGVzdF9za19zYW5kYm94Og==";

/// The sandbox's payouts (`GET /v2/payouts`), by refPayoutId: (status, amount, how many).
async fn psp_payouts(
    client: &Client,
    ours: &[i64],
) -> anyhow::Result<HashMap<String, (String, Decimal, usize)>> {
    let mut out: HashMap<String, (String, Decimal, usize)> = HashMap::new();
    let add = |out: &mut HashMap<String, (String, Decimal, usize)>,
               items: &[Value]|
     -> anyhow::Result<()> {
        for item in items {
            let r = item["refPayoutId"].as_str().context("refPayoutId")?;
            let status = item["status"].as_str().context("payout status")?;
            let amount = dec(&item["amount"]["value"]).context("payout amount")?;
            let e = out.entry(r.to_string()).or_default();
            e.0 = status.to_string();
            e.1 = amount;
            e.2 += 1;
        }
        Ok(())
    };
    let get = |path: String| async move {
        let answer = client
            .call(
                "psp-sandbox",
                Method::GET,
                &path,
                None,
                &[("Authorization", PSP_AUTH)],
            )
            .await?;
        if answer.status != 200 {
            bail!("GET {path}: {} {}", answer.status, answer.body);
        }
        Ok::<_, anyhow::Error>(
            answer.body["entityBody"]["items"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        )
    };
    let latest = get("/v2/payouts?limit=1000".to_string()).await?;
    add(&mut out, &latest)?;
    // Beyond the latest 1000, one by one.
    if latest.len() >= 1000 {
        for no in ours {
            if !out.contains_key(&no.to_string()) {
                let items = get(format!("/v2/payouts?refPayoutId={no}")).await?;
                add(&mut out, &items)?;
            }
        }
    }
    Ok(out)
}

/// Money at the PSP, and every payout closed, paid at most once, as the PSP has it.
pub(crate) async fn psp_money(
    order: &PgPool,
    wallet: &PgPool,
    client: &Client,
    log: &PayoutLog,
    checks: &mut Checks,
) -> anyhow::Result<()> {
    let payouts: Vec<(i64, i64, Decimal, String)> =
        sqlx::query_as("select payout_no, seller_no, amount, status from payouts order by 1")
            .fetch_all(wallet)
            .await?;
    let nos: Vec<i64> = payouts.iter().map(|p| p.0).collect();
    let psp = psp_payouts(client, &nos).await?;
    let paid_out: Decimal = psp
        .values()
        .filter(|p| p.0 == "COMPLETED")
        .map(|p| p.1)
        .sum();

    let (charged, refunded): (Option<Decimal>, Option<Decimal>) = sqlx::query_as(
        "select sum(total_amount), sum(refunded_amount) from payment_events where is_payment_done",
    )
    .fetch_one(order)
    .await?;
    let (charged, refunded) = (charged.unwrap_or_default(), refunded.unwrap_or_default());
    let (clearing, ledger_paid_out): (Decimal, Decimal) = sqlx::query_as(
        "select coalesce(sum(balance) filter (where kind = 'PSP_CLEARING'), 0),
                coalesce(sum(balance) filter (where kind = 'SELLER_PAID_OUT'), 0)
           from ledger_account_balances",
    )
    .fetch_one(wallet)
    .await?;
    checks.add(
        "money at the PSP = charged − refunded − paid",
        clearing - ledger_paid_out == charged - refunded - paid_out
            && ledger_paid_out == paid_out,
        format!(
            "PSP_CLEARING {clearing} − SELLER_PAID_OUT {ledger_paid_out} = {}; charged {charged} − refunded {refunded} − paid out at the PSP {paid_out} = {}",
            clearing - ledger_paid_out,
            charged - refunded - paid_out
        ),
    );

    // Each payout: closed; one COMPLETED or one FAILED entry as its status says; the PSP has
    // it once, with our amount and status.
    let entries: HashMap<(i64, String), i64> = sqlx::query_as(
        "select payout_no, kind, count(*) from ledger_entries where payout_no is not null
          group by 1, 2",
    )
    .fetch_all(wallet)
    .await?
    .into_iter()
    .map(|(p, k, n): (i64, String, i64)| ((p, k), n))
    .collect();
    let count = |p: i64, k: &str| entries.get(&(p, k.to_string())).copied().unwrap_or(0);
    let mut off = Vec::new();
    let (mut completed, mut failed, mut open) = (0, 0, 0);
    for (no, seller, amount, status) in &payouts {
        let (done, fail) = (count(*no, "PAYOUT_COMPLETED"), count(*no, "PAYOUT_FAILED"));
        let at_psp = psp.get(&no.to_string());
        let ok = match status.as_str() {
            "COMPLETED" => {
                completed += 1;
                done == 1 && fail == 0
            }
            "FAILED" => {
                failed += 1;
                done == 0 && fail == 1
            }
            _ => {
                open += 1;
                false
            }
        } && count(*no, "PAYOUT") == 1;
        // A payout refused before the PSP took it is FAILED here and unknown there.
        let psp_ok = match at_psp {
            Some((s, a, n)) => s == status && a == amount && *n == 1,
            None => status == "FAILED",
        };
        if !ok || !psp_ok {
            off.push(format!(
                "payout {no} seller {seller} {amount} {status}: PAYOUT {} COMPLETED {done} FAILED {fail} entries; PSP {at_psp:?}",
                count(*no, "PAYOUT")
            ));
        }
    }
    let ours: std::collections::HashSet<String> = nos.iter().map(i64::to_string).collect();
    let strangers = psp.keys().filter(|r| !ours.contains(*r)).count();
    let unrecorded = log
        .created
        .keys()
        .filter(|no| !ours.contains(&no.to_string()))
        .count();
    checks.add(
        "every payout closed, paid once, = the PSP's",
        off.is_empty() && strangers == 0 && unrecorded == 0,
        format!(
            "{} payouts: {completed} COMPLETED, {failed} FAILED, {open} open; at the PSP {} ({} COMPLETED, paid once each); unknown to us {strangers}; created but not found {unrecorded}{}",
            payouts.len(),
            psp.len(),
            psp.values().filter(|p| p.0 == "COMPLETED").count(),
            if off.is_empty() { String::new() } else { format!(" — {}", listed(&off)) }
        ),
    );
    checks.add(
        "payout requests answered as promised",
        log.wrong.is_empty(),
        format!(
            "{} created, {} replays answered the same payout, {} reuses with another amount refused{}",
            log.created.len(),
            log.replayed,
            log.reuse_refused,
            if log.wrong.is_empty() { String::new() } else { format!(" — {}", listed(&log.wrong)) }
        ),
    );
    Ok(())
}
