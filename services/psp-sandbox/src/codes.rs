//! The Toss error codes the sandbox can answer, with the HTTP status and Korean message Toss
//! documents for them (docs.tosspayments.com/reference/error-codes, "결제 승인" and "결제 취소").
//! One table, so
//! the `TossPayments-Test-Code` header, the fault settings and the handlers all agree.

/// What an error means for the payment it was answered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The card network refused: the payment is ABORTED and stays so; retrying cannot help.
    Decline,
    /// A failure on the PSP side: the payment is untouched and the same request may succeed.
    Transient,
    /// The request itself is wrong (key, ids, state): nothing happened to the payment.
    Request,
}

#[derive(Debug, Clone, Copy)]
pub struct TossCode {
    pub code: &'static str,
    pub status: u16,
    pub message: &'static str,
    pub kind: Kind,
}

const fn c(code: &'static str, status: u16, kind: Kind, message: &'static str) -> TossCode {
    TossCode {
        code,
        status,
        message,
        kind,
    }
}

use Kind::{Decline, Request, Transient};

pub const INVALID_REQUEST: &str = "INVALID_REQUEST";
pub const UNAUTHORIZED_KEY: &str = "UNAUTHORIZED_KEY";
pub const NOT_FOUND_PAYMENT: &str = "NOT_FOUND_PAYMENT";
pub const ALREADY_PROCESSED_PAYMENT: &str = "ALREADY_PROCESSED_PAYMENT";
pub const IDEMPOTENT_REQUEST_PROCESSING: &str = "IDEMPOTENT_REQUEST_PROCESSING";
pub const FAILED_INTERNAL_SYSTEM_PROCESSING: &str = "FAILED_INTERNAL_SYSTEM_PROCESSING";
pub const PROVIDER_ERROR: &str = "PROVIDER_ERROR";
pub const NOT_CANCELABLE_PAYMENT: &str = "NOT_CANCELABLE_PAYMENT";
pub const ALREADY_CANCELED_PAYMENT: &str = "ALREADY_CANCELED_PAYMENT";
pub const NOT_CANCELABLE_AMOUNT: &str = "NOT_CANCELABLE_AMOUNT";
pub const NOT_FOUND_PAYOUT: &str = "NOT_FOUND_PAYOUT";

