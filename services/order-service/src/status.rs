//! The payment state machine (docs/payments.md). Every transition goes through
//! [`PaymentStatus::can_become`], so a final state can never be overwritten, whatever order
//! confirm, cancel and recovery run in.

use std::fmt;

/// A line's status, stored as text (`payment_orders_status_check` lists the same values); a
/// value the enum does not know fails the row's decoding instead of being skipped. The API
/// answers it as a string enum, so the OpenAPI specs list the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, poem_openapi::Enum)]
#[sqlx(type_name = "text", rename_all = "SCREAMING_SNAKE_CASE")]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    NotStarted,
    Executing,
    Success,
    Failure,
    Unknown,
    PartialCanceled,
    Canceled,
}

impl PaymentStatus {
    pub const ALL: [Self; 7] = [
        Self::NotStarted,
        Self::Executing,
        Self::Success,
        Self::Failure,
        Self::Unknown,
        Self::PartialCanceled,
        Self::Canceled,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotStarted => "NOT_STARTED",
            Self::Executing => "EXECUTING",
            Self::Success => "SUCCESS",
            Self::Failure => "FAILURE",
            Self::Unknown => "UNKNOWN",
            Self::PartialCanceled => "PARTIAL_CANCELED",
            Self::Canceled => "CANCELED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

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

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A cancel's status (`payment_cancels_status_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, poem_openapi::Enum)]
#[sqlx(type_name = "text", rename_all = "SCREAMING_SNAKE_CASE")]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CancelStatus {
    /// Our call to the PSP is in flight.
    Requested,
    /// The PSP did not answer; the recovery job repeats the call with the same key.
    Unknown,
    /// The PSP refunded it.
    Done,
    /// The PSP refused it; nothing was refunded.
    Rejected,
}

impl CancelStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "REQUESTED",
            Self::Unknown => "UNKNOWN",
            Self::Done => "DONE",
            Self::Rejected => "REJECTED",
        }
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
