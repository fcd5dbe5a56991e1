//! `POST /api/products` with an `Idempotency-Key` (services/catalog-service/src/creations.rs):
//! a client retrying a create after a lost answer gets the product it created, not a second
//! one (and a second `catalog.product.created`); the key with another request is refused.

use paymsa_e2e::{
    count,
    http::send,
    sellers::{register_ok, SAGA_SERVICES},
    values::id_of,
    TestSystem,
};
use serde_json::{json, Value};

async fn create(system: &TestSystem, body: &Value, key: &str) -> (u16, Value) {
    send(
        system
            .http
            .post(format!("{}/api/products", system.url("catalog-service")))
            .header("Idempotency-Key", key)
            .json(body),
    )
    .await
}

#[tokio::test]
async fn a_repeated_create_with_its_key_answers_the_first_product() {
    let system = TestSystem::start_only(SAGA_SERVICES).await;
    let seller_no = register_ok(&system, "keyed-seller").await;
    let body = json!({"sellerNo": seller_no.to_string(), "name": "Lamp", "price": "2500"});
    // The seller's activation reaches the catalog in a moment.
    let first =
        paymsa_e2e::eventually(paymsa_e2e::sellers::SAGA, "the product created", || async {
            let (status, product) = create(&system, &body, "create-lamp-1").await;
            (status == 201).then_some(product)
        })
        .await;
    let (status, again) = create(&system, &body, "create-lamp-1").await;
    assert_eq!(status, 200, "a repeat: {again}");
    assert_eq!(again, first, "the same product");

    let other = json!({"sellerNo": seller_no.to_string(), "name": "Desk", "price": "2500"});
    let (status, refused) = create(&system, &other, "create-lamp-1").await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (422, Some("IDEMPOTENCY_KEY_REUSED")),
        "{refused}"
    );
    // Another key is another product.
    let (status, second) = create(&system, &body, "create-lamp-2").await;
    assert_eq!(status, 201, "{second}");
    assert_ne!(id_of(&second["productNo"]), id_of(&first["productNo"]));

    // Two copies of one keyed create at once: the second waits on the first's key and is
    // answered its product.
    let chair = json!({"sellerNo": seller_no.to_string(), "name": "Chair", "price": "900"});
    let ((s1, a), (s2, b)) = tokio::join!(
        create(&system, &chair, "create-chair"),
        create(&system, &chair, "create-chair")
    );
    let mut statuses = [s1, s2];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 201], "{a} {b}");
    assert_eq!(a["productNo"], b["productNo"], "one product: {a} {b}");

    let db = system.db(&catalog_service::SPEC).await;
    assert_eq!(count(&db, "select count(*) from products").await, 3);
    assert_eq!(
        count(
            &db,
            "select count(*) from outbox where event_type = 'catalog.product.created'"
        )
        .await,
        3,
        "one event per product"
    );
    db.close().await;
    system.stop().await;
}
