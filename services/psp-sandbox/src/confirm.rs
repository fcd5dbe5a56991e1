//! `POST /v1/payments/confirm`: the one call that charges a customer.
//!
//! Order of checks: count the call → Idempotency-Key (replay / in flight) → latency →
//! `TossPayments-Test-Code` → the payment, locked (exists, orderId and amount match, state) →
//! faults → charge. Faults only hit confirms of READY payments: they stand for the card-network
//! leg, which a confirm of an already decided payment never reaches. Everything from the lock
//! to the stored reply is one database transaction.

use std::sync::Arc;

use sqlx::PgConnection;

use crate::{
    amount::Amount,
    codes::{self, Kind, TossCode},
    errors::{TossError, TossResponse},
    expiry,
    faults::{Operation, Plan},
    idempotency::{self, answer, internal, Admitted, Outcome},
    payment::{now_kst, PaymentRecord, PaymentStatus},
    state::{Sandbox, DIGITS, HEX},
    store::{self, By},
    webhooks,
};

pub struct ConfirmInput {
    pub payment_key: String,
    pub order_id: String,
    pub amount: Amount,
    pub idempotency_key: Option<String>,
    pub test_code: Option<String>,
}

pub async fn confirm(sandbox: &Arc<Sandbox>, input: ConfirmInput) -> TossResponse {
    sandbox.memory().calls.count_confirm(&input.order_id);
    let key = input.idempotency_key.as_deref();
    let (mut claim, mut tx) = match idempotency::admit(sandbox, Operation::Confirm, key).await {
        Admitted::Go(claim, tx) => (claim, tx),
        Admitted::Answer(reply) => return reply,
    };
    let decided = async {
        let outcome = decide(sandbox, &mut tx, &input).await?;
        // Recorded before any injected delay: a client that times out and retries with the
        // same key gets the recorded outcome, and nothing depends on this future running on.
        claim.commit(tx, &outcome).await?;
        Ok::<_, sqlx::Error>(outcome)
    };
    let (decided, queued) = webhooks::tracking(decided).await;
    let outcome = match decided {
        Ok(outcome) => outcome,
        Err(err) => return internal(&err),
    };
    // Webhooks of the change were committed with it.
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
    input: &ConfirmInput,
) -> Result<Outcome, sqlx::Error> {
    if let Some(name) = &input.test_code {
        return match codes::find(name.trim()) {
            Some(code) => inject(sandbox, conn, &input.payment_key, code).await,
            None => Ok(answer(TossResponse::code(
                codes::INVALID_REQUEST,
                format!("알 수 없는 TossPayments-Test-Code 입니다: {name}"),
            ))),
        };
    }
    let key = By::PaymentKey(&input.payment_key);
    let expired = expiry::expire_if_stale(conn, key, sandbox.settings.ready_ttl).await?;
    let found = store::find(conn, key, true).await?;
    let Some(mut payment) = found else {
        return Ok(answer(TossResponse::error(codes::get(
            codes::NOT_FOUND_PAYMENT,
        ))));
    };
    if expired {
        webhooks::payment_changed(sandbox, conn, &payment).await?;
    }
    if let Some(refusal) = refusal(&payment, input) {
        return Ok(refusal);
    }
    let plan = sandbox
        .memory()
        .faults
        .sample(&input.order_id, Operation::Confirm);
    match plan {
        Plan::Pass => charge(sandbox, conn, &mut payment).await,
        Plan::Error(code) => inject(sandbox, conn, &input.payment_key, code).await,
        Plan::Timeout {
            delay,
            approve: true,
        } => Ok(Outcome {
            delay: Some(delay),
            ..charge(sandbox, conn, &mut payment).await?
        }),
        Plan::Timeout {
            delay,
            approve: false,
        } => Ok(Outcome {
            reply: TossResponse::code(
                codes::FAILED_INTERNAL_SYSTEM_PROCESSING,
                "내부 시스템 처리 작업이 실패했습니다. (sandbox: injected timeout; not charged)",
            ),
            keep: false,
            delay: Some(delay),
        }),
    }
}

/// Why a confirm of this payment cannot charge it, if it cannot.
fn refusal(payment: &PaymentRecord, input: &ConfirmInput) -> Option<Outcome> {
    if payment.order_id != input.order_id {
        return Some(answer(TossResponse::code(
            codes::INVALID_REQUEST,
            "주문번호(orderId)가 결제 정보와 일치하지 않습니다.",
        )));
    }
    if payment.amount != input.amount {
        return Some(answer(TossResponse::code(
            codes::INVALID_REQUEST,
            format!(
                "결제 금액이 일치하지 않습니다. (승인 금액 {}, 요청 금액 {})",
                payment.amount, input.amount
            ),
        )));
    }
    match (&payment.status, &payment.failure) {
        (PaymentStatus::Done | PaymentStatus::Canceled | PaymentStatus::PartialCanceled, _) => {
            Some(answer(TossResponse::error(codes::get(
                codes::ALREADY_PROCESSED_PAYMENT,
            ))))
        }
        (PaymentStatus::Expired, _) => Some(answer(TossResponse::error(codes::get(
            "NOT_FOUND_PAYMENT_SESSION",
        )))),
        // The decline stands: confirming again answers it again.
        (PaymentStatus::Aborted, Some(failure)) => Some(Outcome {
            reply: TossResponse::error_with(codes::get(&failure.code), &failure.message),
            keep: true,
            delay: None,
        }),
        (PaymentStatus::Aborted, None) | (PaymentStatus::Ready, _) => None,
    }
}

async fn charge(
    sandbox: &Sandbox,
    conn: &mut PgConnection,
    payment: &mut PaymentRecord,
) -> Result<Outcome, sqlx::Error> {
    let transaction_key = sandbox.random(32, HEX);
    let approve_no = sandbox.random(8, DIGITS);
    // Under the row lock the payment is READY here; the guarded update agrees or changes
    // nothing, and either way the answer states what is stored.
    if store::charge(conn, payment, transaction_key, approve_no, now_kst()).await? {
        webhooks::payment_changed(sandbox, conn, payment).await?;
    }
    Ok(Outcome {
        reply: TossResponse::payment(payment.to_payment()),
        keep: true,
        delay: None,
    })
}

/// Answers an injected error; a decline also aborts the payment if it was READY.
async fn inject(
    sandbox: &Sandbox,
    conn: &mut PgConnection,
    payment_key: &str,
    code: &'static TossCode,
) -> Result<Outcome, sqlx::Error> {
    let aborted = code.kind == Kind::Decline
        && store::abort(
            conn,
            payment_key,
            &TossError {
                code: code.code.to_string(),
                message: code.message.to_string(),
            },
        )
        .await?;
    if aborted {
        if let Some(payment) = store::find(conn, By::PaymentKey(payment_key), false).await? {
            webhooks::payment_changed(sandbox, conn, &payment).await?;
        }
    }
    Ok(Outcome {
        reply: TossResponse::error(code),
        keep: aborted,
        delay: None,
    })
}
