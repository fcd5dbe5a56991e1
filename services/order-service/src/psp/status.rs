//! The PSP's payment status (Toss' `Payment.status`), typed so a match on it is checked by
//! the compiler instead of comparing strings.

use std::fmt;

use serde::Deserialize;

/// Toss' `Payment.status`. A value Toss adds later is kept as [`PspPaymentStatus::Other`],
/// never dropped or refused: the attempt records it as an unknown outcome
/// (`PSP_STATUS_<value>`, attempt/mod.rs) and recovery looks the payment up again.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum PspPaymentStatus {
    Ready,
    InProgress,
    WaitingForDeposit,
    Done,
    Canceled,
    PartialCanceled,
    Aborted,
    Expired,
    Other(String),
}

const KNOWN: [PspPaymentStatus; 8] = [
    PspPaymentStatus::Ready,
    PspPaymentStatus::InProgress,
    PspPaymentStatus::WaitingForDeposit,
    PspPaymentStatus::Done,
    PspPaymentStatus::Canceled,
    PspPaymentStatus::PartialCanceled,
    PspPaymentStatus::Aborted,
    PspPaymentStatus::Expired,
];

impl From<&str> for PspPaymentStatus {
    fn from(s: &str) -> Self {
        KNOWN
            .into_iter()
            .find(|k| k.as_str() == s)
            .unwrap_or_else(|| Self::Other(s.to_string()))
    }
}

impl From<String> for PspPaymentStatus {
    fn from(s: String) -> Self {
        s.as_str().into()
    }
}

impl PspPaymentStatus {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Ready => "READY",
            Self::InProgress => "IN_PROGRESS",
            Self::WaitingForDeposit => "WAITING_FOR_DEPOSIT",
            Self::Done => "DONE",
            Self::Canceled => "CANCELED",
            Self::PartialCanceled => "PARTIAL_CANCELED",
            Self::Aborted => "ABORTED",
            Self::Expired => "EXPIRED",
            Self::Other(other) => other,
        }
    }

    /// The customer was charged (and may have been refunded since).
    pub fn was_charged(&self) -> bool {
        matches!(self, Self::Done | Self::Canceled | Self::PartialCanceled)
    }
}

impl fmt::Display for PspPaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::PspPaymentStatus::{self, *};

    fn parse(s: &str) -> PspPaymentStatus {
        serde_json::from_value(serde_json::Value::String(s.into())).expect("a status decodes")
    }

    #[test]
    fn known_values_decode_and_print_as_sent() {
        for s in super::KNOWN {
            assert_eq!(parse(s.as_str()), s);
        }
        assert_eq!(parse("PARTIAL_CANCELED"), PartialCanceled);
    }

    #[test]
    fn an_unknown_value_is_kept_not_dropped() {
        let status = parse("HELD_FOR_REVIEW");
        assert_eq!(status, Other("HELD_FOR_REVIEW".into()));
        assert_eq!(status.to_string(), "HELD_FOR_REVIEW");
        assert!(!status.was_charged());
    }
}
