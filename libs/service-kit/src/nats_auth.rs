//! A service's identity on the bus (docs/identity.md, "The bus"): `NATS_USER` /
//! `NATS_PASSWORD`, or credentials in the URL (`nats://user:pass@host:port`, what
//! `scripts/nats.sh admin-url` prints for operators' tools). The users and their permissions
//! are generated from libs/messaging/src/access.rs into deploy/nats/auth.conf.

use crate::config::{ConfigError, Env};

/// A NATS user and password; `Debug` does not print the password.
#[derive(Clone, PartialEq, Eq)]
pub struct NatsCredentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for NatsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsCredentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl NatsCredentials {
    /// Both or neither: a user without a password (or the reverse) is a deployment mistake that
    /// would otherwise surface as an authorization error at the first connect. The user names
    /// the reply inbox ([`inbox_prefix`]), so it must be a subject token.
    pub fn from_env(env: &dyn Env) -> Result<Option<Self>, ConfigError> {
        match (env.var("NATS_USER"), env.var("NATS_PASSWORD")) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(ConfigError::new(
                "NATS_PASSWORD",
                "must be set when NATS_USER is",
            )),
            (None, Some(_)) => Err(ConfigError::new(
                "NATS_USER",
                "must be set when NATS_PASSWORD is",
            )),
            (Some(user), Some(password)) => {
                if !is_token(&user) {
                    return Err(ConfigError::new(
                        "NATS_USER",
                        format!("only letters, digits, '_' and '-' (got {user:?})"),
                    ));
                }
                Ok(Some(Self { user, password }))
            }
        }
    }

    /// Credentials embedded in the first address of a comma-separated URL list; async-nats
    /// 0.51 parses but does not send them, so [`crate::infra::connect_nats`] does.
    pub fn from_url(url: &str) -> Option<Self> {
        let first = url.split(',').next()?.trim();
        let parsed = url::Url::parse(first).ok()?;
        if parsed.username().is_empty() {
            return None;
        }
        let decode = |s: &str| percent_decode(s).unwrap_or_else(|| s.to_string());
        Some(Self {
            user: decode(parsed.username()),
            password: decode(parsed.password().unwrap_or_default()),
        })
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The reply-inbox prefix of a connection as `user`: the generated permissions let a service
/// subscribe to `_INBOX_<user>.>` only, so it cannot read the replies (and pull deliveries) of
/// another service's connection, as it could under the shared default `_INBOX.>`.
pub fn inbox_prefix(user: &str) -> String {
    format!("_INBOX_{user}")
}

/// `url` without the credentials of any of its addresses, for logs and errors.
pub fn redact(url: &str) -> String {
    url.split(',')
        .map(|part| match (part.find("://"), part.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}***@{}", &part[..scheme + 3], &part[at + 1..])
            }
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_credentials_are_read_and_redacted() {
        let url = "nats://paymsa-admin:p%40ss@127.0.0.1:4333,nats://127.0.0.1:4334";
        let creds = NatsCredentials::from_url(url).expect("in the url");
        assert_eq!(creds.user, "paymsa-admin");
        assert_eq!(creds.password, "p@ss");
        assert!(!format!("{creds:?}").contains("p@ss"));
        assert_eq!(
            redact(url),
            "nats://***@127.0.0.1:4333,nats://127.0.0.1:4334"
        );
        assert_eq!(NatsCredentials::from_url("nats://127.0.0.1:4222"), None);
    }
}
