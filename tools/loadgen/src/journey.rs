//! One payment from checkout to its last cancel, with what a run mixes in: per-order PSP
//! faults on the confirm, a wrong paymentKey sent before the right one, a cancel racing the
//! confirm and the recovery job, cancels in full or in part (some meeting a PSP timeout).
//! Every choice is drawn from the shopper's seeded generator, in the same order whatever
//! happens, so a run can be repeated.

use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::Method;
use serde_json::{json, Value};

use crate::{
    cancel::{cancel, cancel_when_paid, CancelKind},
    client::{Answer, Client},
    workload::{expect, Market, Outcome, PaymentRecord, Shopper},
};

/// What the chaos run adds to a payment (the bench uses none of it).
#[derive(Clone)]
pub struct ChaosMix {
    /// Share of payments confirmed first with a paymentKey the PSP does not know.
    pub wrong_key_rate: f64,
    /// Share of payments whose confirm times out at the PSP after charging.
    pub timeout_rate: f64,
    /// Share of payments cancelled while the (timed-out) confirm and the recovery job run.
    pub concurrent_rate: f64,
    /// Share of cancels that meet a PSP timeout (half of them refunded before it).
    pub cancel_fault_rate: f64,
}

/// The per-order fault of a declined card.
pub fn decline() -> Value {
    json!({ "mode": "error", "errorCode": "REJECT_CARD_PAYMENT", "times": 1 })
}

/// A provider error on the confirm and on the recovery job's next nine tries: the outcome
/// stays unknown for a while, and must end SUCCESS (never FAILURE by counting).
pub fn keeps_failing() -> Value {
    json!({ "mode": "error", "errorCode": "PROVIDER_ERROR", "times": 10 })
}

/// A confirm the PSP charges and then holds past order-service's timeout.
fn charged_then_timeout() -> Value {
    json!({ "mode": "timeout", "timeoutMs": 1500, "approveBeforeTimeout": true, "times": 1 })
}

fn cancel_timeout(refund_first: bool) -> Value {
    json!({ "operation": "cancel", "mode": "timeout", "timeoutMs": 1500,
            "approveBeforeTimeout": refund_first, "times": 1 })
}

impl From<&Answer> for Outcome {
    fn from(confirm: &Answer) -> Self {
        match confirm.status {
            200 => Outcome::Paid,
            202 => Outcome::Pending,
            422 => Outcome::Declined(confirm.code()),
            other => Outcome::Refused(other, confirm.code()),
        }
    }
}

/// The choices for one payment, drawn up front.
struct Plan {
    fault: Option<Value>,
    wrong_key: bool,
    concurrent: bool,
    cancel: bool,
    partial: bool,
    rest: bool,
    cancel_fault: Option<bool>,
    partial_share: f64,
}

fn plan(
    shopper: &mut Shopper,
    decline_rate: f64,
    exhaust_rate: f64,
    cancel_rate: f64,
    mix: Option<&ChaosMix>,
) -> Plan {
    let zero = |f: fn(&ChaosMix) -> f64| mix.map_or(0.0, f);
    let declined = shopper.chance(decline_rate);
    let exhausted = shopper.chance(exhaust_rate);
    let timed_out = shopper.chance(zero(|m| m.timeout_rate));
    let concurrent = shopper.chance(zero(|m| m.concurrent_rate));
    let fault = if declined {
        Some(decline())
    } else if exhausted {
        Some(keeps_failing())
    } else if timed_out || concurrent {
        Some(charged_then_timeout())
    } else {
        None
    };
    let faulted_cancel = shopper.chance(zero(|m| m.cancel_fault_rate));
    let refund_first = shopper.chance(0.5);
    Plan {
        concurrent: concurrent && !declined && !exhausted,
        fault,
        wrong_key: shopper.chance(zero(|m| m.wrong_key_rate)),
        cancel: shopper.chance(cancel_rate),
        partial: shopper.chance(0.5),
        rest: shopper.chance(0.3),
        cancel_fault: faulted_cancel.then_some(refund_first),
        partial_share: shopper.rng.random_range(0.05..0.95),
    }
}

async fn set_fault(client: &Client, order_id: &str, fault: &Value) -> anyhow::Result<()> {
    let path = format!("/sandbox/faults/orders/{order_id}");
    let set = client
        .call("psp-sandbox", Method::PUT, &path, Some(fault), &[])
        .await?;
    expect(&set, 200, "setting a PSP fault")
}

