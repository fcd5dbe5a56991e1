//! `demo payout`: pays a seller out of the ledger (docs/ledger.md). Once the hold has released
//! the sales (SETTLEMENT_HOLD, 10 s under `just up`), part of the available money goes to the
//! PSP's payouts API; the sandbox settles it and its signed payout.changed webhook completes it.

use anyhow::bail;
use rust_decimal::Decimal;
use serde_json::json;

use super::{
    api::{number, Payout, Wallet},
    context::{get, post, Demo, WALLET},
    reads::seller_or_default,
    wait::{self, Poll},
};
use crate::style::fmt_ms;

/// What a payout request sends when no amount is given: half the available money (whole won),
/// at least 1; and an amount just over what is available.
pub fn half_and_over(available: Decimal) -> (Decimal, Decimal) {
    let half = (available / Decimal::TWO).trunc().max(Decimal::ONE);
    (half, (available + Decimal::ONE).trunc())
}

async fn balances(demo: &Demo, seller: &str, when: &str) -> anyhow::Result<()> {
    let path = format!("/api/wallets/sellers/{seller}");
    let w: Wallet = demo.call(get(WALLET, path).quiet(), &[200]).await?.json()?;
    demo.out.ok(format!(
        "{when}: available {}, inTransit {}, paidOut {} (pending {})",
        w.available, w.in_transit, w.paid_out, w.pending
    ));
    Ok(())
}

pub async fn run(
    demo: &mut Demo,
    seller: Option<String>,
    amount: Option<Decimal>,
) -> anyhow::Result<()> {
    let seller = seller_or_default(demo, seller);
    demo.out
        .step(format!("Pay seller {seller} out through the PSP"));
    let wallet_path = format!("/api/wallets/sellers/{seller}");
    let wanted = amount.unwrap_or(Decimal::ONE);
    let what = format!("money available to seller {seller} (the hold release)");
    let ((available, seen), took) = wait::until(60, &what, || async {
        let w: Wallet = demo
            .call(get(WALLET, &wallet_path).quiet(), &[200])
            .await?
            .json()?;
        let seen = format!("pending {}, available {}", w.pending, w.available);
        let available = w.available.decimal()?;
        Ok(if available >= wanted {
            Poll::Done((available, seen))
        } else {
            Poll::NotYet(seen)
        })
    })
    .await?;
    demo.out.ok(format!(
        "available after {}: {seen}",
        fmt_ms(took.as_millis())
    ));
    let (half, over) = half_and_over(available);
    let amount = amount.unwrap_or(half);
    let payouts = format!("{wallet_path}/payouts");
    let body = json!({ "amount": number(over)? });
    let refused = demo.call(post(WALLET, &payouts, body), &[422]).await?;
    demo.out.ok(format!(
        "{over} won is more than is available: {}",
        refused.code()
    ));
    let body = json!({ "amount": number(amount)? });
    let payout: Payout = demo
        .call(post(WALLET, &payouts, body), &[201])
        .await?
        .json()?;
    let no = payout.payout_no;
    demo.out.ok(format!(
        "payout {no} of {amount}: {} (PSP id {}; PAYOUT entry: available → in transit)",
        payout.status,
        payout.psp_payout_id.unwrap_or_default()
    ));
    balances(demo, &seller, "right after").await?;
    let path = format!("{payouts}/{no}");
    let (done, took) = wait::until(30, &format!("payout {no} COMPLETED"), || async {
        let p: Payout = demo
            .call(get(WALLET, &path).quiet(), &[200])
            .await?
            .json()?;
        match p.status.as_str() {
            "COMPLETED" => Ok(Poll::Done(p)),
            "FAILED" => bail!("payout {no} FAILED: {}", p.failure_code.unwrap_or_default()),
            _ => Ok(Poll::NotYet(p.status)),
        }
    })
    .await?;
    let via: Vec<String> = done
        .history
        .iter()
        .map(|s| format!("{} ({})", s.to, s.source))
        .collect();
    demo.out.ok(format!(
        "COMPLETED after {}, via {}",
        fmt_ms(took.as_millis()),
        via.join(" → ")
    ));
    balances(demo, &seller, "after the PSP's webhook").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_of_the_available_money_in_whole_won() {
        let d = |s: &str| s.parse::<Decimal>().unwrap_or_default();
        assert_eq!(half_and_over(d("115000")), (d("57500"), d("115001")));
        assert_eq!(half_and_over(d("114501.50")), (d("57250"), d("114502")));
        assert_eq!(half_and_over(d("1")), (d("1"), d("2")));
        assert_eq!(number(d("57500")).ok(), Some(json!(57500)));
    }
}
