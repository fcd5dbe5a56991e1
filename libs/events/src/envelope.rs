//! The envelope every event travels in, and decoding that tells retryable from hopeless.

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use uuid::Uuid;

/// A typed event: its payload type names its wire type, version and subject.
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Wire name, e.g. `order.payment.confirmed` (also the un-namespaced subject).
    const TYPE: &'static str;
    /// Payload schema version; consumers reject versions they do not know.
    const VERSION: u32;
}

/// `{eventId, type, version, occurredAt, payload}` as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<P> {
    pub event_id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    pub version: u32,
    pub occurred_at: DateTime<Utc>,
    pub payload: P,
}

impl<E: Event> Envelope<E> {
    /// A new event with a time-ordered id (UUIDv7), occurring now.
    pub fn new(payload: E) -> Self {
        Self {
            event_id: Uuid::now_v7(),
            event_type: E::TYPE.to_string(),
            version: E::VERSION,
            occurred_at: Utc::now(),
            payload,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        // Serializing plain data structs cannot fail.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// Why a message could not be decoded. Never retryable: the same bytes fail the same way.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("undecodable event: {0}")]
    Malformed(String),
    #[error("unexpected event type {found:?}, expected {expected:?}")]
    WrongType {
        expected: &'static str,
        found: String,
    },
    #[error("unknown version {found} of {event_type} (this build knows {known})")]
    UnknownVersion {
        event_type: &'static str,
        found: u32,
        known: u32,
    },
}

/// Only the header fields, for routing a message before decoding its payload.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvelopeHeader {
    pub event_id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    pub version: u32,
    pub occurred_at: DateTime<Utc>,
}

pub fn decode_header(bytes: &[u8]) -> Result<EnvelopeHeader, DecodeError> {
    serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))
}

/// Decodes an envelope of `E`, checking type and version before the payload.
pub fn decode<E: Event>(bytes: &[u8]) -> Result<Envelope<E>, DecodeError> {
    let header = decode_header(bytes)?;
    if header.event_type != E::TYPE {
        return Err(DecodeError::WrongType {
            expected: E::TYPE,
            found: header.event_type,
        });
    }
    if header.version != E::VERSION {
        return Err(DecodeError::UnknownVersion {
            event_type: E::TYPE,
            found: header.version,
            known: E::VERSION,
        });
    }
    serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))
}
