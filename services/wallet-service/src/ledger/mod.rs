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
pub mod kinds;
pub mod payouts;
pub mod postings;
pub mod reversals;
pub mod sales;

pub use kinds::{AccountKind, EntryKind};

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
