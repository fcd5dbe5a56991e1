//! The verifier of one service: the JWKS keys (from `JWKS_FILE`, or fetched from `JWKS_URL` at
//! start and again every `JWKS_REFRESH_SECS`), issuer/audience checks and the write limiter.

use std::{
    path::PathBuf,
    sync::{Arc, RwLock},
};

use jsonwebtoken::{jwk::JwkSet, Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

use crate::{
    auth_config::{AuthMode, AuthSettings},
    auth_limit::WriteLimiter,
    server::Shutdown,
};

/// What a verified token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(
        default,
        with = "number_or_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub member_no: Option<i64>,
    #[serde(
        default,
        with = "number_or_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub seller_no: Option<i64>,
    #[serde(default)]
    pub roles: Vec<String>,
}

impl Claims {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// Ids as JSON numbers or strings (the APIs write them as strings; IdPs may do either).
mod number_or_string {
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        N(i64),
        S(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match Option::<Raw>::deserialize(d)? {
            None => Ok(None),
            Some(Raw::N(n)) => Ok(Some(n)),
            Some(Raw::S(s)) => s.trim().parse().map(Some).map_err(serde::de::Error::custom),
        }
    }

    pub fn serialize<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(n) => s.serialize_i64(*n),
            None => s.serialize_none(),
        }
    }
}

/// Why the keys could not be loaded; the cause is kept for the log
/// ([`crate::error_chain`]) rather than flattened into a message.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("cannot read JWKS_FILE {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot fetch JWKS_URL {url}")]
    Fetch {
        url: url::Url,
        #[source]
        source: reqwest::Error,
    },
    #[error("not a JWKS")]
    NotJwks(#[source] serde_json::Error),
    #[error("the JWKS has no usable key")]
    NoUsableKey,
    #[error("no JWKS_FILE or JWKS_URL")]
    NotConfigured,
}

/// Why a bearer token was refused. The text is the 401 problem's `detail` (docs/identity.md),
/// so it names the cause the client can act on; the cause itself stays the `source`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    #[error("bad token: {0}")]
    Malformed(#[source] jsonwebtoken::errors::Error),
    #[error("symmetric algorithms are not accepted")]
    Symmetric,
    #[error("no key matches the token's kid")]
    NoMatchingKey,
    #[error("invalid token: {0}")]
    Invalid(#[source] jsonwebtoken::errors::Error),
}

/// One usable key of a JWKS.
struct Key {
    kid: Option<String>,
    key: DecodingKey,
}

/// Parses a JWKS document into its usable keys; an empty set is an error.
pub(crate) fn parse_jwks(text: &str) -> Result<Vec<(Option<String>, DecodingKey)>, JwksError> {
    let set: JwkSet = serde_json::from_str(text).map_err(JwksError::NotJwks)?;
    let keys: Vec<_> = set
        .keys
        .iter()
        .filter_map(|jwk| {
            DecodingKey::from_jwk(jwk)
                .ok()
                .map(|k| (jwk.common.key_id.clone(), k))
        })
        .collect();
    if keys.is_empty() {
        return Err(JwksError::NoUsableKey);
    }
    Ok(keys)
}

/// A service's verifier, shared by every request through the route's data.
pub struct Authenticator {
    pub(crate) settings: AuthSettings,
    keys: RwLock<Vec<Key>>,
    pub(crate) limiter: Option<WriteLimiter>,
}

impl Authenticator {
    /// Loads the keys (jwt mode) and starts the JWKS refresh when they come from a URL.
    pub async fn start(
        settings: AuthSettings,
        shutdown: &Shutdown,
    ) -> Result<Arc<Self>, JwksError> {
        let limiter = WriteLimiter::new(settings.writes_per_min);
        let auth = Arc::new(Self {
            settings,
            keys: RwLock::new(Vec::new()),
            limiter,
        });
        if auth.settings.mode == AuthMode::Open {
            return Ok(auth);
        }
        auth.load().await?;
        if auth.settings.jwks_url.is_some() {
            let (auth, shutdown2) = (auth.clone(), shutdown.clone());
            shutdown.spawn("jwks-refresh", async move {
                loop {
                    tokio::select! {
                        _ = shutdown2.triggered() => return,
                        _ = tokio::time::sleep(auth.settings.jwks_refresh) => {}
                    }
                    if let Err(e) = auth.load().await {
                        tracing::warn!(error = %crate::error_chain(&e), "JWKS refresh failed; keeping the old keys");
                    }
                }
            });
        }
        Ok(auth)
    }

    /// An authenticator with the given keys, for tests of the extractor and helpers.
    pub fn with_jwks(settings: AuthSettings, jwks: &str) -> Result<Arc<Self>, JwksError> {
        let keys = parse_jwks(jwks)?
            .into_iter()
            .map(|(kid, key)| Key { kid, key })
            .collect();
        Ok(Arc::new(Self {
            limiter: WriteLimiter::new(settings.writes_per_min),
            settings,
            keys: RwLock::new(keys),
        }))
    }

    pub fn mode(&self) -> AuthMode {
        self.settings.mode
    }

    async fn load(&self) -> Result<(), JwksError> {
        let text = match (&self.settings.jwks_file, &self.settings.jwks_url) {
            (Some(path), _) => std::fs::read_to_string(path).map_err(|source| JwksError::Read {
                path: path.clone(),
                source,
            })?,
            (None, Some(url)) => fetch(url).await.map_err(|source| JwksError::Fetch {
                url: url.clone(),
                source,
            })?,
            (None, None) => return Err(JwksError::NotConfigured),
        };
        let keys = parse_jwks(&text)?
            .into_iter()
            .map(|(kid, key)| Key { kid, key })
            .collect();
        match self.keys.write() {
            Ok(mut guard) => *guard = keys,
            Err(poisoned) => *poisoned.into_inner() = keys,
        }
        Ok(())
    }

    /// Verifies signature, expiry, not-before and (when configured) issuer and audience.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(TokenError::Malformed)?;
        if matches!(
            header.alg,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
        ) {
            return Err(TokenError::Symmetric);
        }
        let mut validation = Validation::new(header.alg);
        // A token minted for later (`nbf`) is not valid yet; jsonwebtoken checks it only when
        // asked (60 s of leeway, as for `exp`).
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        required.extend(self.settings.issuer.as_ref().map(|_| "iss"));
        required.extend(self.settings.audience.as_ref().map(|_| "aud"));
        validation.set_required_spec_claims(&required);
        match &self.settings.issuer {
            Some(iss) => validation.set_issuer(&[iss]),
            None => validation.iss = None,
        }
        match &self.settings.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        let keys = match self.keys.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut last = TokenError::NoMatchingKey;
        for key in keys
            .iter()
            .filter(|k| header.kid.is_none() || k.kid.is_none() || k.kid == header.kid)
        {
            match jsonwebtoken::decode::<Claims>(token, &key.key, &validation) {
                Ok(data) => return Ok(data.claims),
                Err(e) => last = TokenError::Invalid(e),
            }
        }
        Err(last)
    }
}

async fn fetch(url: &url::Url) -> Result<String, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()?
        .get(url.as_str())
        .send()
        .await?
        .error_for_status()?
        .text()
        .await
}
