//! Who is calling: the [`Identity`] extractor and the checks operations make with it
//! ([`require_member`], [`require_seller`], [`require_admin`], [`limit_writes`]).
//!
//! In open mode (`AUTH_MODE=open`, the default with `APP_ENV=dev`) every check passes, as
//! before identities existed. In jwt mode a request needs `Authorization: Bearer <JWT>` signed
//! by a key of the service's JWKS: no or a bad token is 401, a valid token for someone else
//! 403, both as problem+json. The verifier reaches the extractor as route data (see `App::serve`).

use std::{net::IpAddr, sync::Arc};

use poem::Request;
use poem_openapi::{
    registry::{MetaSecurityScheme, Registry},
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
};

pub use crate::auth_config::{AuthMode, AuthSettings};
pub use crate::auth_keys::{Authenticator, Claims, TokenError};
use crate::{auth_limit::retry_after_secs, ApiError};

/// The role that may call `/admin/*` in jwt mode.
pub const ADMIN_ROLE: &str = "admin";

/// What the request's bearer token amounts to.
#[derive(Debug, Clone)]
pub enum Credential {
    /// No `Authorization: Bearer` header (or open mode, where tokens are not looked at).
    None,
    /// A token that does not verify; the reason goes into the 401's detail.
    Invalid(TokenError),
    Valid(Claims),
}

/// The caller of an operation. A missing token is not an extraction error: the operation
/// decides (open mode lets everyone through, jwt mode answers 401 as problem+json).
pub struct Identity {
    auth: Option<Arc<Authenticator>>,
    pub credential: Credential,
    pub peer: Option<IpAddr>,
}

impl Identity {
    /// Resolves the bearer token of a request against `auth` (open mode when `None`).
    pub fn resolve(
        auth: Option<Arc<Authenticator>>,
        bearer: Option<&str>,
        peer: Option<IpAddr>,
    ) -> Self {
        let credential = match (&auth, bearer) {
            (Some(a), Some(token)) if a.mode() == AuthMode::Jwt => match a.verify(token) {
                Ok(claims) => Credential::Valid(claims),
                Err(why) => Credential::Invalid(why),
            },
            _ => Credential::None,
        };
        Self {
            auth,
            credential,
            peer,
        }
    }

    /// The caller of an operation open to anyone, for [`limit_writes`]: no token is read
    /// (declaring this extractor would make a jwt-mode operation require one), only the
    /// client address counts.
    pub fn anonymous(req: &Request) -> Self {
        let auth = req.data::<Arc<Authenticator>>().cloned();
        let peer = client_of(req, auth.as_deref());
        Self::resolve(auth, None, peer)
    }

    pub fn mode(&self) -> AuthMode {
        self.auth.as_ref().map_or(AuthMode::Open, |a| a.mode())
    }

    /// The verified claims, or 401 in jwt mode; `Ok(None)` in open mode.
    pub fn claims(&self) -> Result<Option<&Claims>, ApiError> {
        if self.mode() == AuthMode::Open {
            return Ok(None);
        }
        match &self.credential {
            Credential::Valid(claims) => Ok(Some(claims)),
            Credential::None => Err(ApiError::unauthorized("a bearer token is required")),
            Credential::Invalid(why) => Err(ApiError::unauthorized(why.to_string())),
        }
    }

    /// Whether the caller holds the admin role (always true in open mode).
    pub fn is_admin(&self) -> bool {
        match self.claims() {
            Ok(None) => true,
            Ok(Some(claims)) => claims.has_role(ADMIN_ROLE),
            Err(_) => false,
        }
    }
}

/// The address a per-client limit counts for `req`: the peer, or behind the service's
/// `TRUSTED_PROXY_HOPS` proxies the client they name (crate::client_ip).
pub fn client_of(req: &Request, auth: Option<&Authenticator>) -> Option<IpAddr> {
    let hops = auth.map_or(0, |a| a.settings.trusted_proxy_hops);
    crate::client_ip::client_ip(req, hops)
}

