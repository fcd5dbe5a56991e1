//! The payout state machine (src/payouts/mod.rs tells the story). Every status change goes
//! through [`PayoutStatus::can_become`] (the guard of [`super::store::transition`]), so a
//! COMPLETED or FAILED payout never moves again, whichever of the API's call, the webhook and
//! the recovery job's lookup comes last.

// Stored as text (`payouts_status_check` in migrations/wallet-service/20261220000001_payouts.sql
// lists the same values): a value the enum does not know fails the row's decoding instead of
// being skipped. The API answers it as a string enum, so the OpenAPI spec lists the values (the
// doc comment below is the schema's description there).
service_kit::state_enum! {
    /// A payout's status: REQUESTED, then SENT or UNKNOWN while the PSP pays, then COMPLETED or
    /// FAILED (final).
    pub enum PayoutStatus {
        /// Committed, the PSP not asked yet (or the process died before it asked).
        Requested = "REQUESTED",
        /// The PSP has it.
        Sent = "SENT",
        /// The PSP did not answer (timeout, 5xx): looked up again with the same key.
        Unknown = "UNKNOWN",
        /// Paid out.
        Completed = "COMPLETED",
        /// Refused by the PSP; the money is available again.
        Failed = "FAILED",
    }
}

impl PayoutStatus {
    /// The allowed edges:
    /// - REQUESTED → UNKNOWN (no answer from the PSP);
    /// - REQUESTED | UNKNOWN → SENT (the PSP has it and is paying);
    /// - REQUESTED | SENT | UNKNOWN → COMPLETED | FAILED (what the PSP, its webhook or a
    ///   lookup says).
    ///
    /// COMPLETED and FAILED are final.
    pub fn can_become(self, next: Self) -> bool {
        use PayoutStatus::*;
        matches!(
            (self, next),
            (Requested, Unknown)
                | (Requested | Unknown, Sent)
                | (Requested | Sent | Unknown, Completed | Failed)
        )
    }

    /// The statuses from which `next` may be reached; used as the guard of a status update.
    pub fn sources_of(next: Self) -> Vec<&'static str> {
        Self::ALL
            .into_iter()
            .filter(|s| s.can_become(next))
            .map(Self::as_str)
            .collect()
    }

    /// A payout that can still move (the recovery job looks at these).
    pub fn is_open(self) -> bool {
        Self::ALL.into_iter().any(|next| self.can_become(next))
    }

    /// The open statuses, as the recovery job's queries bind them.
    pub fn open() -> Vec<&'static str> {
        Self::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .map(Self::as_str)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::PayoutStatus::{self, *};

    #[test]
    fn final_states_never_change() {
        for next in PayoutStatus::ALL {
            assert!(!Completed.can_become(next), "COMPLETED -> {next}");
            assert!(!Failed.can_become(next), "FAILED -> {next}");
        }
        assert_eq!(PayoutStatus::open(), ["REQUESTED", "SENT", "UNKNOWN"]);
    }

    #[test]
    fn the_guards_are_the_ones_the_flow_used() {
        assert_eq!(PayoutStatus::sources_of(Unknown), ["REQUESTED"]);
        assert_eq!(PayoutStatus::sources_of(Sent), ["REQUESTED", "UNKNOWN"]);
        for end in [Completed, Failed] {
            assert_eq!(PayoutStatus::sources_of(end), PayoutStatus::open());
        }
        assert!(PayoutStatus::sources_of(Requested).is_empty());
    }

    #[test]
    fn names_round_trip() {
        for s in PayoutStatus::ALL {
            assert_eq!(PayoutStatus::parse(s.as_str()), Some(s));
        }
    }
}
