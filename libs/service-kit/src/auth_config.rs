//! Identity settings (`AUTH_MODE`, `JWKS_FILE`/`JWKS_URL`, `JWT_ISSUER`/`JWT_AUDIENCE`,
//! `RATE_LIMIT_WRITES_PER_MIN`), read with the rest of [`crate::ServiceConfig`] and validated
//! at start. See docs/identity.md.

use std::{path::PathBuf, time::Duration};

use url::Url;

use crate::config::{ConfigError, Env};

/// Whether requests carry verified identities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// No identity checks: every caller may act as anyone (the local stack, CI, benches).
    /// The default only with `APP_ENV=dev`.
    #[default]
    Open,
    /// Every protected operation needs a bearer JWT signed by a key of the JWKS.
    Jwt,
}

/// The validated identity settings of one service.
#[derive(Debug, Clone, Default)]
pub struct AuthSettings {
    pub mode: AuthMode,
    pub jwks_file: Option<PathBuf>,
    pub jwks_url: Option<Url>,
    /// How often a `JWKS_URL` is fetched again (`JWKS_REFRESH_SECS`, default 300).
    pub jwks_refresh: Duration,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// Writes (checkouts, confirms, likes, reviews) per minute and member; 0 = no limit.
    /// Default 600 in jwt mode, off in open mode unless set.
    pub writes_per_min: u32,
    /// `TRUSTED_PROXY_HOPS` (default 0): proxies in front whose `X-Forwarded-For` entries
    /// name the client of a per-address limit (crate::client_ip).
    pub trusted_proxy_hops: u8,
}

impl AuthSettings {
    pub fn from_source(env: &dyn Env) -> Result<Self, ConfigError> {
        // Unset means open only on a development machine (`APP_ENV=dev`: `just up`, the tests,
        // the benches). A deployment that forgets the variable gets jwt, and without keys it
        // does not start: until stop 21 the Kubernetes base set neither, and its services let
        // anyone act as any member (refund their orders) or seller (read their wallets).
        let dev = crate::secrets::AppEnv::from_source(env).is_dev();
        let unset = if dev { AuthMode::Open } else { AuthMode::Jwt };
        let mode = match env.var("AUTH_MODE").as_deref().map(str::trim) {
            None => unset,
            Some("open") => AuthMode::Open,
            Some("jwt") => AuthMode::Jwt,
            Some(other) => {
                return Err(ConfigError::new(
                    "AUTH_MODE",
                    format!("must be open or jwt (got {other:?})"),
                ))
            }
        };
        let default_limit = match mode {
            AuthMode::Open => 0,
            AuthMode::Jwt => 600,
        };
        let writes_per_min = match env.var("RATE_LIMIT_WRITES_PER_MIN") {
            None => default_limit,
            Some(raw) => raw.trim().parse().map_err(|e| {
                ConfigError::new(
                    "RATE_LIMIT_WRITES_PER_MIN",
                    format!("{e} (got {raw:?}; 0 turns the limit off)"),
                )
            })?,
        };
        let refresh_secs: u64 = match env.var("JWKS_REFRESH_SECS") {
            None => 300,
            Some(raw) => raw
                .trim()
                .parse()
                .ok()
                .filter(|s| *s >= 10)
                .ok_or_else(|| {
                    ConfigError::new("JWKS_REFRESH_SECS", format!("must be >= 10 (got {raw:?})"))
                })?,
        };
        let max_hops = crate::client_ip::MAX_TRUSTED_PROXY_HOPS;
        let trusted_proxy_hops = match env.var("TRUSTED_PROXY_HOPS") {
            None => 0,
            Some(raw) => raw
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|h| *h <= max_hops)
                .ok_or_else(|| {
                    ConfigError::new(
                        "TRUSTED_PROXY_HOPS",
                        format!("must be 0-{max_hops}, the proxies in front (got {raw:?})"),
                    )
                })?,
        };
        let mut settings = Self {
            mode,
            jwks_file: env.var("JWKS_FILE").map(PathBuf::from),
            jwks_url: None,
            jwks_refresh: Duration::from_secs(refresh_secs),
            issuer: env.var("JWT_ISSUER"),
            audience: env.var("JWT_AUDIENCE"),
            writes_per_min,
            trusted_proxy_hops,
        };
        if let Some(raw) = env.var("JWKS_URL") {
            let url = Url::parse(raw.trim())
                .map_err(|e| ConfigError::new("JWKS_URL", format!("{e} (got {raw:?})")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(ConfigError::new("JWKS_URL", "must be an http(s) URL"));
            }
            settings.jwks_url = Some(url);
        }
        if mode == AuthMode::Jwt {
            settings.check_keys()?;
            if !dev {
                settings.check_claims()?;
            }
        }
        Ok(settings)
    }

