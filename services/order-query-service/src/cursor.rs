//! Page requests: the keyset cursor `(createdDateTime, paymentEventNo)` and the limit.
//!
//! `createdDateTime` is accepted as epoch milliseconds (what the seed documents and what
//! `nextCursor` carries) and as ISO-8601 (with offset, or without one meaning UTC). The read
//! model stores order times at millisecond precision, so an epoch-ms cursor is exact: a
//! finer stored time would make a millisecond cursor skip or repeat orders at a page edge.

use chrono::{DateTime, Datelike, NaiveDateTime, SubsecRound, Utc};
use service_kit::{ApiError, FieldError, Id};

pub const DEFAULT_LIMIT: i64 = 10;
pub const MAX_LIMIT: i64 = 100;

/// Where the next page starts: orders strictly older than this position in
/// `(created_at desc, payment_event_no desc)` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub payment_event_no: i64,
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<Cursor>,
    pub limit: i64,
}

/// An empty parameter (`?paymentEventNo=&createdDateTime=`, as the seed writes the first
/// page) counts as absent.
fn present(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|s| !s.is_empty())
}

fn field(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// Epoch milliseconds, RFC 3339, or an ISO-8601 local date-time taken as UTC; truncated to
/// whole milliseconds like the stored times.
pub fn parse_created(raw: &str) -> Result<DateTime<Utc>, String> {
    let raw = raw.trim();
    let parsed = if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        raw.parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_millis)
    } else {
        // An unencoded `+09:00` in a query string arrives as ` 09:00`.
        DateTime::parse_from_rfc3339(&raw.replace(' ', "+"))
            .map(|t| t.with_timezone(&Utc))
            .ok()
            .or_else(|| {
                NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f")
                    .ok()
                    .map(|t| t.and_utc())
            })
    };
    // Postgres rejects times far outside this range with a server error; the client's
    // mistake should be a 400.
    let in_range = |t: &DateTime<Utc>| (1..=9999).contains(&t.year());
    parsed
        .filter(in_range)
        .map(|t| t.trunc_subsecs(3))
        .ok_or_else(|| {
            format!(
                "expected epoch milliseconds or an ISO-8601 date-time (got {raw:?}), \
             e.g. 1735689600000 or 2025-01-01T00:00:00.000Z"
            )
        })
}

/// Validates the query parameters of a page; every problem is reported at once.
pub fn page_request(
    payment_event_no: Option<&str>,
    created_date_time: Option<&str>,
    limit: Option<&str>,
) -> Result<PageRequest, ApiError> {
    let mut errors = Vec::new();
    let limit = match present(limit).map(str::parse::<i64>) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            errors.push(field("limit", format!("must be an integer 1-{MAX_LIMIT}")));
            DEFAULT_LIMIT
        }
    };
    let after = match (present(payment_event_no), present(created_date_time)) {
        (None, None) => None,
        (Some(no), Some(created)) => {
            let no = no.parse::<Id>();
            let created = parse_created(created);
            if let Err(e) = &no {
                errors.push(field("paymentEventNo", e.clone()));
            }
            if let Err(e) = &created {
                errors.push(field("createdDateTime", e.clone()));
            }
            match (no, created) {
                (Ok(no), Ok(created_at)) => Some(Cursor {
                    created_at,
                    payment_event_no: no.0,
                }),
                _ => None,
            }
        }
        (no, _) => {
            let missing = if no.is_some() {
                "createdDateTime"
            } else {
                "paymentEventNo"
            };
            errors.push(field(
                missing,
                "a cursor is the pair paymentEventNo + createdDateTime (both or neither)",
            ));
            None
        }
    };
    if errors.is_empty() {
        Ok(PageRequest { after, limit })
    } else {
        Err(ApiError::validation(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn created_is_read_as_epoch_ms_and_as_iso() {
        let expected = at("2025-01-01T00:00:00.123Z");
        for raw in [
            "1735689600123",
            "2025-01-01T00:00:00.123Z",
            "2025-01-01T09:00:00.123+09:00",
            "2025-01-01T09:00:00.123 09:00",
            "2025-01-01T00:00:00.123",
            "2025-01-01T00:00:00.123456Z",
        ] {
            assert_eq!(parse_created(raw), Ok(expected), "{raw}");
        }
        for bad in [
            "",
            "yesterday",
            "-5",
            "1e3",
            "2025-13-01T00:00:00Z",
            "99999999999999999",
        ] {
            assert!(parse_created(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_cursor_comes_as_a_pair_and_the_limit_is_bounded() {
        let first = page_request(None, Some(""), None).ok();
        assert_eq!(
            first,
            Some(PageRequest {
                after: None,
                limit: DEFAULT_LIMIT
            })
        );
        let next = page_request(Some("42"), Some("1735689600123"), Some("100")).ok();
        assert_eq!(
            next.and_then(|p| p.after).map(|c| c.payment_event_no),
            Some(42)
        );
        for (no, created, limit) in [
            (Some("42"), None, None),
            (None, Some("1735689600123"), None),
            (Some("x"), Some("1735689600123"), None),
            (None, None, Some("0")),
            (None, None, Some("101")),
            (None, None, Some("ten")),
        ] {
            assert!(
                page_request(no, created, limit).is_err(),
                "{no:?} {created:?} {limit:?}"
            );
        }
    }
}
