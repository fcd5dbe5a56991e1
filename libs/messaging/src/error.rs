//! The errors of this crate. [`HandlerError`] is the one handlers return; its two variants
//! are the whole retry policy a handler has to decide on.

use std::{fmt, sync::Arc};

/// The cause under a [`HandlerError::Retry`]; shared, so the error stays `Clone`.
pub type Cause = Arc<dyn std::error::Error + Send + Sync>;

/// What a handler tells the consumer about a message it could not process.
#[derive(Debug, Clone)]
pub enum HandlerError {
    /// Transient (database down, optimistic-lock conflict, a lagging saga step): the message
    /// is NAKed with the delay for its delivery count and dead-lettered after `max_deliver`.
    /// `source` is the error behind it, logged with its whole chain by the consumer.
    Retry {
        reason: String,
        source: Option<Cause>,
    },
    /// Can never succeed (undecodable payload, unknown version): terminated at once and
    /// dead-lettered as TERMINATED.
    Reject(String),
}

impl HandlerError {
    pub fn retry(reason: impl fmt::Display) -> Self {
        Self::Retry {
            reason: reason.to_string(),
            source: None,
        }
    }

    /// A retry because of `source`, `context` saying what was being done.
    pub fn retry_because(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Retry {
            reason: context.into(),
            source: Some(Arc::new(source)),
        }
    }

    pub fn reject(reason: impl fmt::Display) -> Self {
        Self::Reject(reason.to_string())
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Retry { reason, .. } => write!(f, "retryable: {reason}"),
            Self::Reject(reason) => write!(f, "rejected: {reason}"),
        }
    }
}

impl std::error::Error for HandlerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Retry {
                source: Some(source),
                ..
            } => Some(source.as_ref()),
            _ => None,
        }
    }
}

/// Two errors are the same decision for the same reason; the causes (opaque errors) are not
/// compared.
impl PartialEq for HandlerError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Retry { reason: a, .. }, Self::Retry { reason: b, .. }) => a == b,
            (Self::Reject(a), Self::Reject(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for HandlerError {}

/// The same bytes fail the same way every time: retrying a decode failure is pointless.
impl From<events::DecodeError> for HandlerError {
    fn from(err: events::DecodeError) -> Self {
        Self::Reject(err.to_string())
    }
}

/// Database failures are treated as transient; a handler that knows better (a constraint
/// that can never be satisfied) maps the error to [`HandlerError::Reject`] itself.
impl From<sqlx::Error> for HandlerError {
    fn from(err: sqlx::Error) -> Self {
        Self::retry_because("database", err)
    }
}

/// A stream could not be created or updated.
#[derive(Debug, thiserror::Error)]
#[error("provisioning stream {stream}: {source}")]
pub struct ProvisionError {
    pub stream: String,
    #[source]
    pub source: async_nats::jetstream::context::CreateStreamError,
}

/// A consumer could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error("invalid consumer spec for {durable}: {reason}")]
    InvalidSpec { durable: String, reason: String },
    #[error("creating consumer {durable} on stream {stream}: {source}")]
    Create {
        durable: String,
        stream: String,
        #[source]
        source: async_nats::jetstream::stream::ConsumerError,
    },
    #[error("dead-letter worker: {0}")]
    Database(#[from] sqlx::Error),
}

#[cfg(test)]
mod tests {
    use super::HandlerError;

    #[test]
    fn a_retry_keeps_its_database_cause() {
        let err = HandlerError::from(sqlx::Error::PoolTimedOut);
        assert_eq!(err, HandlerError::retry("database"));
        let chain = service_kit::error_chain(&err);
        assert!(
            chain.starts_with("retryable: database: pool timed out"),
            "{chain}"
        );
    }
}
