//! `demo pay` and `demo cancel`: checkout → the PSP sandbox's approval → confirm → the wallet's
//! settlement coming back to order-service (`isWalletDone`); and a (partial) cancel, refunded
//! at the PSP, whose reversal reaches the seller's wallet (docs/payments.md).

use anyhow::bail;
use rust_decimal::Decimal;
use serde_json::json;

use super::{
    api::{number, Approval, Canceled, Checkout, Confirmed, Payment, Wallet},
    context::{get, post, Demo, ORDER, SANDBOX, WALLET},
    wait::{self, when},
};
use crate::style::fmt_ms;

/// What a paid order left for the steps after it.
pub struct Paid {
    pub order_id: String,
    pub payment_event_no: String,
}

/// Pays for `products` (comma-separated) as `member`; `detailed` prints every call and shows
/// that a tampered amount is refused, otherwise one line per order.
pub async fn pay_order(
    demo: &mut Demo,
    member: &str,
    products: &str,
    detailed: bool,
) -> anyhow::Result<Paid> {
    let quietly = |req: super::context::Req| if detailed { req } else { req.quiet() };
    let product_nos: Vec<&str> = products
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let body = json!({ "memberNo": member, "productNos": product_nos });
    let answer = demo
        .call(quietly(post(ORDER, "/api/checkouts", body)), &[201])
        .await?;
    let checkout: Checkout = answer.json()?;
    let (order, amount, name) = (&checkout.order_id, &checkout.amount, &checkout.order_name);
    if detailed {
        demo.out.ok(format!(
            "checkout: order {order} \"{name}\", amount {amount}, payment event {}",
            checkout.payment_event_no
        ));
    }
    let body = json!({ "orderId": order, "amount": amount, "orderName": name });
    let approval: Approval = demo
        .call(quietly(post(SANDBOX, "/sandbox/approvals", body)), &[201])
        .await?
        .json()?;
    let key = approval.payment_key;
    if detailed {
        demo.out.ok(format!(
            "the PSP sandbox approved it (the payment window's approve step): paymentKey {key}"
        ));
        // a JSON number, as a shop's tampered form would send it
        let tampered = amount.decimal()? - Decimal::ONE;
        let number = number(tampered)?;
        let body = json!({ "paymentKey": key, "orderId": order, "amount": number });
        let refused = demo
            .call(post(ORDER, "/api/payments/confirm", body), &[400])
            .await?;
        demo.out.ok(format!(
            "a tampered amount ({tampered}) is refused: {} — the PSP is not called",
            refused.code()
        ));
    }
    let body = json!({ "paymentKey": key, "orderId": order, "amount": amount });
    let answer = demo
        .call(quietly(post(ORDER, "/api/payments/confirm", body)), &[200])
        .await?;
    let confirmed: Confirmed = answer.json()?;
    if confirmed.status != "SUCCESS" {
        bail!(
            "confirm answered status {}: {}",
            confirmed.status,
            answer.text
        );
    }
    if detailed {
        demo.out.ok(format!(
            "confirmed: {} (order-service confirmed it with the PSP; order.payment.confirmed is in its outbox)",
            confirmed.status
        ));
    }
    demo.state.last_order_id = order.clone();
    demo.save()?;
    let path = format!("/api/payments/{order}");
    let what = format!("wallet settlement of order {order}");
    let ((), took) = wait::until(30, &what, || async {
        let payment: Payment = demo.call(get(ORDER, &path).quiet(), &[200]).await?.json()?;
        let seen = format!(
            "status {}, isWalletDone {}",
            payment.status, payment.is_wallet_done
        );
        Ok(when(payment.is_wallet_done, seen))
    })
    .await?;
    let took = fmt_ms(took.as_millis());
    if detailed {
        demo.out.ok(format!(
            "settled after {took}: order.payment.confirmed → wallet-settlement → wallet.settled → isWalletDone=true"
        ));
    } else {
        demo.out.ok(format!(
            "order {order} \"{name}\" {amount}: paid, settled after {took}"
        ));
    }
    Ok(Paid {
        order_id: checkout.order_id,
        payment_event_no: checkout.payment_event_no,
    })
}

pub async fn pay(demo: &mut Demo, products: &str, member: &str) -> anyhow::Result<()> {
    demo.out.step(format!(
        "Pay for an order — checkout → PSP approval → confirm → settlement (member {member})"
    ));
    pay_order(demo, member, products, true).await.map(drop)
}

