//! The errors of this crate. [`HandlerError`] is the one handlers return; its two variants
//! are the whole retry policy a handler has to decide on.

/// What a handler tells the consumer about a message it could not process.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Transient (database down, optimistic-lock conflict, a lagging saga step): the message
    /// is NAKed with the delay for its delivery count and dead-lettered after `max_deliver`.
    #[error("retryable: {0}")]
    Retry(String),
    /// Can never succeed (undecodable payload, unknown version): terminated at once and
    /// dead-lettered as TERMINATED.
    #[error("rejected: {0}")]
    Reject(String),
}

impl HandlerError {
    pub fn retry(reason: impl std::fmt::Display) -> Self {
        Self::Retry(reason.to_string())
    }

    pub fn reject(reason: impl std::fmt::Display) -> Self {
        Self::Reject(reason.to_string())
    }
}

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
        Self::Retry(format!("database: {err}"))
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
