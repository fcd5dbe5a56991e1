//! `POST /api/sellers` with an `Idempotency-Key` (services/seller-service/src/api.rs): a client
//! whose 201 was lost registers again and is answered its seller, where it used to get 409
//! `SELLER_ID_TAKEN` — its own first request's doing — and no sellerNo. Handles that print like
//! another's (zero-width or bidi characters) are refused.

use paymsa_e2e::{
    count,
    http::send,
    sellers::{register, SAGA_SERVICES},
    TestSystem,
};
use serde_json::{json, Value};

async fn register_with(system: &TestSystem, seller_id: &str, key: &str) -> (u16, Value) {
    send(
        system
            .http
            .post(format!("{}/api/sellers", system.url("seller-service")))
            .header("Idempotency-Key", key)
            .json(&json!({ "sellerId": seller_id })),
    )
    .await
}

#[tokio::test]
async fn a_repeated_registration_with_its_key_answers_the_seller_it_made() {
    let system = TestSystem::start_only(SAGA_SERVICES).await;
    let (status, first) = register_with(&system, "keyed-shop", "reg-7f3a").await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = register_with(&system, "keyed-shop", "reg-7f3a").await;
    assert_eq!(status, 200, "a repeat: {again}");
    assert_eq!(again["sellerNo"], first["sellerNo"], "{again}");

    let (status, other) = register_with(&system, "other-shop", "reg-7f3a").await;
    assert_eq!(
        (status, other["code"].as_str()),
        (422, Some("IDEMPOTENCY_KEY_REUSED")),
        "{other}"
    );
    // An empty key would be one key for every client that sends it.
    let (status, empty) = register_with(&system, "empty-key-shop", "").await;
    assert_eq!(
        (status, empty["code"].as_str()),
        (400, Some("INVALID_IDEMPOTENCY_KEY")),
        "{empty}"
    );
    // Without its key (or with another) the handle is still someone's.
    let (status, taken) = register_with(&system, "keyed-shop", "reg-9c1d").await;
    assert_eq!(
        (status, taken["code"].as_str()),
        (409, Some("SELLER_ID_TAKEN")),
        "{taken}"
    );
    let resp = register(&system, &json!({"sellerId": "keyed-shop"})).await;
    assert_eq!(resp.status(), 409);

    for lookalike in [
        "keyed\u{200b}-shop",
        "keyed-shop\u{202e}",
        "\u{feff}keyed-shop",
        "keyed-shop\u{e0041}",
        "keyed\u{3164}shop",
        "keyed-shop\u{fe0f}",
    ] {
        let resp = register(&system, &json!({ "sellerId": lookalike })).await;
        assert_eq!(resp.status(), 400, "{lookalike:?}");
    }
    let db = system.db(&seller_service::SPEC).await;
    assert_eq!(count(&db, "select count(*) from sellers").await, 1);
    db.close().await;
    system.stop().await;
}
