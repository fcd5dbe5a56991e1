//! The `payout.changed` webhook signature (Toss 지급대행): `tosspayments-webhook-signature:
//! v1:<base64 HMAC-SHA256(key, "{raw body}:{tosspayments-webhook-transmission-time}")>`, one
//! value or two comma-separated while the key is rotated.

use base64::{engine::general_purpose::STANDARD, Engine};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a transmission time may be from now; older is a replay.
pub const MAX_AGE: Duration = Duration::minutes(5);

fn mac(secret: &str, body: &[u8], transmission_time: &str) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(body);
    mac.update(b":");
    mac.update(transmission_time.as_bytes());
    Some(mac)
}

/// `v1:<base64>` for the body and time (for tests and tools).
pub fn sign(secret: &str, body: &[u8], transmission_time: &str) -> String {
    mac(secret, body, transmission_time)
        .map(|m| format!("v1:{}", STANDARD.encode(m.finalize().into_bytes())))
        .unwrap_or_default()
}

/// Whether any `v1:` value of the header matches under any of `secrets` (compared in constant
/// time). `secrets` is `PSP_WEBHOOK_SECRET` as configured: one key, or the new and the old
/// comma-separated while the key is rotated. Until stop 21 the whole list was used as one
/// key, so a rotation refused every signed webhook.
pub fn verify(secrets: &str, body: &[u8], transmission_time: &str, header: &str) -> bool {
    let signatures: Vec<Vec<u8>> = header
        .split(',')
        .filter_map(|v| v.trim().strip_prefix("v1:"))
        .filter_map(|sig| STANDARD.decode(sig).ok())
        .collect();
    secrets
        .split(',')
        .map(str::trim)
        .filter(|secret| !secret.is_empty())
        .any(|secret| {
            signatures.iter().any(|sig| {
                mac(secret, body, transmission_time).is_some_and(|m| m.verify_slice(sig).is_ok())
            })
        })
}

/// The transmission time, if it is a date-time within [`MAX_AGE`] of `now` (either side).
pub fn fresh(transmission_time: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let t = DateTime::parse_from_rfc3339(transmission_time.trim())
        .map_err(|_| format!("transmission time {transmission_time:?} is not an RFC 3339 time"))?
        .with_timezone(&Utc);
    if (now - t).abs() > MAX_AGE {
        return Err(format!(
            "transmission time {transmission_time} is more than 5 minutes off"
        ));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let body = br#"{"eventType":"payout.changed"}"#;
        let t = "2024-09-05T12:19:21+09:00";
        let good = sign("k", body, t);
        assert!(verify("k", body, t, &good));
        assert!(verify("k", body, t, &format!("v1:AAAA, {good}")));
        assert!(!verify("other", body, t, &good));
        assert!(!verify("k", b"{}", t, &good));
        assert!(!verify("k", body, "2024-09-05T12:19:22+09:00", &good));
        assert!(!verify("k", body, t, ""));
        assert!(!verify("k", body, t, good.trim_start_matches("v1:")));
    }

    #[test]
    fn while_rotating_either_key_verifies() {
        let body = br#"{"eventType":"payout.changed"}"#;
        let t = "2024-09-05T12:19:21+09:00";
        for key in ["new", "old"] {
            assert!(verify("new, old", body, t, &sign(key, body, t)), "{key}");
        }
        assert!(!verify("new, old", body, t, &sign("new, old", body, t)));
        assert!(!verify("new,old", body, t, &sign("other", body, t)));
        assert!(!verify(",", body, t, &sign("", body, t)), "no empty key");
    }

    #[test]
    fn freshness() {
        let now = DateTime::parse_from_rfc3339("2024-09-05T03:19:21Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        assert!(fresh("2024-09-05T12:19:21+09:00", now).is_ok());
        assert!(fresh("2024-09-05T12:13:00+09:00", now).is_err());
        assert!(fresh("2024-09-05T12:30:00+09:00", now).is_err());
        assert!(fresh("yesterday", now).is_err());
    }
}
