//! The extractor's resolution and the helpers, in both modes (keys from `auth_dev`).

use std::sync::Arc;

use super::*;
use crate::auth_dev::{self, DevKey};

fn jwt_auth(key: &DevKey, writes_per_min: u32) -> Arc<Authenticator> {
    let settings = AuthSettings {
        mode: AuthMode::Jwt,
        issuer: Some("https://idp.test".into()),
        writes_per_min,
        ..AuthSettings::default()
    };
    Authenticator::with_jwks(settings, &key.jwks()).expect("jwks")
}

fn token(key: &DevKey, claims: &Claims) -> String {
    key.sign(claims, 300, Some("https://idp.test"), None)
        .expect("sign")
}

fn status(r: Result<(), ApiError>) -> u16 {
    r.err().map_or(200, |e| e.problem().status)
}

#[test]
fn open_mode_allows_everything() {
    for auth in [
        None,
        Some(Authenticator::with_jwks(
            AuthSettings::default(),
            "{\"keys\":[]}",
        )),
    ] {
        let auth = auth.and_then(Result::ok);
        let id = Identity::resolve(auth, Some("garbage"), None);
        assert_eq!(id.mode(), AuthMode::Open);
        assert_eq!(status(require_member(&id, 7)), 200);
        assert_eq!(status(require_seller(&id, 1)), 200);
        assert_eq!(status(require_admin(&id)), 200);
        assert_eq!(status(limit_writes(&id, Some(7))), 200);
    }
}

#[test]
fn jwt_mode_answers_401_403_or_passes() {
    let key = DevKey::generate("k1").unwrap();
    let auth = jwt_auth(&key, 0);
    let id = |t: Option<&str>| Identity::resolve(Some(auth.clone()), t, None);

    let none = id(None);
    assert_eq!(status(require_member(&none, 7)), 401);
    assert_eq!(status(require_admin(&none)), 401);
    assert_eq!(status(require_member(&id(Some("not.a.jwt")), 7)), 401);

    let m7 = token(&key, &auth_dev::member(7));
    assert_eq!(status(require_member(&id(Some(&m7)), 7)), 200);
    assert_eq!(status(require_member(&id(Some(&m7)), 8)), 403);
    assert_eq!(status(require_seller(&id(Some(&m7)), 7)), 403);
    assert_eq!(status(require_admin(&id(Some(&m7)))), 403);
    assert_eq!(status(require_member_or_admin(&id(Some(&m7)), 8)), 403);

    let s1 = token(&key, &auth_dev::seller(1));
    assert_eq!(status(require_seller(&id(Some(&s1)), 1)), 200);
    assert_eq!(status(require_seller(&id(Some(&s1)), 2)), 403);

    let admin = token(&key, &auth_dev::admin());
    assert_eq!(status(require_admin(&id(Some(&admin)))), 200);
    assert_eq!(status(require_member_or_admin(&id(Some(&admin)), 8)), 200);
    assert_eq!(status(require_member(&id(Some(&admin)), 8)), 403);
}

#[test]
fn foreign_keys_wrong_issuers_and_expired_tokens_are_401() {
    let key = DevKey::generate("k1").unwrap();
    let other = DevKey::generate("k1").unwrap();
    let auth = jwt_auth(&key, 0);
    let check = |t: &str| {
        status(require_member(
            &Identity::resolve(Some(auth.clone()), Some(t), None),
            7,
        ))
    };
    assert_eq!(check(&token(&other, &auth_dev::member(7))), 401);
    let wrong_iss = key
        .sign(&auth_dev::member(7), 300, Some("https://evil"), None)
        .unwrap();
    assert_eq!(check(&wrong_iss), 401);
    let no_iss = key.sign(&auth_dev::member(7), 300, None, None).unwrap();
    assert_eq!(check(&no_iss), 401);
    let with_times = |exp: u64, nbf: Option<u64>| {
        let mut claims = serde_json::to_value(auth_dev::member(7)).unwrap();
        claims["exp"] = serde_json::json!(exp);
        if let Some(nbf) = nbf {
            claims["nbf"] = serde_json::json!(nbf);
        }
        claims["iss"] = serde_json::json!("https://idp.test");
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_ed_der(key.pkcs8()),
        )
        .unwrap()
    };
    assert_eq!(check(&with_times(1_000_000, None)), 401, "expired");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let later = with_times(now + 7200, Some(now + 3600));
    assert_eq!(check(&later), 401, "not valid before an hour from now");
    let started = with_times(now + 7200, Some(now - 10));
    assert_eq!(check(&started), 200);
}

#[test]
fn claims_take_ids_as_numbers_or_strings() {
    let c: Claims =
        serde_json::from_str(r#"{"sub":"x","member_no":"7","seller_no":1,"roles":["admin"]}"#)
            .unwrap();
    assert_eq!((c.member_no, c.seller_no), (Some(7), Some(1)));
    assert!(c.has_role("admin"));
}

#[test]
fn writes_are_limited_per_member_with_retry_after() {
    let key = DevKey::generate("k1").unwrap();
    let auth = jwt_auth(&key, 1);
    let m7 = token(&key, &auth_dev::member(7));
    let id = Identity::resolve(Some(auth.clone()), Some(&m7), None);
    assert_eq!(status(limit_writes(&id, Some(7))), 200);
    match limit_writes(&id, Some(7)) {
        Err(ApiError::TooManyRequests(_, secs)) => assert!(secs >= 1),
        other => panic!(
            "expected 429, got {:?}",
            other.err().map(|e| e.problem().status)
        ),
    }
    let m8 = token(&key, &auth_dev::member(8));
    let id8 = Identity::resolve(Some(auth), Some(&m8), None);
    assert_eq!(status(limit_writes(&id8, Some(8))), 200);
}

/// A refused token's 401 says why in the words it always used (clients and the e2e tests read
/// them), while the refusal keeps jsonwebtoken's error as its source for the log.
#[test]
fn a_refused_token_says_why_and_keeps_its_cause() {
    let key = DevKey::generate("k1").unwrap();
    let other = DevKey::generate("k1").unwrap();
    let auth = jwt_auth(&key, 0);
    let detail = |t: &str| {
        let id = Identity::resolve(Some(auth.clone()), Some(t), None);
        require_member(&id, 7)
            .err()
            .map(|e| e.problem().detail.clone())
    };
    let forged = detail(&token(&other, &auth_dev::member(7)));
    assert_eq!(forged.as_deref(), Some("invalid token: InvalidSignature"));
    let garbage = detail("not.a.jwt").unwrap_or_default();
    assert!(garbage.starts_with("bad token: "), "{garbage}");

    let refusal = auth.verify("not.a.jwt").expect_err("refused");
    assert!(std::error::Error::source(&refusal).is_some());
    assert_eq!(crate::error_chain(&refusal), refusal.to_string());
}

#[test]
fn an_address_budget_covers_an_ipv6_clients_whole_64() {
    let ip = |s: &str| s.parse::<std::net::IpAddr>().expect("an address");
    assert_eq!(
        client_network(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
        ip("2001:db8:1:2::")
    );
    assert_eq!(
        client_network(ip("2001:db8:1:2::1")),
        client_network(ip("2001:db8:1:2:ffff::9")),
        "another address of the same /64 is the same client"
    );
    assert_ne!(
        client_network(ip("2001:db8:1:2::1")),
        client_network(ip("2001:db8:1:3::1"))
    );
    assert_eq!(client_network(ip("203.0.113.7")), ip("203.0.113.7"));
    assert_eq!(client_network(ip("::ffff:203.0.113.7")), ip("203.0.113.7"));
}