/// The confirm with the approved key, repeated every 500 ms for up to 3 minutes while
/// order-service answers 409 PAYMENT_IN_PROGRESS because an earlier attempt is open (a try
/// of this confirm lost with its instance mid-call: [`Answer::in_progress_after_a_lost_try`],
/// or a `held` order's wrong-key attempt being looked up), or, for a `held` order, 409
/// PAYMENT_KEY_MISMATCH. The latency is until the final answer.
async fn confirm_right_key(
    client: &Client,
    order: &crate::workload::Approved,
    held: bool,
) -> anyhow::Result<(Answer, Duration)> {
    let started = Instant::now();
    let mut lost_a_try = false;
    loop {
        let (answer, _) = Shopper::confirm(client, order, &order.payment_key).await?;
        lost_a_try |= answer.in_progress_after_a_lost_try();
        let again = answer.status == 409
            && match answer.code().as_str() {
                "PAYMENT_IN_PROGRESS" => held || lost_a_try,
                "PAYMENT_KEY_MISMATCH" => held,
                _ => false,
            };
        // Minutes, not seconds: an attempt cut off inside the sandbox's confirm holds its
        // Idempotency-Key there for 90 s (services/psp-sandbox/src/idempotency.rs
        // ABANDONED_AFTER_SECS), and the recovery job can only settle it after that.
        if !again || started.elapsed() > Duration::from_secs(180) {
            return Ok((answer, started.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The code recorded for a wrong key answered [`Answer::in_progress_after_a_lost_try`]: its
/// first try started an attempt and died with order-service (client_checks.rs counts it as
/// refused, as a 202).
pub const LOST_WRONG_KEY: &str = "PAYMENT_IN_PROGRESS after a lost try";

/// Checkout → approval → (fault, wrong key) → confirm (maybe racing a cancel) → cancels.
pub async fn pay(
    shopper: &mut Shopper,
    client: &Client,
    market: &Market,
    rates: (f64, f64, f64),
    mix: Option<&ChaosMix>,
) -> anyhow::Result<PaymentRecord> {
    let (decline_rate, exhaust_rate, cancel_rate) = rates;
    let plan = plan(shopper, decline_rate, exhaust_rate, cancel_rate, mix);
    let order = shopper.approve(client, market).await?;
    if let Some(fault) = &plan.fault {
        set_fault(client, &order.order_id, fault).await?;
    }
    let mut wrong_key = None;
    if plan.wrong_key {
        let key = json!(format!("tgen_wrong{}", uuid::Uuid::new_v4().simple()));
        let (answer, _) = Shopper::confirm(client, &order, &key).await?;
        let code = if answer.in_progress_after_a_lost_try() {
            LOST_WRONG_KEY.to_string()
        } else {
            answer.code()
        };
        wrong_key = Some((answer.status, code));
    }
    // A wrong key the PSP could not refuse in time (down or slow: 202), or whose confirm died
    // with order-service mid-call (the client's retry then found it in progress: 409), holds
    // the order until the recovery job finds it is not the PSP's payment and frees it; until
    // then the right key gets 409 PAYMENT_KEY_MISMATCH, and the customer tries again.
    let held = match &wrong_key {
        Some((202, _)) => true,
        Some((409, code)) => code == LOST_WRONG_KEY,
        _ => false,
    };
    let mut cancels = Vec::new();
    let (confirm, confirm_latency) = if plan.concurrent {
        let (confirm, raced) = tokio::join!(
            confirm_right_key(client, &order, held),
            cancel_when_paid(client, &order, Duration::from_secs(60)),
        );
        cancels.push(raced?);
        confirm?
    } else {
        confirm_right_key(client, &order, held).await?
    };
    let outcome = Outcome::from(&confirm);
    // A purchase refunded in full is no longer one to review (services/catalog-review-service/
    // src/refunds.rs), and a part may refund a whole line: products of an order this journey
    // cancels are not offered for review.
    if outcome == Outcome::Paid && !plan.cancel && !plan.concurrent {
        shopper.bought(&order.products);
    }
    if outcome == Outcome::Paid && plan.cancel && !plan.concurrent {
        let faulted = plan.cancel_fault.is_some();
        if let Some(refund_first) = plan.cancel_fault {
            set_fault(client, &order.order_id, &cancel_timeout(refund_first)).await?;
        }
        // A part is 1 won up to the total − 1 (checkout totals are ≥ 1,000 won).
        let (amount, kind) = if plan.partial && order.amount_won >= 2 {
            let part = (order.amount_won as f64 * plan.partial_share) as i64;
            (
                Some(part.clamp(1, order.amount_won - 1)),
                CancelKind::Partial,
            )
        } else {
            (None, CancelKind::Full)
        };
        let first = cancel(client, &order, amount, kind, faulted).await?;
        let done = first.status == 200;
        cancels.push(first);
        if plan.partial && plan.rest && done {
            cancels.push(cancel(client, &order, None, CancelKind::Rest, false).await?);
        }
    }
    Ok(PaymentRecord {
        order_id: order.order_id,
        outcome,
        confirm_latency,
        wrong_key,
        cancels,
        schedule: None,
    })
}