pub async fn more_orders(demo: &mut Demo, member: &str) -> anyhow::Result<()> {
    demo.out
        .step("Two more orders of the keyboard (for the ranking and the paging)");
    let keyboard = demo.state.p1.clone();
    pay_order(demo, member, &keyboard, false).await?;
    pay_order(demo, member, &keyboard, false).await.map(drop)
}

/// Waits up to `timeout_s` until `seller`'s balance is `expected`; how long that took.
pub async fn balance_reaches(
    demo: &Demo,
    seller: &str,
    expected: Decimal,
    timeout_s: u64,
) -> anyhow::Result<std::time::Duration> {
    let path = format!("/api/wallets/sellers/{seller}");
    let what = format!("seller {seller}'s balance {expected}");
    let ((), took) = wait::until(timeout_s, &what, || async {
        let wallet: Wallet = demo
            .call(get(WALLET, &path).quiet(), &[200])
            .await?
            .json()?;
        let balance = wallet.balance.decimal()?;
        Ok(when(
            balance == expected,
            format!("balance {}", wallet.balance),
        ))
    })
    .await?;
    Ok(took)
}

/// Gives money back: the PSP refunds, the order goes PARTIAL_CANCELED / CANCELED, the sellers'
/// credit is reversed (once per cancel, keyed by its cancelNo).
pub async fn cancel(
    demo: &mut Demo,
    order: Option<String>,
    amount: Option<Decimal>,
) -> anyhow::Result<()> {
    let order = order.unwrap_or_else(|| demo.state.last_order_id.clone());
    if order.is_empty() {
        bail!("no order to cancel: give one (just cancel ORDER_ID [AMOUNT]) or run just pay first");
    }
    let of_amount = amount
        .as_ref()
        .map(|a| format!(" ({a} won)"))
        .unwrap_or_default();
    demo.out
        .step(format!("Cancel and refund order {order}{of_amount}"));
    let path = format!("/api/payments/{order}");
    let before: Payment = demo.call(get(ORDER, &path).quiet(), &[200]).await?.json()?;
    let Some(seller) = before.lines.first().map(|l| l.seller_no.clone()) else {
        bail!("order {order} has no lines");
    };
    let refundable = before
        .refundable_amount
        .map(|m| m.to_string())
        .unwrap_or_default();
    demo.out.ok(format!(
        "before: status {}, refunded {}, refundable {refundable}",
        before.status, before.refunded_amount
    ));
    let wallet_path = format!("/api/wallets/sellers/{seller}");
    let wallet: Wallet = demo
        .call(get(WALLET, &wallet_path).quiet(), &[200])
        .await?
        .json()?;
    let balance = wallet.balance.decimal()?;
    let body = match &amount {
        Some(amount) => {
            let amount = number(*amount)?;
            json!({ "cancelReason": "demo: 고객 변심", "cancelAmount": amount })
        }
        None => json!({ "cancelReason": "demo: 전체 취소" }),
    };
    let cancel_path = format!("/api/payments/{order}/cancel");
    let canceled: Canceled = demo
        .call(post(ORDER, cancel_path, body), &[200, 202])
        .await?
        .json()?;
    demo.out.ok(format!(
        "cancel {}: {} — refunded {} at the PSP; the order is {}, {} still refundable",
        canceled.cancel_no,
        canceled.status,
        canceled.cancel_amount,
        canceled.order_status,
        canceled.refundable_amount
    ));
    wait::until(30, "the cancel to be done", || async {
        let payment: Payment = demo.call(get(ORDER, &path).quiet(), &[200]).await?.json()?;
        let states: Vec<&str> = payment.cancels.iter().map(|c| c.status.as_str()).collect();
        let pending = states.iter().any(|s| *s == "UNKNOWN" || *s == "REQUESTED");
        let done = payment.refundable_amount.is_some() && !pending;
        Ok(when(done, states.join(" ")))
    })
    .await?;
    let expected = balance - canceled.cancel_amount.decimal()?;
    let took = balance_reaches(demo, &seller, expected, 30).await?;
    demo.out.ok(format!(
        "order.payment.canceled → wallet-reversal: seller {seller} {} → {expected} after {} (once per cancel, keyed by cancelNo)",
        wallet.balance,
        fmt_ms(took.as_millis())
    ));
    Ok(())
}
