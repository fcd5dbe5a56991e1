//! `POST /v1/payments/{paymentKey}/cancel`: a full or partial refund of a charged payment.
//!
//! Order of checks, as for confirm: count the call → Idempotency-Key (replay / in flight) →
//! latency → the payment, locked (exists, cancelable, balance covers the amount) → faults →
//! refund. Faults hit cancels that would refund (the card-network leg); refusals answer at
//! once. A decline code injected into a cancel is just answered: a refused refund leaves the
//! payment as it was. Everything from the lock to the stored reply is one transaction.

use std::sync::Arc;

use sqlx::PgConnection;

use crate::{
    amount::Amount,
    codes,
    errors::TossResponse,
    faults::{Operation, Plan},
    idempotency::{self, answer, internal, Admitted, Outcome},
    payment::{now_kst, CancelRecord, PaymentRecord, PaymentStatus},
    state::{Sandbox, HEX, KEY_ALPHABET},
    store::{self, By},
    webhooks,
};

pub struct CancelInput {
    pub payment_key: String,
    pub reason: String,
    /// None: the whole balance.
    pub amount: Option<Amount>,
    pub idempotency_key: Option<String>,
}

pub async fn cancel(sandbox: &Arc<Sandbox>, input: CancelInput) -> TossResponse {
    let order_id = match store::order_of(&sandbox.pool, &input.payment_key).await {
        Ok(order_id) => order_id,
        Err(err) => return internal(&err),
    };
    sandbox.memory().calls.count_cancel(order_id.as_deref());
    let key = input.idempotency_key.as_deref();
    let (mut claim, mut tx) = match idempotency::admit(sandbox, Operation::Cancel, key).await {
        Admitted::Go(claim, tx) => (claim, tx),
        Admitted::Answer(reply) => return reply,
    };
    let decided = async {
        let outcome = decide(sandbox, &mut tx, &input).await?;
        // Recorded before any injected delay, as for confirm: a refund that "timed out" after
        // it was applied is what a retry with the same key (or a lookup) finds.
        claim.commit(tx, &outcome).await?;
        Ok::<_, sqlx::Error>(outcome)
    };
    let (decided, queued) = webhooks::tracking(decided).await;
    let outcome = match decided {
        Ok(outcome) => outcome,
        Err(err) => return internal(&err),
    };
    // Webhooks of the refund were committed with it.
    if queued {
        sandbox.webhooks_due.notify_one();
    }
    if let Some(delay) = outcome.delay {
        tokio::time::sleep(delay).await;
    }
    outcome.reply
}

async fn decide(
    sandbox: &Sandbox,
    conn: &mut PgConnection,
    input: &CancelInput,
) -> Result<Outcome, sqlx::Error> {
    let found = store::find(conn, By::PaymentKey(&input.payment_key), true).await?;
    let Some(mut payment) = found else {
        return Ok(answer(TossResponse::error(codes::get(
            codes::NOT_FOUND_PAYMENT,
        ))));
    };
    let amount = match cancelable(&payment, input.amount) {
        Ok(amount) => amount,
        Err(refusal) => return Ok(answer(refusal)),
    };
    let plan = sandbox
        .memory()
        .faults
        .sample(&payment.order_id, Operation::Cancel);
    match plan {
        Plan::Pass => refund(sandbox, conn, &mut payment, amount, &input.reason).await,
        Plan::Error(code) => Ok(answer(TossResponse::error(code))),
        Plan::Timeout {
            delay,
            approve: true,
        } => Ok(Outcome {
            delay: Some(delay),
            ..refund(sandbox, conn, &mut payment, amount, &input.reason).await?
        }),
        Plan::Timeout {
            delay,
            approve: false,
        } => Ok(Outcome {
            reply: TossResponse::code(
                codes::FAILED_INTERNAL_SYSTEM_PROCESSING,
                "내부 시스템 처리 작업이 실패했습니다. (sandbox: injected timeout; not canceled)",
            ),
            keep: false,
            delay: Some(delay),
        }),
    }
}

/// The amount to refund, or Toss's refusal: only charged payments with a balance can be
/// cancelled, and never for more than the balance.
fn cancelable(payment: &PaymentRecord, requested: Option<Amount>) -> Result<i64, TossResponse> {
    match payment.status {
        PaymentStatus::Done | PaymentStatus::PartialCanceled => {}
        PaymentStatus::Canceled => {
            return Err(TossResponse::error(codes::get(
                codes::ALREADY_CANCELED_PAYMENT,
            )))
        }
        PaymentStatus::Ready | PaymentStatus::Aborted | PaymentStatus::Expired => {
            return Err(TossResponse::code(
                codes::NOT_CANCELABLE_PAYMENT,
                format!(
                    "취소 할 수 없는 결제 입니다. (결제 상태 {})",
                    payment.status.as_str()
                ),
            ))
        }
    }
    let amount = requested.map_or(payment.balance, |a| a.0);
    if payment.balance == 0 {
        return Err(TossResponse::error(codes::get(
            codes::ALREADY_CANCELED_PAYMENT,
        )));
    }
    if amount > payment.balance {
        return Err(TossResponse::code(
            codes::NOT_CANCELABLE_AMOUNT,
            format!(
                "취소 할 수 없는 금액 입니다. (취소 가능 금액 {}, 요청 금액 {amount})",
                payment.balance
            ),
        ));
    }
    Ok(amount)
}

async fn refund(
    sandbox: &Sandbox,
    conn: &mut PgConnection,
    payment: &mut PaymentRecord,
    amount: i64,
    reason: &str,
) -> Result<Outcome, sqlx::Error> {
    let cancel = CancelRecord {
        transaction_key: sandbox.random(32, HEX),
        amount: Amount(amount),
        reason: reason.to_string(),
        refundable: payment.balance - amount,
        receipt_key: format!("tcan_{}", sandbox.random(20, KEY_ALPHABET)),
        canceled_at: now_kst(),
    };
    store::cancel(conn, payment, cancel).await?;
    webhooks::canceled(sandbox, conn, payment).await?;
    Ok(Outcome {
        reply: TossResponse::payment(payment.to_payment()),
        keep: true,
        delay: None,
    })
}
