//! `demo recover`: the case a replay is for. A valid order is dead-lettered by a (simulated)
//! outage of order-query's database, the outage is fixed, the dead letter replayed through
//! order-query-projection's own handler — applied once; the subject's other consumers never
//! see the replay (nothing is republished; docs/operations.md "The two dead-letter flows").
//!
//! The outage is a `CHECK (false)` constraint on order_view_lines (tests/src/outage.rs does the
//! same for the e2e tests); it is dropped again however the flow ends, Ctrl-C included.

use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use serde_json::Value;
use service_kit::stack_table;
use sqlx::{postgres::PgPoolOptions, PgPool};

use super::{
    api::{DeadLetter, DeadLetterPage, MemberOrder, Payment, Replayed, Wallet},
    context::{get, post, Demo, ORDER, ORDER_QUERY, WALLET},
    hot::{self, Counts},
    pay::pay_order,
    wait::{self, Poll},
};
use crate::style::fmt_ms;

const BEGIN_OUTAGE: &str =
    "alter table order_view_lines add constraint paymsa_demo_outage check (false) not valid";
const END_OUTAGE: &str = "alter table order_view_lines drop constraint paymsa_demo_outage";
const CLEAN_UP: &str = "alter table order_view_lines drop constraint if exists paymsa_demo_outage";

pub async fn run(demo: &mut Demo, member: &str) -> anyhow::Result<()> {
    demo.out
        .step("A fixable failure: outage → dead letter → fix → replay");
    let db = stack_table::get(ORDER_QUERY)
        .and_then(|row| row.database)
        .ok_or_else(|| anyhow!("deploy/services.table gives {ORDER_QUERY} no database"))?;
    let url = format!("{}/{db}", demo.settings.postgres.trim_end_matches('/'));
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&url)
        .await
        .with_context(|| format!("could not connect to {db} to simulate the outage"))?;
    sqlx::query(BEGIN_OUTAGE)
        .execute(&pool)
        .await
        .with_context(|| format!("could not simulate the outage in {db}"))?;
    demo.out.ok(
        "simulated outage: order-query's database refuses new order lines (a CHECK (false) constraint)",
    );
    let mut outage = true;
    let result = tokio::select! {
        result = fix_and_replay(demo, &pool, &mut outage, member) => result,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    };
    if outage && sqlx::query(CLEAN_UP).execute(&pool).await.is_ok() {
        eprintln!("  · (cleanup) simulated outage removed from order-query");
    }
    pool.close().await;
    result
}

/// order-query's dead letter of `order` not yet replayed: its id and detail.
async fn projection_dead_letter(demo: &Demo, order: &str) -> anyhow::Result<Poll<DeadLetter>> {
    let listed = "/admin/dead-letters?limit=20";
    let page: DeadLetterPage = demo
        .call(get(ORDER_QUERY, listed).admin().quiet(), &[200])
        .await?
        .json()?;
    let candidates = page
        .items
        .iter()
        .filter(|i| i.consumer == "order-query-projection" && i.replay_count == 0);
    for item in candidates {
        let path = format!("/admin/dead-letters/{}", item.id);
        let letter: DeadLetter = demo
            .call(get(ORDER_QUERY, path).admin().quiet(), &[200])
            .await?
            .json()?;
        let payload = letter.payload_text.as_deref().unwrap_or_default();
        if payload.contains(&format!("\"{order}\"")) {
            return Ok(Poll::Done(letter));
        }
    }
    Ok(Poll::NotYet(format!("no dead letter for {order} yet")))
}

async fn balance(demo: &Demo, seller: &str) -> anyhow::Result<String> {
    let path = format!("/api/wallets/sellers/{seller}");
    let wallet: Wallet = demo.call(get(WALLET, path).quiet(), &[200]).await?.json()?;
    Ok(wallet.balance.to_string())
}

