//! The double-entry ledger (docs/ledger.md): accounts, entries and their postings, and the
//! posting rules of sales, reversals and releases.
//!
//! Amounts are KRW (two decimals like the events; commission is whole won), signed debit > 0 /
//! credit < 0; an entry's postings sum to zero
//! (the database refuses anything else at commit) and account balances follow their postings
//! in the same transaction (a trigger). Every writer holds the seller's wallet row lock before
//! it touches a ledger account, and locks accounts in id order (platform accounts first), so
//! writers of one seller queue on the wallet and cannot deadlock on accounts.

pub mod accounts;
pub mod payouts;
pub mod postings;
pub mod reversals;
pub mod sales;

/// Account kinds, as stored in `ledger_accounts.kind`.
pub mod kind {
    pub const PSP_CLEARING: &str = "PSP_CLEARING";
    pub const PLATFORM_FEES: &str = "PLATFORM_FEES";
    pub const SELLER_PENDING: &str = "SELLER_PENDING";
    pub const SELLER_AVAILABLE: &str = "SELLER_AVAILABLE";
    pub const PAYOUTS_IN_TRANSIT: &str = "PAYOUTS_IN_TRANSIT";
    pub const SELLER_PAID_OUT: &str = "SELLER_PAID_OUT";
    /// Every kind, in the order the trial balance lists them.
    pub const ALL: [&str; 6] = [
        PSP_CLEARING,
        PLATFORM_FEES,
        SELLER_PENDING,
        SELLER_AVAILABLE,
        PAYOUTS_IN_TRANSIT,
        SELLER_PAID_OUT,
    ];
}

/// Why a ledger write failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// The event asks for something the ledger cannot post (never true of a valid producer):
    /// an amount that is not positive or has more than two decimals, or a refund above what is
    /// left of a line.
    #[error("{0}")]
    Invalid(String),
}

/// A positive amount with at most two decimals (the columns' scale: more would be rounded
/// silently), or the reason it is not.
pub fn valid_amount(amount: rust_decimal::Decimal, what: &str) -> Result<(), LedgerError> {
    if amount > rust_decimal::Decimal::ZERO && amount.normalize().scale() <= 2 {
        Ok(())
    } else {
        Err(LedgerError::Invalid(format!(
            "{what}: {amount} is not a positive amount with at most two decimals"
        )))
    }
}
