//! What a secret must look like before a service starts with it (issue 14, "safe defaults").
//!
//! The local stack, the tests, loadgen and the benches run with known tokens and keys
//! (`paymsa-local-admin`, `test-admin-token`, `test_sk_sandbox`, …); those are in the
//! repository and so are no secret. Unless `APP_ENV=dev`, a service refuses to start when a
//! secret it reads is one of them, a placeholder of deploy/compose.env.example or the k8s
//! overlay, a PSP test key, or shorter than [`MIN_SECRET_LEN`]; and a secret whose development
//! default it would otherwise use must be set. docs/configuration.md, "Secrets", lists them.

use crate::config::{ConfigError, Env};

/// Long enough that guessing is out of reach: `openssl rand -hex 32` gives 64.
pub const MIN_SECRET_LEN: usize = 24;

/// Values the repository itself uses or documents (scripts/up.sh, service-kit's testing.rs,
/// tools/loadgen/src/stack/services.rs, the PSP sandbox's defaults) and the usual stand-ins.
pub const KNOWN_DEV_SECRETS: &[&str] = &[
    "paymsa-local-admin",
    "test-admin-token",
    "loadgen-admin-token",
    "test_sk_sandbox",
    "test_sk_paymsa_sandbox",
    "sandbox_webhook_secret",
    "change-me",
    "changeme",
    "secret",
    "password",
    "admin",
];

/// Parts of a placeholder (deploy/compose.env.example, deploy/k8s/overlays/local): a value
/// containing one was copied, not generated.
const PLACEHOLDER_MARKS: &[&str] = &["change-me", "changeme", "replace-me", "placeholder"];

/// Toss test-mode key prefixes: what the PSP sandbox accepts (services/psp-sandbox/README.md)
/// and what moves no money at Toss, so never what a deployment should run with.
const TEST_KEY_PREFIXES: &[&str] = &["test_sk_", "test_gsk_"];

/// Where the process runs (`APP_ENV`): only `dev` relaxes the checks of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AppEnv {
    /// `APP_ENV=dev`: `just up`, the tests, loadgen, the benches, CI.
    Dev,
    /// Anything else, unset included: compose, Kubernetes, production. Failing safe means a
    /// typo (`APP_ENV=devel`) gets the strict checks, not the relaxed ones.
    #[default]
    Deployed,
}

impl AppEnv {
    pub fn from_source(env: &dyn Env) -> Self {
        match env.var("APP_ENV") {
            Some(v) if v.trim().eq_ignore_ascii_case("dev") => Self::Dev,
            _ => Self::Deployed,
        }
    }

    pub fn is_dev(self) -> bool {
        self == Self::Dev
    }
}

/// Why `value` may not be `name` outside dev; `None` when it may. Never quotes the value: a
/// refused secret may still be a real one that was merely too short.
fn weakness(value: &str) -> Option<String> {
    let trimmed = value.trim();
    let lower = trimmed.to_ascii_lowercase();
    if KNOWN_DEV_SECRETS.contains(&lower.as_str()) {
        return Some("is a development value published in the repository".into());
    }
    if PLACEHOLDER_MARKS.iter().any(|m| lower.contains(m)) {
        return Some("is a placeholder from an example file".into());
    }
    if TEST_KEY_PREFIXES.iter().any(|p| trimmed.starts_with(p)) {
        return Some("is a PSP test key (test_sk_…), for the sandbox only".into());
    }
    if trimmed.chars().count() < MIN_SECRET_LEN {
        return Some(format!(
            "is shorter than {MIN_SECRET_LEN} characters ({} given)",
            trimmed.chars().count()
        ));
    }
    None
}

/// A password written into a connection URL (`DATABASE_URL`, `REDIS_URL`): outside dev it
/// must not be an example file's placeholder or a published development value. No length
/// rule: a managed database's generated password is what it is.
pub fn check_url_password(app_env: AppEnv, name: &str, url: &url::Url) -> Result<(), ConfigError> {
    match url.password() {
        Some(password) => check_password(app_env, name, password),
        None => Ok(()),
    }
}

/// A password the service presents to a backend (Postgres, Redis, NATS): outside dev it must
/// not be an example file's placeholder or a published development value; no length rule.
pub fn check_password(app_env: AppEnv, name: &str, password: &str) -> Result<(), ConfigError> {
    let lower = password.to_ascii_lowercase();
    let placeholder = PLACEHOLDER_MARKS.iter().any(|m| lower.contains(m))
        || KNOWN_DEV_SECRETS.contains(&lower.as_str());
    match (app_env, placeholder) {
        (AppEnv::Deployed, true) => Err(ConfigError::new(
            name,
            "its password is a placeholder or a development value; set the real one, or \
             APP_ENV=dev on a development machine",
        )),
        _ => Ok(()),
    }
}