fn bearer_of(req: &Request) -> Option<&str> {
    let value = req.headers().get(poem::http::header::AUTHORIZATION)?;
    let value = value.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl<'a> ApiExtractor<'a> for Identity {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            "Identity",
            MetaSecurityScheme {
                ty: "http",
                description: Some(
                    "A JWT from the identity provider (claims sub, member_no, seller_no, roles); \
                     required when the service runs with AUTH_MODE=jwt, see docs/identity.md",
                ),
                name: None,
                key_in: None,
                scheme: Some("bearer"),
                bearer_format: Some("JWT"),
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec!["Identity"]
    }

    fn has_security_fallback() -> bool {
        true
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut poem::RequestBody,
        _opts: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        let auth = req.data::<Arc<Authenticator>>().cloned();
        let peer = client_of(req, auth.as_deref());
        Ok(Identity::resolve(auth, bearer_of(req), peer))
    }
}

/// The caller must be member `member_no` (401 without a valid token, 403 as someone else).
pub fn require_member(identity: &Identity, member_no: i64) -> Result<(), ApiError> {
    match identity.claims()? {
        None => Ok(()),
        Some(c) if c.member_no == Some(member_no) => Ok(()),
        Some(c) => Err(ApiError::forbidden(format!(
            "{} may not act as member {member_no}",
            who(c)
        ))),
    }
}

/// Like [`require_member`], but an admin may also read the member's data.
pub fn require_member_or_admin(identity: &Identity, member_no: i64) -> Result<(), ApiError> {
    match identity.claims()? {
        Some(c) if c.has_role(ADMIN_ROLE) => Ok(()),
        _ => require_member(identity, member_no),
    }
}

/// The caller must be seller `seller_no`.
pub fn require_seller(identity: &Identity, seller_no: i64) -> Result<(), ApiError> {
    match identity.claims()? {
        None => Ok(()),
        Some(c) if c.seller_no == Some(seller_no) => Ok(()),
        Some(c) => Err(ApiError::forbidden(format!(
            "{} may not act as seller {seller_no}",
            who(c)
        ))),
    }
}

/// The caller must hold the admin role.
pub fn require_admin(identity: &Identity) -> Result<(), ApiError> {
    match identity.claims()? {
        None => Ok(()),
        Some(c) if c.has_role(ADMIN_ROLE) => Ok(()),
        Some(c) => Err(ApiError::forbidden(format!(
            "{} does not have the admin role",
            who(c)
        ))),
    }
}

/// Counts one write against the caller's budget: the token's member (or subject), else the
/// member the request acts as, else the client IP. 429 with `Retry-After` when over it.
pub fn limit_writes(identity: &Identity, acting_member: Option<i64>) -> Result<(), ApiError> {
    let Some(limiter) = identity.auth.as_ref().and_then(|a| a.limiter.as_ref()) else {
        return Ok(());
    };
    let key = match (&identity.credential, acting_member, identity.peer) {
        (Credential::Valid(c), _, _) => match c.member_no {
            Some(m) => format!("member:{m}"),
            None => format!("sub:{}", c.sub),
        },
        (_, Some(m), _) => format!("member:{m}"),
        (_, None, Some(ip)) => format!("ip:{}", client_network(ip)),
        (_, None, None) => "anonymous".into(),
    };
    limiter
        .check(&key)
        .map_err(|wait| ApiError::too_many_requests(retry_after_secs(wait)))
}

/// The unit an address budget counts: an IPv4 address, or an IPv6 address's /64. One
/// subscriber is routed a whole /64, so counting /128s would give one client 2^64 budgets
/// (found in review). An IPv4-mapped IPv6 address counts as its IPv4 address.
fn client_network(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V4(v4) => v4.into(),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.into(),
            None => {
                let s = v6.segments();
                std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0).into()
            }
        },
    }
}

fn who(c: &Claims) -> String {
    match c.member_no {
        Some(m) => format!("member {m}"),
        None => match c.seller_no {
            Some(s) => format!("seller {s}"),
            None => format!("subject {:?}", c.sub),
        },
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
