//! What a `wallet_transactions` row is, stored in its `type` column as text
//! (`wallet_transactions_type_check`, last set in
//! migrations/wallet-service/20261220000001_payouts.sql, lists the same values). A value the
//! enum does not know fails the row's decoding; the API answers it as a string enum.

use std::fmt;

/// What a wallet row is (a credit, a debit, a reversal or a payout's return).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type, poem_openapi::Enum)]
#[sqlx(type_name = "text", rename_all = "SCREAMING_SNAKE_CASE")]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TransactionKind {
    /// A paid line credited (settlement).
    Credit,
    /// A payout taken from the balance.
    Debit,
    /// A cancelled line's credit taken back.
    Reversal,
    /// A failed payout's money back on the balance.
    PayoutReturn,
}

impl TransactionKind {
    pub const ALL: [Self; 4] = [
        Self::Credit,
        Self::Debit,
        Self::Reversal,
        Self::PayoutReturn,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Credit => "CREDIT",
            Self::Debit => "DEBIT",
            Self::Reversal => "REVERSAL",
            Self::PayoutReturn => "PAYOUT_RETURN",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for TransactionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::TransactionKind;

    #[test]
    fn names_round_trip() {
        for k in TransactionKind::ALL {
            assert_eq!(TransactionKind::parse(k.as_str()), Some(k));
        }
    }
}