/// Statuses are Toss's, not guesses: e.g. PROVIDER_ERROR, INVALID_STOPPED_CARD and
/// EXCEED_MAX_DAILY_PAYMENT_COUNT are 400 in Toss's table, the REJECT_* declines 403.
/// One row per code, so the table stays readable as a table.
#[rustfmt::skip]
pub const CODES: &[TossCode] = &[
    // Request problems.
    c(INVALID_REQUEST, 400, Request, "잘못된 요청입니다."),
    c("INVALID_API_KEY", 400, Request, "잘못된 시크릿키 연동 정보 입니다."),
    c(ALREADY_PROCESSED_PAYMENT, 400, Request, "이미 처리된 결제 입니다."),
    c("UNAPPROVED_ORDER_ID", 400, Request, "아직 승인되지 않은 주문번호입니다."),
    c("BELOW_MINIMUM_AMOUNT", 400, Request, "신용카드는 결제금액이 100원 이상, 계좌는 200원이상부터 결제가 가능합니다."),
    c(UNAUTHORIZED_KEY, 401, Request, "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다."),
    c("FORBIDDEN_REQUEST", 403, Request, "허용되지 않은 요청입니다."),
    c(NOT_FOUND_PAYMENT, 404, Request, "존재하지 않는 결제 정보 입니다."),
    c("NOT_FOUND_PAYMENT_SESSION", 404, Request, "결제 시간이 만료되어 결제 진행 데이터가 존재하지 않습니다."),
    c(NOT_FOUND_PAYOUT, 404, Request, "존재하지 않는 지급대행 요청입니다."),
    c(IDEMPOTENT_REQUEST_PROCESSING, 409, Request, "이전 멱등 요청이 처리중입니다."),
    // Cancel refusals: the payment is not in a state (or has no balance) to refund.
    c(ALREADY_CANCELED_PAYMENT, 400, Request, "이미 취소된 결제 입니다."),
    c(NOT_CANCELABLE_PAYMENT, 403, Request, "취소 할 수 없는 결제 입니다."),
    c(NOT_CANCELABLE_AMOUNT, 403, Request, "취소 할 수 없는 금액 입니다."),
    // Transient failures: retry with the same Idempotency-Key.
    c(PROVIDER_ERROR, 400, Transient, "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해주세요."),
    c("CARD_PROCESSING_ERROR", 400, Transient, "카드사에서 오류가 발생했습니다."),
    c("FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING", 500, Transient, "결제가 완료되지 않았어요. 다시 시도해주세요."),
    c(FAILED_INTERNAL_SYSTEM_PROCESSING, 500, Transient, "내부 시스템 처리 작업이 실패했습니다. 잠시 후 다시 시도해주세요."),
    c("UNKNOWN_PAYMENT_ERROR", 500, Transient, "결제에 실패했어요. 같은 문제가 반복된다면 은행이나 카드사로 문의해주세요."),
    // Declines: final for this payment.
    c("REJECT_CARD_PAYMENT", 403, Decline, "한도초과 혹은 잔액부족으로 결제에 실패했습니다."),
    c("REJECT_CARD_COMPANY", 403, Decline, "결제 승인이 거절되었습니다."),
    c("REJECT_ACCOUNT_PAYMENT", 403, Decline, "잔액부족으로 결제에 실패했습니다."),
    c("FDS_ERROR", 403, Decline, "위험거래가 감지되어 결제가 제한됩니다."),
    c("INVALID_PASSWORD", 403, Decline, "결제 비밀번호가 일치하지 않습니다."),
    c("EXCEED_MAX_DAILY_PAYMENT_COUNT", 400, Decline, "하루 결제 가능 횟수를 초과했습니다."),
    c("EXCEED_MAX_PAYMENT_AMOUNT", 400, Decline, "하루 결제 가능 금액을 초과했습니다."),
    c("EXCEED_MAX_AMOUNT", 400, Decline, "거래금액 한도를 초과했습니다."),
    c("INVALID_STOPPED_CARD", 400, Decline, "정지된 카드 입니다."),
    c("INVALID_CARD_EXPIRATION", 400, Decline, "카드 정보를 다시 확인해주세요. (유효기간)"),
    c("INVALID_REJECT_CARD", 400, Decline, "카드 사용이 거절되었습니다. 카드사 문의가 필요합니다."),
    c("INVALID_CARD_LOST_OR_STOLEN", 400, Decline, "분실 혹은 도난 카드입니다."),
];

/// Looks a code up; codes are matched exactly, as Toss spells them.
pub fn find(code: &str) -> Option<&'static TossCode> {
    CODES.iter().find(|c| c.code == code)
}

/// A code the sandbox itself answers; a missing entry is a programming error caught by the
/// unit test below, so falling back to INVALID_REQUEST never happens in practice.
pub fn get(code: &str) -> &'static TossCode {
    find(code).unwrap_or(&CODES[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_named_constants_are_in_the_table() {
        for (i, a) in CODES.iter().enumerate() {
            assert!(
                CODES[i + 1..].iter().all(|b| b.code != a.code),
                "{}",
                a.code
            );
        }
        for name in [
            INVALID_REQUEST,
            UNAUTHORIZED_KEY,
            NOT_FOUND_PAYMENT,
            ALREADY_PROCESSED_PAYMENT,
            IDEMPOTENT_REQUEST_PROCESSING,
            FAILED_INTERNAL_SYSTEM_PROCESSING,
            PROVIDER_ERROR,
            NOT_CANCELABLE_PAYMENT,
            ALREADY_CANCELED_PAYMENT,
            NOT_CANCELABLE_AMOUNT,
            NOT_FOUND_PAYOUT,
        ] {
            assert!(find(name).is_some(), "{name}");
        }
        assert_eq!(CODES[0].code, INVALID_REQUEST);
    }
}
