//! The kinds of ledger accounts and entries, stored as text (`ledger_accounts_kind_check` and
//! `ledger_entries_kind_check` in migrations/wallet-service/20261215000001_ledger.sql list the
//! same values). A value the enum does not know fails the row's decoding instead of being
//! skipped, and the API answers them as string enums, so the OpenAPI spec lists the values
//! (the types' doc comments are the schemas' descriptions there).
//! Neither has a state machine: an account keeps its kind, an entry is written once.

use std::fmt;

/// An account's kind (docs/ledger.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type, poem_openapi::Enum)]
#[sqlx(type_name = "text", rename_all = "SCREAMING_SNAKE_CASE")]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccountKind {
    /// Money the PSP holds for us (gross of sales, less refunds); the platform's, debit-normal.
    PspClearing,
    /// Commission earned; the platform's.
    PlatformFees,
    /// Owed to the seller, still on hold.
    SellerPending,
    /// Owed to the seller and free to pay out.
    SellerAvailable,
    /// Paid out, the PSP not done yet.
    PayoutsInTransit,
    /// Paid out (the contra account of PSP_CLEARING).
    SellerPaidOut,
}

impl AccountKind {
    /// Every kind, in the order the trial balance lists them (and a seller's accounts are
    /// created in: ids ascend in this order).
    pub const ALL: [Self; 6] = [
        Self::PspClearing,
        Self::PlatformFees,
        Self::SellerPending,
        Self::SellerAvailable,
        Self::PayoutsInTransit,
        Self::SellerPaidOut,
    ];

    /// A seller's own accounts, in creation order.
    pub const SELLER: [Self; 4] = [
        Self::SellerPending,
        Self::SellerAvailable,
        Self::PayoutsInTransit,
        Self::SellerPaidOut,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PspClearing => "PSP_CLEARING",
            Self::PlatformFees => "PLATFORM_FEES",
            Self::SellerPending => "SELLER_PENDING",
            Self::SellerAvailable => "SELLER_AVAILABLE",
            Self::PayoutsInTransit => "PAYOUTS_IN_TRANSIT",
            Self::SellerPaidOut => "SELLER_PAID_OUT",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Debit-normal (`ledger_normal_sign` in the migration): only PSP_CLEARING.
    pub fn is_debit_normal(self) -> bool {
        self == Self::PspClearing
    }
}

impl fmt::Display for AccountKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// Posted by src/ledger/sales.rs, reversals.rs, payouts.rs and src/release.rs.
/// An entry's kind: what happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type, poem_openapi::Enum)]
#[sqlx(type_name = "text", rename_all = "SCREAMING_SNAKE_CASE")]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EntryKind {
    Sale,
    Reversal,
    Release,
    Payout,
    PayoutCompleted,
    PayoutFailed,
    /// A wallet's balance from before the ledger (written by the migration).
    Opening,
}

impl EntryKind {
    pub const ALL: [Self; 7] = [
        Self::Sale,
        Self::Reversal,
        Self::Release,
        Self::Payout,
        Self::PayoutCompleted,
        Self::PayoutFailed,
        Self::Opening,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sale => "SALE",
            Self::Reversal => "REVERSAL",
            Self::Release => "RELEASE",
            Self::Payout => "PAYOUT",
            Self::PayoutCompleted => "PAYOUT_COMPLETED",
            Self::PayoutFailed => "PAYOUT_FAILED",
            Self::Opening => "OPENING",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in AccountKind::ALL {
            assert_eq!(AccountKind::parse(k.as_str()), Some(k));
        }
        for k in EntryKind::ALL {
            assert_eq!(EntryKind::parse(k.as_str()), Some(k));
        }
    }
}
