//! The length rule every stored `Idempotency-Key` follows (1–255 characters), checked by the
//! handlers that keep one (catalog's product creates, seller registrations; order-service and
//! the wallet have had their own since their keys were added). Not in the middleware: a key is
//! judged after the caller is (401 first), and the PSP sandbox takes Toss's 300.
//!
//! An empty key would be one key every client that sends it shares (in seller-service a way to
//! be answered another client's seller); one of kilobytes would not fit a unique index (a 500).

use crate::ApiError;

/// The longest key the services store.
pub const MAX_KEY_CHARS: usize = 255;

/// `key` when it is absent or 1–255 characters; else 400 `INVALID_IDEMPOTENCY_KEY`.
pub fn checked_key(key: Option<&str>) -> Result<Option<&str>, ApiError> {
    match key {
        Some(k) if k.is_empty() || k.chars().count() > MAX_KEY_CHARS => Err(ApiError::bad_request(
            "INVALID_IDEMPOTENCY_KEY",
            "Idempotency-Key must be 1-255 characters",
        )),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::checked_key;

    #[test]
    fn keys_of_one_to_255_characters_pass() {
        assert_eq!(checked_key(None).ok(), Some(None));
        assert_eq!(checked_key(Some("k")).ok(), Some(Some("k")));
        let longest = "k".repeat(255);
        assert!(checked_key(Some(&longest)).is_ok());
        assert!(checked_key(Some("")).is_err(), "empty");
        assert!(
            checked_key(Some(&"k".repeat(256))).is_err(),
            "256 characters"
        );
    }
}
