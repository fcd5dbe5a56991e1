//! The kinds of ledger accounts and entries, stored as text (`ledger_accounts_kind_check` and
//! `ledger_entries_kind_check` in migrations/wallet-service/20261215000001_ledger.sql list the
//! same values). A value the enum does not know fails the row's decoding instead of being
//! skipped, and the API answers them as string enums, so the OpenAPI spec lists the values
//! (the types' doc comments are the schemas' descriptions there).
//! Neither has a state machine: an account keeps its kind, an entry is written once.

service_kit::state_enum! {
    // The declaration order (`ALL`) is the order the trial balance lists the kinds in and a
    // seller's accounts are created in (their ids ascend in this order).
    /// An account's kind (docs/ledger.md).
    pub enum AccountKind {
        /// Money the PSP holds for us (gross of sales, less refunds); the platform's, debit-normal.
        PspClearing = "PSP_CLEARING",
        /// Commission earned; the platform's.
        PlatformFees = "PLATFORM_FEES",
        /// Owed to the seller, still on hold.
        SellerPending = "SELLER_PENDING",
        /// Owed to the seller and free to pay out.
        SellerAvailable = "SELLER_AVAILABLE",
        /// Paid out, the PSP not done yet.
        PayoutsInTransit = "PAYOUTS_IN_TRANSIT",
        /// Paid out (the contra account of PSP_CLEARING).
        SellerPaidOut = "SELLER_PAID_OUT",
    }
}

impl AccountKind {
    /// A seller's own accounts, in creation order.
    pub const SELLER: [Self; 4] = [
        Self::SellerPending,
        Self::SellerAvailable,
        Self::PayoutsInTransit,
        Self::SellerPaidOut,
    ];

    /// Debit-normal (`ledger_normal_sign` in the migration): only PSP_CLEARING.
    pub fn is_debit_normal(self) -> bool {
        self == Self::PspClearing
    }
}

// Posted by src/ledger/sales.rs, reversals.rs, payouts.rs and src/release.rs.
service_kit::state_enum! {
    /// An entry's kind: what happened.
    pub enum EntryKind {
        Sale = "SALE",
        Reversal = "REVERSAL",
        Release = "RELEASE",
        Payout = "PAYOUT",
        PayoutCompleted = "PAYOUT_COMPLETED",
        PayoutFailed = "PAYOUT_FAILED",
        /// A wallet's balance from before the ledger (written by the migration).
        Opening = "OPENING",
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
