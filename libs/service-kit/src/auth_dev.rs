//! Development key pairs and tokens: an Ed25519 key, its JWKS and tokens signed with it, for
//! `just token` (tools/devtoken) and tests. Never for production: a real identity provider
//! issues tokens there and services fetch its keys from `JWKS_URL` (docs/identity.md).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{json, Value};

use crate::auth::Claims;

/// Why a development key or token could not be made; the cause is kept ([`crate::error_chain`]).
#[derive(Debug, thiserror::Error)]
pub enum DevKeyError {
    #[error("keygen")]
    Generate(#[source] ring::error::Unspecified),
    #[error("not an Ed25519 PKCS#8 key")]
    NotEd25519(#[source] ring::error::KeyRejected),
    #[error("the system clock is before 1970")]
    Clock(#[source] std::time::SystemTimeError),
    #[error("claims are not a JSON object")]
    Claims(#[source] serde_json::Error),
    #[error("cannot sign")]
    Sign(#[source] jsonwebtoken::errors::Error),
}

/// An Ed25519 signing key (PKCS#8 DER) and the key id its JWKS names it by.
pub struct DevKey {
    pkcs8: Vec<u8>,
    public: Vec<u8>,
    pub kid: String,
}

impl DevKey {
    pub fn generate(kid: &str) -> Result<Self, DevKeyError> {
        let rng = ring::rand::SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(DevKeyError::Generate)?;
        Self::from_pkcs8(doc.as_ref(), kid)
    }

    pub fn from_pkcs8(der: &[u8], kid: &str) -> Result<Self, DevKeyError> {
        let pair =
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(DevKeyError::NotEd25519)?;
        Ok(Self {
            pkcs8: der.to_vec(),
            public: pair.public_key().as_ref().to_vec(),
            kid: kid.to_string(),
        })
    }

    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The JWKS (one public key) services verify with (`JWKS_FILE`).
    pub fn jwks(&self) -> String {
        json!({ "keys": [{
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(&self.public),
        }] })
        .to_string()
    }

    /// A token for `claims`, valid for `ttl_secs`, with `iss`/`aud` when given.
    pub fn sign(
        &self,
        claims: &Claims,
        ttl_secs: u64,
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> Result<String, DevKeyError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(DevKeyError::Clock)?
            .as_secs();
        let mut body = serde_json::to_value(claims).map_err(DevKeyError::Claims)?;
        if let Value::Object(map) = &mut body {
            map.insert("iat".into(), json!(now));
            map.insert("exp".into(), json!(now + ttl_secs));
            if let Some(iss) = issuer {
                map.insert("iss".into(), json!(iss));
            }
            if let Some(aud) = audience {
                map.insert("aud".into(), json!(aud));
            }
        }
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &body, &EncodingKey::from_ed_der(&self.pkcs8))
            .map_err(DevKeyError::Sign)
    }
}

/// Claims of a member, a seller or an admin, as `just token` makes them.
pub fn member(member_no: i64) -> Claims {
    Claims {
        sub: format!("member-{member_no}"),
        member_no: Some(member_no),
        seller_no: None,
        roles: vec!["member".into()],
    }
}

pub fn seller(seller_no: i64) -> Claims {
    Claims {
        sub: format!("seller-{seller_no}"),
        member_no: None,
        seller_no: Some(seller_no),
        roles: vec!["seller".into()],
    }
}

pub fn admin() -> Claims {
    Claims {
        sub: "admin".into(),
        member_no: None,
        seller_no: None,
        roles: vec![crate::auth::ADMIN_ROLE.into()],
    }
}
