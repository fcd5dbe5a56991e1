//! `POST /v1/payments/confirm`: the one call that charges a customer, so the one place with
//! idempotency and fault injection.
//!
//! Order of checks: count the call → Idempotency-Key (replay / in flight) → latency →
//! `TossPayments-Test-Code` → the payment (exists, orderId and amount match, state) → faults →
//! charge. Faults only hit confirms of READY payments: they stand for the card-network leg,
//! which a lookup of an already decided payment never reaches.

use std::{sync::Arc, time::Duration};

use crate::{
    amount::Amount,
    codes::{self, Kind, TossCode},
    errors::{TossError, TossResponse},
    faults::Plan,
    payment::PaymentStatus,
    state::{Claim, Sandbox, State},
};

pub struct ConfirmInput {
    pub payment_key: String,
    pub order_id: String,
    pub amount: Amount,
    pub idempotency_key: Option<String>,
    pub test_code: Option<String>,
}

/// How a confirm ends.
struct Outcome {
    reply: TossResponse,
    /// Stored for the Idempotency-Key: replies that state the payment's final outcome
    /// (charged, declined). Errors that left the payment untouched are not stored, so a
    /// retry with the same key is evaluated afresh — what makes a transient error transient.
    keep: bool,
    /// Held this long before answering (an injected timeout), after the outcome is recorded.
    delay: Option<Duration>,
}

fn answer(reply: TossResponse) -> Outcome {
    Outcome {
        reply,
        keep: false,
        delay: None,
    }
}

/// Owns a claimed Idempotency-Key until the outcome is stored; if the request future is
/// dropped first (the client hung up during the latency sleep), the key is freed, never left
/// "in flight" forever.
struct KeyClaim {
    sandbox: Arc<Sandbox>,
    key: Option<String>,
}

impl KeyClaim {
    fn settle(&mut self, reply: Option<TossResponse>) {
        if let Some(key) = self.key.take() {
            self.sandbox.lock().settle(&key, reply);
        }
    }
}

impl Drop for KeyClaim {
    fn drop(&mut self) {
        self.settle(None);
    }
}

pub async fn confirm(sandbox: &Arc<Sandbox>, input: ConfirmInput) -> TossResponse {
    sandbox.lock().count_confirm(&input.order_id);
    let mut claim = KeyClaim {
        sandbox: sandbox.clone(),
        key: None,
    };
    if let Some(key) = &input.idempotency_key {
        let claimed = sandbox.lock().claim(key);
        match claimed {
            Claim::Replay(reply) => return reply,
            Claim::Busy => {
                return TossResponse::error(codes::get(codes::IDEMPOTENT_REQUEST_PROCESSING))
            }
            Claim::Claimed => claim.key = Some(key.clone()),
        }
    }
    let latency = sandbox.lock().faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let outcome = decide(&mut sandbox.lock(), &input);
    // Recorded before any injected delay: a client that times out and retries with the same
    // key gets the recorded outcome, and nothing depends on this future running to the end.
    claim.settle(outcome.keep.then(|| outcome.reply.clone()));
    if let Some(delay) = outcome.delay {
        tokio::time::sleep(delay).await;
    }
    outcome.reply
}

fn decide(state: &mut State, input: &ConfirmInput) -> Outcome {
    if let Some(name) = &input.test_code {
        return match codes::find(name.trim()) {
            Some(code) => inject(state, &input.payment_key, code),
            None => answer(TossResponse::code(
                codes::INVALID_REQUEST,
                format!("알 수 없는 TossPayments-Test-Code 입니다: {name}"),
            )),
        };
    }
    let Some(payment) = state.payment(&input.payment_key) else {
        return answer(TossResponse::error(codes::get(codes::NOT_FOUND_PAYMENT)));
    };
    if payment.order_id != input.order_id {
        return answer(TossResponse::code(
            codes::INVALID_REQUEST,
            "주문번호(orderId)가 결제 정보와 일치하지 않습니다.",
        ));
    }
    if payment.amount != input.amount {
        return answer(TossResponse::code(
            codes::INVALID_REQUEST,
            format!(
                "결제 금액이 일치하지 않습니다. (승인 금액 {}, 요청 금액 {})",
                payment.amount, input.amount
            ),
        ));
    }
    match (&payment.status, &payment.failure) {
        (PaymentStatus::Done, _) => {
            return answer(TossResponse::error(codes::get(
                codes::ALREADY_PROCESSED_PAYMENT,
            )))
        }
        // The decline stands: confirming again answers it again.
        (PaymentStatus::Aborted, Some(failure)) => {
            return Outcome {
                reply: TossResponse::error_with(codes::get(&failure.code), &failure.message),
                keep: true,
                delay: None,
            }
        }
        (PaymentStatus::Aborted, None) | (PaymentStatus::Ready, _) => {}
    }
    match state.faults.sample(&input.order_id) {
        Plan::Pass => charge(state, &input.payment_key),
        Plan::Error(code) => inject(state, &input.payment_key, code),
        Plan::Timeout {
            delay,
            approve: true,
        } => Outcome {
            delay: Some(delay),
            ..charge(state, &input.payment_key)
        },
        Plan::Timeout {
            delay,
            approve: false,
        } => Outcome {
            reply: TossResponse::code(
                codes::FAILED_INTERNAL_SYSTEM_PROCESSING,
                "내부 시스템 처리 작업이 실패했습니다. (sandbox: injected timeout; not charged)",
            ),
            keep: false,
            delay: Some(delay),
        },
    }
}

fn charge(state: &mut State, payment_key: &str) -> Outcome {
    match state.charge(payment_key) {
        Some(record) => Outcome {
            reply: TossResponse::payment(record.to_payment()),
            keep: true,
            delay: None,
        },
        None => answer(TossResponse::error(codes::get(codes::NOT_FOUND_PAYMENT))),
    }
}

/// Answers an injected error; a decline also aborts the payment if it was READY.
fn inject(state: &mut State, payment_key: &str, code: &'static TossCode) -> Outcome {
    let reply = TossResponse::error(code);
    let aborted = code.kind == Kind::Decline
        && state.abort(
            payment_key,
            TossError {
                code: code.code.to_string(),
                message: code.message.to_string(),
            },
        );
    Outcome {
        reply,
        keep: aborted,
        delay: None,
    }
}
