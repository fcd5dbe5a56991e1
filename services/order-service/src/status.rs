//! The payment state machine (docs/payments.md). Every transition goes through
//! [`PaymentStatus::can_become`], so a final state can never be overwritten, whatever order
//! confirm, cancel and recovery run in.

service_kit::state_enum! {
    /// A line's status, stored as text (`payment_orders_status_check` lists the same values); a
    /// value the enum does not know fails the row's decoding instead of being skipped. The API
    /// answers it as a string enum, so the OpenAPI specs list the values.
    pub enum PaymentStatus {
        NotStarted = "NOT_STARTED",
        Executing = "EXECUTING",
        Success = "SUCCESS",
        Failure = "FAILURE",
        Unknown = "UNKNOWN",
        PartialCanceled = "PARTIAL_CANCELED",
        Canceled = "CANCELED",
    }
}

impl PaymentStatus {
    /// The allowed edges:
    /// - NOT_STARTED → EXECUTING (an attempt at the PSP starts);
    /// - EXECUTING → SUCCESS | FAILURE | UNKNOWN, or back to NOT_STARTED when the PSP refused
    ///   the attempt itself (wrong key, our credentials): no money moved and the order stays
    ///   confirmable;
    /// - UNKNOWN → EXECUTING only: an unknown outcome is re-driven, never given up by counting;
    /// - SUCCESS → PARTIAL_CANCELED | CANCELED, PARTIAL_CANCELED → PARTIAL_CANCELED | CANCELED
    ///   (refunds; a line's refunded amount only grows).
    ///
    /// FAILURE and CANCELED are final.
    pub fn can_become(self, next: Self) -> bool {
        use PaymentStatus::*;
        matches!(
            (self, next),
            (NotStarted, Executing)
                | (Executing, Success | Failure | Unknown | NotStarted)
                | (Unknown, Executing)
                | (Success | PartialCanceled, PartialCanceled | Canceled)
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

    /// A paid order (possibly refunded in part or in full).
    pub fn is_paid(self) -> bool {
        matches!(self, Self::Success | Self::PartialCanceled | Self::Canceled)
    }
}

service_kit::state_enum! {
    /// A cancel's status (`payment_cancels_status_check`).
    pub enum CancelStatus {
        /// Our call to the PSP is in flight.
        Requested = "REQUESTED",
        /// The PSP did not answer; the recovery job repeats the call with the same key.
        Unknown = "UNKNOWN",
        /// The PSP refunded it.
        Done = "DONE",
        /// The PSP refused it; nothing was refunded.
        Rejected = "REJECTED",
    }
}

#[cfg(test)]
mod tests {
    use super::PaymentStatus::{self, *};

    #[test]
    fn final_states_never_change() {
        for next in PaymentStatus::ALL {
            assert!(!Failure.can_become(next), "FAILURE -> {next}");
            assert!(!Canceled.can_become(next), "CANCELED -> {next}");
        }
        for next in [NotStarted, Executing, Success, Failure, Unknown] {
            assert!(!Success.can_become(next), "SUCCESS -> {next}");
        }
    }

    #[test]
    fn unknown_never_becomes_failure_by_counting() {
        assert!(!Unknown.can_become(Failure));
        assert_eq!(PaymentStatus::sources_of(Failure), ["EXECUTING"]);
    }

    #[test]
    fn the_designed_path_is_allowed() {
        assert!(NotStarted.can_become(Executing));
        assert!(Executing.can_become(Unknown));
        assert!(Executing.can_become(NotStarted), "a rejected attempt");
        assert!(Unknown.can_become(Executing));
        assert!(Executing.can_become(Success));
        assert!(Success.can_become(PartialCanceled));
        assert!(PartialCanceled.can_become(Canceled));
        assert!(
            !NotStarted.can_become(Success),
            "no success without executing"
        );
        assert!(!Unknown.can_become(Canceled), "only a paid order refunds");
        assert_eq!(
            PaymentStatus::sources_of(Executing),
            ["NOT_STARTED", "UNKNOWN"]
        );
    }

    #[test]
    fn names_round_trip() {
        for s in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::parse(s.as_str()), Some(s));
        }
    }
}
