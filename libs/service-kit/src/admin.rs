//! What guards `/admin/*` operations, checked once here: the static `ADMIN_TOKEN` in open mode,
//! a JWT with the admin role in jwt mode (docs/identity.md says why both exist).

use std::sync::Arc;

use poem::Request;
use poem_openapi::{auth::Bearer, SecurityScheme};

use crate::{
    auth::{AuthMode, Authenticator, Claims, TokenError, ADMIN_ROLE},
    ApiError,
};

/// The admin token (`ADMIN_TOKEN`, open mode) or an admin's JWT (jwt mode) as a bearer token.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "admin_credential")]
pub struct AdminBearer(pub AdminCredential);

/// A presented admin bearer token; in jwt mode also what verifying it gave.
pub struct AdminCredential {
    pub token: String,
    /// `None` in open mode (the token is compared with `ADMIN_TOKEN`).
    pub jwt: Option<Result<Claims, TokenError>>,
}

async fn admin_credential(req: &Request, bearer: Bearer) -> Option<AdminCredential> {
    let jwt = req
        .data::<Arc<Authenticator>>()
        .filter(|a| a.mode() == AuthMode::Jwt)
        .map(|a| a.verify(&bearer.token));
    Some(AdminCredential {
        token: bearer.token,
        jwt,
    })
}

/// A missing token falls through to the operation, which answers 401 as problem+json (the
/// extractor's own error would be turned into a 400 by the shared bad-request handler).
#[derive(SecurityScheme)]
pub enum AdminAuth {
    Bearer(AdminBearer),
    #[oai(fallback)]
    Missing,
}

/// Who made an admin call, for the records an admin change writes: the JWT's subject in jwt
/// mode, `admin-token` in open mode (one shared token names no person). Call after
/// [`authorize`].
pub fn actor(auth: &AdminAuth) -> String {
    match auth {
        AdminAuth::Bearer(AdminBearer(AdminCredential {
            jwt: Some(Ok(claims)),
            ..
        })) => format!("admin {}", claims.sub),
        _ => "admin-token".to_string(),
    }
}

/// In jwt mode: 401 without a valid JWT, 403 without the admin role. In open mode: 401 unless
/// `auth` carries `expected`; with no token configured, admin endpoints are off.
pub fn authorize(expected: Option<&str>, auth: &AdminAuth) -> Result<(), ApiError> {
    if let AdminAuth::Bearer(AdminBearer(AdminCredential { jwt: Some(jwt), .. })) = auth {
        return match jwt {
            Ok(claims) if claims.has_role(ADMIN_ROLE) => Ok(()),
            Ok(_) => Err(ApiError::forbidden("the admin role is required")),
            Err(why) => Err(ApiError::unauthorized(why.to_string())),
        };
    }
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