/// Checks one secret value: anything goes in dev, elsewhere see the module documentation.
pub fn check(app_env: AppEnv, name: &str, value: &str) -> Result<(), ConfigError> {
    match (app_env, weakness(value)) {
        (AppEnv::Dev, _) | (_, None) => Ok(()),
        (AppEnv::Deployed, Some(why)) => Err(ConfigError::new(
            name,
            format!(
                "{why}; set a random value (openssl rand -hex 32), or APP_ENV=dev on a development machine"
            ),
        )),
    }
}

/// A secret with a development default: in dev `value` or the default; elsewhere `value`
/// must be set and pass [`check`]. Comma-separated lists (a key being rotated) are checked
/// item by item with `list`.
pub fn required(
    app_env: AppEnv,
    name: &str,
    value: Option<String>,
    dev_default: &str,
    list: bool,
) -> Result<String, ConfigError> {
    let value = value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    match (app_env, value) {
        (AppEnv::Dev, v) => Ok(v.unwrap_or_else(|| dev_default.to_string())),
        (AppEnv::Deployed, None) => Err(ConfigError::new(
            name,
            "is required unless APP_ENV=dev (its development default is public)",
        )),
        (AppEnv::Deployed, Some(v)) => {
            if list {
                for item in v.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                    check(app_env, name, item)?;
                }
            } else {
                check(app_env, name, &v)?;
            }
            Ok(v)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const STRONG: &str = "3f9c2b8e71d04a6c9e5b1f0a2d7c4e68";

    #[test]
    fn only_app_env_dev_is_dev() {
        let env = |v: &str| HashMap::from([("APP_ENV".to_string(), v.to_string())]);
        assert_eq!(AppEnv::from_source(&HashMap::new()), AppEnv::Deployed);
        assert_eq!(AppEnv::from_source(&env("dev")), AppEnv::Dev);
        assert_eq!(AppEnv::from_source(&env(" DEV ")), AppEnv::Dev);
        for other in ["prod", "production", "devel", "development", "staging"] {
            assert_eq!(
                AppEnv::from_source(&env(other)),
                AppEnv::Deployed,
                "{other}"
            );
        }
    }

    #[test]
    fn weak_values_are_refused_outside_dev_and_named() {
        for weak in [
            "paymsa-local-admin",
            "test-admin-token",
            "Change-Me",
            "test_sk_sandbox",
            "test_sk_0123456789abcdefghijklmnop",
            "replace-me-with-openssl-rand-hex-32",
            "placeholder-refused-by-the-services",
            "short-but-random-7f3a",
        ] {
            let err = check(AppEnv::Deployed, "ADMIN_TOKEN", weak).expect_err(weak);
            assert_eq!(err.variable, "ADMIN_TOKEN");
            assert!(
                !err.reason.contains(weak),
                "the error must not quote the value: {err}"
            );
            assert!(check(AppEnv::Dev, "ADMIN_TOKEN", weak).is_ok(), "{weak}");
        }
        assert!(check(AppEnv::Deployed, "ADMIN_TOKEN", STRONG).is_ok());
        assert!(check(
            AppEnv::Deployed,
            "PSP_SECRET_KEY",
            "live_sk_9f8e7d6c5b4a39281706f5e4"
        )
        .is_ok());
    }

    #[test]
    fn a_required_secret_uses_its_default_only_in_dev() {
        let name = "PSP_WEBHOOK_SECRET";
        assert_eq!(
            required(AppEnv::Dev, name, None, "sandbox_webhook_secret", true).ok(),
            Some("sandbox_webhook_secret".into())
        );
        let err = required(AppEnv::Deployed, name, None, "dflt", true).expect_err("unset");
        assert_eq!(err.variable, name);
        let err =
            required(AppEnv::Deployed, name, Some("  ".into()), "dflt", true).expect_err("blank");
        assert_eq!(err.variable, name);
        let both = format!("{STRONG},{STRONG}x");
        assert_eq!(
            required(AppEnv::Deployed, name, Some(both.clone()), "d", true).ok(),
            Some(both)
        );
        let rotating = format!("{STRONG},sandbox_webhook_secret");
        assert!(required(AppEnv::Deployed, name, Some(rotating), "d", true).is_err());
    }
}
