//! Who the load generator acts as (docs/identity.md). In jwt mode the stack's services verify
//! tokens with the JWKS of a key generated for the run, and every request carries a bearer
//! token of the identity acting: the shopper (member) for checkouts, confirms, cancels, likes
//! and reviews, the seller for products, wallets and payouts, `admin` for `/admin/*`. In open
//! mode nothing is checked and only `/admin/*` takes the static `ADMIN_TOKEN`.

use std::{
    collections::HashMap,
    path::Path,
    str::FromStr,
    sync::{Arc, Mutex},
};

use anyhow::{anyhow, Context};
use service_kit::auth_dev::{self, DevKey};

use crate::stack::ADMIN_TOKEN;

/// Tokens outlive any run: a chaos run takes minutes, `just bench` an hour at most.
const TOKEN_TTL_SECS: u64 = 12 * 3600;

/// Writes per minute and member the stack's services allow (`RATE_LIMIT_WRITES_PER_MIN`). The
/// default (600) is for one person; each of the tool's few shoppers stands for thousands of
/// them and writes (checkouts, confirms, likes, reviews) as fast as the system answers, so the default
/// would measure the limiter instead of the system. High, not off, so the limiter still runs.
pub const LOAD_WRITES_PER_MIN: u32 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    Open,
    Jwt,
}

impl FromStr for AuthMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(Self::Open),
            "jwt" => Ok(Self::Jwt),
            other => Err(format!("{other:?} is not open or jwt")),
        }
    }
}

impl AuthMode {
    pub fn name(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Jwt => "jwt",
        }
    }
}

/// The caller of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Who {
    /// No token: the PSP sandbox, public reads, seller registration, webhooks.
    Anyone,
    Member(i64),
    Seller(i64),
    Admin,
}

/// The run's signing key (jwt mode) and the tokens made with it so far.
pub struct Identities {
    pub mode: AuthMode,
    key: Option<DevKey>,
    tokens: Mutex<HashMap<Who, Arc<str>>>,
}

impl Identities {
    pub fn new(mode: AuthMode) -> anyhow::Result<Self> {
        let key = match mode {
            AuthMode::Open => None,
            AuthMode::Jwt => Some(DevKey::generate("paymsa-loadgen")?),
        };
        Ok(Self {
            mode,
            key,
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// The services' environment for this mode; in jwt mode the JWKS is written to `dir`.
    pub fn service_env(&self, dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
        let mut env = vec![("AUTH_MODE".to_string(), self.mode.name().to_string())];
        if let Some(key) = &self.key {
            let jwks = std::path::absolute(dir.join("jwks.json"))?;
            std::fs::write(&jwks, key.jwks()).context("writing the run's JWKS")?;
            env.push(("JWKS_FILE".into(), jwks.display().to_string()));
            env.push((
                "RATE_LIMIT_WRITES_PER_MIN".into(),
                LOAD_WRITES_PER_MIN.to_string(),
            ));
        }
        Ok(env)
    }

    /// The `Authorization` value for `who`, if one is sent.
    pub fn authorization(&self, who: Who) -> anyhow::Result<Option<Arc<str>>> {
        let Some(key) = &self.key else {
            return Ok(match who {
                Who::Admin => Some(format!("Bearer {ADMIN_TOKEN}").into()),
                _ => None,
            });
        };
        let claims = match who {
            Who::Anyone => return Ok(None),
            Who::Member(n) => auth_dev::member(n),
            Who::Seller(n) => auth_dev::seller(n),
            Who::Admin => auth_dev::admin(),
        };
        let mut tokens = self
            .tokens
            .lock()
            .map_err(|_| anyhow!("token cache poisoned"))?;
        if let Some(token) = tokens.get(&who) {
            return Ok(Some(token.clone()));
        }
        let token = key.sign(&claims, TOKEN_TTL_SECS, None, None)?;
        let value: Arc<str> = format!("Bearer {token}").into();
        tokens.insert(who, value.clone());
        Ok(Some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_mode_sends_only_the_admin_token() {
        let ids = Identities::new(AuthMode::Open).expect("open");
        assert!(ids.authorization(Who::Member(1)).expect("ok").is_none());
        let admin = ids.authorization(Who::Admin).expect("ok").expect("some");
        assert_eq!(&*admin, format!("Bearer {ADMIN_TOKEN}"));
    }

    #[test]
    fn jwt_mode_signs_one_token_per_identity() {
        let ids = Identities::new(AuthMode::Jwt).expect("jwt");
        let a = ids
            .authorization(Who::Member(7))
            .expect("ok")
            .expect("some");
        let b = ids
            .authorization(Who::Member(7))
            .expect("ok")
            .expect("some");
        let c = ids
            .authorization(Who::Seller(7))
            .expect("ok")
            .expect("some");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.starts_with("Bearer ey"));
        assert!(ids.authorization(Who::Anyone).expect("ok").is_none());
    }
}
