//! events: the contracts services exchange over NATS JetStream.
//!
//! [`envelope`] is the JSON envelope and decoding (a decode failure is never retryable),
//! [`topology`] names streams and subjects in one place (with a namespace for tests), and
//! [`payloads`] holds one type per event in docs/architecture.md §4. 64-bit ids are JSON strings ([`ids`]).

pub mod envelope;
pub mod ids;
pub mod payloads;
pub mod topology;

pub use envelope::{decode, decode_header, DecodeError, Envelope, EnvelopeHeader, Event};
pub use ids::{SellerNo, WalletNo};
pub use payloads::*;
pub use topology::{StreamDef, Topology};

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn registered() -> Envelope<SellerRegistered> {
        Envelope::new(SellerRegistered {
            seller_no: 9_007_199_254_740_993,
            seller_id: "A".into(),
        })
    }

    #[test]
    fn round_trips_with_ids_as_strings() {
        let env = registered();
        let json = serde_json::to_string(&env).expect("serializes");
        assert!(json.contains(r#""sellerNo":"9007199254740993""#), "{json}");
        assert!(json.contains(r#""type":"seller.registered""#));
        let back: Envelope<SellerRegistered> = decode(json.as_bytes()).expect("decodes");
        assert_eq!(back, env);
    }

    #[test]
    fn ids_are_accepted_as_numbers() {
        let json = format!(
            r#"{{"eventId":"{}","type":"seller.registered","version":1,"occurredAt":"{}","payload":{{"sellerNo":42,"sellerId":"A"}}}}"#,
            uuid::Uuid::now_v7(),
            Utc::now().to_rfc3339()
        );
        let env: Envelope<SellerRegistered> = decode(json.as_bytes()).expect("decodes");
        assert_eq!(env.payload.seller_no, 42);
    }

    #[test]
    fn garbage_wrong_type_and_unknown_version_are_rejected() {
        assert!(matches!(
            decode::<SellerRegistered>(b"not json"),
            Err(DecodeError::Malformed(_))
        ));
        let mut value = registered().to_json();
        value["version"] = 2.into();
        let bytes = serde_json::to_vec(&value).expect("serializes");
        assert!(matches!(
            decode::<SellerRegistered>(&bytes),
            Err(DecodeError::UnknownVersion { found: 2, .. })
        ));
        let bytes = serde_json::to_vec(&registered()).expect("serializes");
        assert!(matches!(
            decode::<WalletCreated>(&bytes),
            Err(DecodeError::WrongType { .. })
        ));
    }
}
