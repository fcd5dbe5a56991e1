//! The admin bearer token (`ADMIN_TOKEN`) that guards `/admin/*` operations, checked once here.

use poem_openapi::{auth::Bearer, SecurityScheme};

use crate::ApiError;

/// The admin token (`ADMIN_TOKEN`) as a bearer token.
#[derive(SecurityScheme)]
#[oai(ty = "bearer")]
pub struct AdminBearer(pub Bearer);

/// A missing token falls through to the operation, which answers 401 as problem+json (the
/// extractor's own error would be turned into a 400 by the shared bad-request handler).
#[derive(SecurityScheme)]
pub enum AdminAuth {
    Bearer(AdminBearer),
    #[oai(fallback)]
    Missing,
}

/// 401 unless `auth` carries `expected`; with no token configured, admin endpoints are off.
pub fn authorize(expected: Option<&str>, auth: &AdminAuth) -> Result<(), ApiError> {
    let Some(expected) = expected.filter(|t| !t.is_empty()) else {
        return Err(ApiError::unauthorized(
            "admin endpoints are disabled: no admin token is configured",
        ));
    };
    match auth {
        AdminAuth::Bearer(AdminBearer(given))
            if constant_time_eq(given.token.as_bytes(), expected.as_bytes()) =>
        {
            Ok(())
        }
        _ => Err(ApiError::unauthorized("missing or wrong admin token")),
    }
}

/// Compares without leaking, through timing, how much of the token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }

    #[test]
    fn no_configured_token_refuses_everyone() {
        assert!(authorize(None, &AdminAuth::Missing).is_err());
        assert!(authorize(Some(""), &AdminAuth::Missing).is_err());
        assert!(authorize(Some("t"), &AdminAuth::Missing).is_err());
    }
}
