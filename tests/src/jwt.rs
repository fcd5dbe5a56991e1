//! A system in jwt mode for tests (docs/identity.md): a key of the test's own, its JWKS in a
//! temporary file, and the variables that make every service verify tokens against it.

use std::collections::HashMap;

use service_kit::auth_dev::DevKey;

/// A fresh key (`kid` = `name`) and the overrides for [`crate::TestSystem::start_with`]:
/// `AUTH_MODE=jwt` and `JWKS_FILE` naming its JWKS.
pub fn jwt_mode(name: &str) -> (DevKey, HashMap<String, String>) {
    let key = DevKey::generate(name).expect("key");
    let dir = std::env::temp_dir().join(format!(
        "paymsa-{name}-{}",
        service_kit::testing::unique_namespace()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let jwks = dir.join("jwks.json");
    std::fs::write(&jwks, key.jwks()).expect("jwks written");
    let overrides = HashMap::from([
        ("AUTH_MODE".to_string(), "jwt".to_string()),
        ("JWKS_FILE".to_string(), jwks.display().to_string()),
        // dev tokens name no issuer or audience, which jwt mode requires elsewhere
        ("APP_ENV".to_string(), "dev".to_string()),
    ]);
    (key, overrides)
}
