//! Why a confirm, or a recorded outcome of one, failed; the API maps each to its problem
//! (api.rs).

use rust_decimal::Decimal;

use crate::cancels::CancelError;

#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    #[error("no order {0}")]
    NotFound(String),
    #[error("amount {got} does not match the order total {expected}")]
    AmountMismatch { expected: Decimal, got: Decimal },
    #[error("the order is already confirmed with another paymentKey")]
    PaymentKeyMismatch,
    #[error("this paymentKey belongs to another order")]
    PaymentKeyInUse,
    #[error("a confirmation of this order is in progress")]
    InProgress,
    #[error("the payment of this order has failed ({0}); start a new checkout")]
    AlreadyFailed(String),
    #[error("database error")]
    Db(#[from] sqlx::Error),
    #[error("id generator error")]
    Ids(#[from] snowflake::SnowflakeError),
    /// Recording, with an accepted charge, the refund the PSP had made of it already.
    #[error("recording the PSP's refund of the charge failed")]
    RefundImport(#[source] Box<CancelError>),
}

impl ConfirmError {
    /// A cancel's error met while confirming: a database or id error stays one (so a busy
    /// database is still a 503), anything else keeps its cause under [`Self::RefundImport`].
    pub fn refund_import(e: CancelError) -> Self {
        match e {
            CancelError::Confirm(e) => e,
            other => Self::RefundImport(Box::new(other)),
        }
    }
}
