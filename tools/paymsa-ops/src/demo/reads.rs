//! `demo orders` and `demo wallet`: the read side — a member's orders from order-query's read
//! model, page by page along `nextCursor`; a seller's balance and ledger.

use anyhow::bail;
use rust_decimal::Decimal;

use super::{
    api::{OrderPage, Wallet},
    context::{get, or_seed, Demo, ORDER_QUERY, WALLET},
    pay::balance_reaches,
    wait::{self, when},
};
use crate::tables;

/// The member's orders, 2 a page; with `expect`, first waits for that many settled orders and
/// then checks the pages held each once.
pub async fn orders(demo: &mut Demo, member: &str, expect: Option<usize>) -> anyhow::Result<()> {
    demo.out
        .step("The member's orders, 2 per page (order-query read model)");
    let base = format!("/api/orders/members/{member}");
    if let Some(n) = expect {
        let what = format!("order-query showing {n} settled orders of member {member}");
        let all = format!("{base}?limit=100");
        wait::until(30, &what, || async {
            let page: OrderPage = demo
                .call(get(ORDER_QUERY, &all).quiet(), &[200])
                .await?
                .json()?;
            let settled = page.orders.iter().filter(|o| o.wallet_settled).count();
            let seen = format!("{} orders, {settled} settled", page.orders.len());
            Ok(when(page.orders.len() == n && settled == n, seen))
        })
        .await?;
    }
    let (mut query, mut page_no, mut total) = ("limit=2".to_string(), 1, 0);
    loop {
        let answer = demo
            .call(get(ORDER_QUERY, format!("{base}?{query}")), &[200])
            .await?;
        demo.out
            .show(&tables::render(&tables::Kind::Orders, &answer.body));
        let page: OrderPage = answer.json()?;
        total += page.orders.len();
        let Some(cursor) = page.next_cursor else {
            demo.out.ok(format!(
                "page {page_no} is the last (nextCursor null): {total} order(s), newest first, each once"
            ));
            break;
        };
        query = format!(
            "limit=2&paymentEventNo={}&createdDateTime={}",
            cursor.payment_event_no, cursor.created_date_time
        );
        let shown = crate::json::text(&answer.body["nextCursor"]);
        demo.out.ok(format!("page {page_no}, nextCursor = {shown}"));
        page_no += 1;
        if page_no > 20 {
            demo.out.note("stopping after 20 pages");
            break;
        }
    }
    match expect {
        Some(n) if n != total => bail!("expected {n} orders across the pages, saw {total}"),
        _ => Ok(()),
    }
}

/// The seller given, else the demo's, else seed seller 1; the flows after this one use it.
pub fn seller_or_default(demo: &mut Demo, seller: Option<String>) -> String {
    let seller = seller.unwrap_or_else(|| or_seed(&demo.state.seller_no, "1"));
    demo.state.seller_no = seller.clone();
    seller
}

/// A seller's balance and newest ledger rows; with `expect`, first waits for that balance.
pub async fn wallet(
    demo: &mut Demo,
    seller: Option<String>,
    expect: Option<Decimal>,
) -> anyhow::Result<()> {
    let seller = seller_or_default(demo, seller);
    demo.out.step("The seller's wallet");
    if let Some(expected) = expect {
        balance_reaches(demo, &seller, expected, 20).await?;
    }
    let path = format!("/api/wallets/sellers/{seller}");
    let answer = demo.call(get(WALLET, path), &[200]).await?;
    let wallet: Wallet = answer.json()?;
    demo.out.ok(format!(
        "seller {seller}: balance {}, version {}, wallet {}",
        wallet.balance, wallet.version, wallet.wallet_no
    ));
    demo.out
        .show(&tables::render(&tables::Kind::Ledger, &answer.body));
    if let Some(expected) = expect {
        demo.out.ok(format!(
            "{expected} = 3 × {} + 1 × {}: one ledger row per payment order line",
            demo.state.p1_price, demo.state.p2_price
        ));
    }
    Ok(())
}
