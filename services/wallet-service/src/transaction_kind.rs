//! What a `wallet_transactions` row is, stored in its `type` column as text
//! (`wallet_transactions_type_check`, last set in
//! migrations/wallet-service/20261220000001_payouts.sql, lists the same values). A value the
//! enum does not know fails the row's decoding; the API answers it as a string enum.

service_kit::state_enum! {
    /// What a wallet row is (a credit, a debit, a reversal or a payout's return).
    pub enum TransactionKind {
        /// A paid line credited (settlement).
        Credit = "CREDIT",
        /// A payout taken from the balance.
        Debit = "DEBIT",
        /// A cancelled line's credit taken back.
        Reversal = "REVERSAL",
        /// A failed payout's money back on the balance.
        PayoutReturn = "PAYOUT_RETURN",
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