    /// Outside a development machine a token must name this system: without an audience,
    /// a token the identity provider signed for any other of its clients (another app's
    /// login) is accepted here, and without an issuer, one from any provider whose keys the
    /// JWKS holds. Until stop 24 both were optional, and compose did not even pass them on.
    fn check_claims(&self) -> Result<(), ConfigError> {
        for (variable, value) in [
            ("JWT_ISSUER", &self.issuer),
            ("JWT_AUDIENCE", &self.audience),
        ] {
            if value.is_none() {
                return Err(ConfigError::new(
                    variable,
                    "AUTH_MODE=jwt needs JWT_ISSUER and JWT_AUDIENCE (unless APP_ENV=dev): \
                     without them tokens issued for other clients would be accepted",
                ));
            }
        }
        Ok(())
    }

    /// In jwt mode there must be keys: a readable JWKS file (checked now) or a URL.
    fn check_keys(&self) -> Result<(), ConfigError> {
        match (&self.jwks_file, &self.jwks_url) {
            (Some(_), Some(_)) => Err(ConfigError::new(
                "JWKS_URL",
                "set JWKS_FILE or JWKS_URL, not both",
            )),
            (None, None) => Err(ConfigError::new(
                "JWKS_FILE",
                "AUTH_MODE=jwt needs JWKS_FILE or JWKS_URL",
            )),
            (Some(path), None) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError::new("JWKS_FILE", format!("cannot read {}: {e}", path.display()))
                })?;
                crate::auth_keys::parse_jwks(&text)
                    .map(|_| ())
                    .map_err(|e| {
                        ConfigError::new(
                            "JWKS_FILE",
                            format!("{}: {}", path.display(), crate::error_chain(&e)),
                        )
                    })
            }
            (None, Some(_)) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn open_is_the_default_on_a_development_machine_and_has_no_limit() {
        let s =
            AuthSettings::from_source(&env(&[("APP_ENV", "dev"), ("JWKS_FILE", "/nonexistent")]))
                .unwrap();
        assert_eq!(s.mode, AuthMode::Open);
        assert_eq!(s.writes_per_min, 0);
    }

    #[test]
    fn elsewhere_the_default_is_jwt_and_needs_keys() {
        let err = AuthSettings::from_source(&env(&[])).expect_err("no keys: refused");
        assert_eq!(err.variable, "JWKS_FILE", "{err}");
        let s = AuthSettings::from_source(&env(&[
            ("JWKS_URL", "https://idp.example/.well-known/jwks.json"),
            ("JWT_ISSUER", "https://idp.example/"),
            ("JWT_AUDIENCE", "paymsa"),
        ]))
        .unwrap();
        assert_eq!(s.mode, AuthMode::Jwt);
        // Open only when asked for by name.
        let s = AuthSettings::from_source(&env(&[("AUTH_MODE", "open")])).unwrap();
        assert_eq!(s.mode, AuthMode::Open);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (pairs, variable) in [
            (vec![("AUTH_MODE", "oauth")], "AUTH_MODE"),
            (vec![("AUTH_MODE", "jwt")], "JWKS_FILE"),
            (
                vec![("AUTH_MODE", "jwt"), ("JWKS_FILE", "/nonexistent")],
                "JWKS_FILE",
            ),
            (
                vec![("APP_ENV", "dev"), ("JWKS_URL", "ftp://idp/keys")],
                "JWKS_URL",
            ),
            (
                vec![("APP_ENV", "dev"), ("RATE_LIMIT_WRITES_PER_MIN", "-1")],
                "RATE_LIMIT_WRITES_PER_MIN",
            ),
            (
                vec![("APP_ENV", "dev"), ("JWKS_REFRESH_SECS", "1")],
                "JWKS_REFRESH_SECS",
            ),
        ] {
            let err = AuthSettings::from_source(&env(&pairs)).expect_err("must be refused");
            assert_eq!(err.variable, variable, "{err}");
        }
    }

    #[test]
    fn jwt_with_a_url_defaults_to_600_writes() {
        let s = AuthSettings::from_source(&env(&[
            ("AUTH_MODE", "jwt"),
            ("APP_ENV", "dev"),
            ("JWKS_URL", "https://idp.example/.well-known/jwks.json"),
        ]))
        .unwrap();
        assert_eq!(s.mode, AuthMode::Jwt);
        assert_eq!(s.writes_per_min, 600);
    }

    #[test]
    fn jwt_outside_development_needs_an_issuer_and_an_audience() {
        let url = ("JWKS_URL", "https://idp.example/.well-known/jwks.json");
        for (pairs, missing) in [
            (vec![url], "JWT_ISSUER"),
            (
                vec![url, ("JWT_ISSUER", "https://idp.example/")],
                "JWT_AUDIENCE",
            ),
            (vec![url, ("JWT_AUDIENCE", "paymsa")], "JWT_ISSUER"),
        ] {
            let err = AuthSettings::from_source(&env(&pairs)).expect_err("must be refused");
            assert_eq!(err.variable, missing, "{err}");
        }
        // A development machine may try jwt mode with the dev tokens, which name neither.
        let dev = AuthSettings::from_source(&env(&[url, ("AUTH_MODE", "jwt"), ("APP_ENV", "dev")]))
            .expect("dev");
        assert_eq!(dev.mode, AuthMode::Jwt);
    }
}
