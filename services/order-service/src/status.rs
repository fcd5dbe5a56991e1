//! The payment state machine (DESIGN §6). Every transition goes through [`PaymentStatus::can_become`],
//! so a SUCCESS can never be overwritten, whatever order confirm and recovery run in.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    NotStarted,
    Executing,
    Success,
    Failure,
    Unknown,
}

impl PaymentStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotStarted => "NOT_STARTED",
            Self::Executing => "EXECUTING",
            Self::Success => "SUCCESS",
            Self::Failure => "FAILURE",
            Self::Unknown => "UNKNOWN",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "NOT_STARTED" => Self::NotStarted,
            "EXECUTING" => Self::Executing,
            "SUCCESS" => Self::Success,
            "FAILURE" => Self::Failure,
            "UNKNOWN" => Self::Unknown,
            _ => return None,
        })
    }

    /// The allowed edges: NOT_STARTED → EXECUTING → SUCCESS | FAILURE | UNKNOWN, UNKNOWN →
    /// EXECUTING (retry) or FAILURE (threshold reached). SUCCESS and FAILURE are final.
    pub fn can_become(self, next: Self) -> bool {
        use PaymentStatus::*;
        matches!(
            (self, next),
            (NotStarted, Executing)
                | (Executing, Success | Failure | Unknown)
                | (Unknown, Executing | Failure)
        )
    }

    /// The statuses from which `next` may be reached; used as the guard of a status update.
    pub fn sources_of(next: Self) -> Vec<&'static str> {
        use PaymentStatus::*;
        [NotStarted, Executing, Success, Failure, Unknown]
            .into_iter()
            .filter(|s| s.can_become(next))
            .map(Self::as_str)
            .collect()
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::PaymentStatus::{self, *};

    #[test]
    fn final_states_never_change() {
        for next in [NotStarted, Executing, Success, Failure, Unknown] {
            assert!(!Success.can_become(next), "SUCCESS -> {next}");
            assert!(!Failure.can_become(next), "FAILURE -> {next}");
        }
    }

    #[test]
    fn the_designed_path_is_allowed() {
        assert!(NotStarted.can_become(Executing));
        assert!(Executing.can_become(Unknown));
        assert!(Unknown.can_become(Executing));
        assert!(Executing.can_become(Success));
        assert!(
            !NotStarted.can_become(Success),
            "no success without executing"
        );
        assert_eq!(
            PaymentStatus::sources_of(Executing),
            ["NOT_STARTED", "UNKNOWN"]
        );
    }

    #[test]
    fn names_round_trip() {
        for s in [NotStarted, Executing, Success, Failure, Unknown] {
            assert_eq!(PaymentStatus::parse(s.as_str()), Some(s));
        }
    }
}