async fn fix_and_replay(
    demo: &mut Demo,
    pool: &PgPool,
    outage: &mut bool,
    member: &str,
) -> anyhow::Result<()> {
    let product = demo.mouse_or_seed();
    let (_, ranking) = hot::fetch(demo, false).await?;
    let before = hot::counts(&ranking, &product);
    let paid = pay_order(demo, member, &product, false).await?;
    let order = paid.order_id;
    if let Some(before) = before {
        let counted = Counts {
            paid_lines: before.paid_lines + 1,
            ..before
        };
        hot::counts_reach(demo, &product, counted).await?;
    }
    let path = format!("/api/payments/{order}");
    let payment: Payment = demo.call(get(ORDER, path).quiet(), &[200]).await?.json()?;
    let Some(seller) = payment.lines.first().map(|l| l.seller_no.clone()) else {
        bail!("order {order} has no lines");
    };
    let balance_before = balance(demo, &seller).await?;
    let what = format!("order-query giving up on order {order}");
    let (letter, took) = wait::until(30, &what, || projection_dead_letter(demo, &order)).await?;
    let id = letter.id;
    demo.out.ok(format!(
        "order-query-projection failed 3 times (retry after 1 s, 2 s) → dead letter {id}, {} after {} deliveries ({})",
        letter.reason,
        letter.deliveries,
        fmt_ms(took.as_millis())
    ));
    let history = format!(
        "/api/orders/payment-events/{}/members/{member}",
        paid.payment_event_no
    );
    demo.call(get(ORDER_QUERY, &history), &[404]).await?;
    demo.out.ok(format!(
        "so the member's order history lacks the order, while the wallet has it (balance {balance_before})"
    ));
    sqlx::query(END_OUTAGE)
        .execute(pool)
        .await
        .context("could not end the outage")?;
    *outage = false;
    demo.out.ok("outage fixed");
    let replay = format!("/admin/dead-letters/{id}/replay");
    let replayed: Replayed = demo
        .call(post(ORDER_QUERY, &replay, Value::Null).admin(), &[200])
        .await?
        .json()?;
    if replayed.outcome != "APPLIED" {
        bail!("expected APPLIED, got {}", replayed.outcome);
    }
    demo.out.ok(format!(
        "replayed through {}'s handler: APPLIED, resolved at {} (same eventId {})",
        replayed.consumer, replayed.dead_letter.resolved_at, replayed.dead_letter.event_id
    ));
    let order_view: MemberOrder = demo
        .call(get(ORDER_QUERY, &history), &[200])
        .await?
        .json()?;
    demo.out.ok(format!(
        "the member's history has it as soon as the replay answered: status {}, walletSettled {} (wallet.settled had come first and was kept)",
        order_view.status, order_view.wallet_settled
    ));
    let again: Replayed = demo
        .call(post(ORDER_QUERY, &replay, Value::Null).admin(), &[200])
        .await?
        .json()?;
    if again.outcome != "ALREADY_RESOLVED" {
        bail!(
            "a second replay should not run again, got {}",
            again.outcome
        );
    }
    demo.out
        .ok("replayed again: ALREADY_RESOLVED, the handler was not run again");
    // a republished copy (there is none) would reach the other consumers within this
    tokio::time::sleep(Duration::from_secs(1)).await;
    let balance_after = balance(demo, &seller).await?;
    if balance_after != balance_before {
        bail!("the replay changed seller {seller}'s balance: {balance_before} → {balance_after}");
    }
    let mut also = format!("balance still {balance_before}");
    if let Some(before) = before {
        let (_, ranking) = hot::fetch(demo, false).await?;
        let expected = before.paid_lines + 1;
        let now = hot::counts(&ranking, &product).map(|c| c.paid_lines);
        if now != Some(expected) {
            let now = now.map(|n| n.to_string()).unwrap_or_default();
            bail!("the replay changed the ranking: paid lines of {product} {expected} → {now}");
        }
        also.push_str(&format!(
            ", paid lines of {} still {expected}",
            demo.label(&product)
        ));
    }
    demo.out.ok(format!(
        "wallet-settlement and hot-catalog-orders never saw the replay: {also}"
    ));
    Ok(())
}
