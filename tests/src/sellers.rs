//! Seller onboarding over HTTP: registration, the seller's status, and waiting for the saga
//! (`seller.registered` → wallet → `seller.activated`) to let the seller list products.

use std::time::Duration;

use serde_json::{json, Value};

use crate::{catalog::Catalog, eventually, problems::expect_problem, values::id_of, TestSystem};

/// The services of the onboarding saga (seller → wallet → seller activated) and the catalog
/// that listens to it, for [`TestSystem::start_only`].
pub const SAGA_SERVICES: &[&str] = &["seller-service", "wallet-service", "catalog-service"];

/// How long the onboarding saga may take.
pub const SAGA: Duration = Duration::from_secs(20);

/// `POST /api/sellers` with `body`.
pub async fn register(system: &TestSystem, body: &Value) -> reqwest::Response {
    system
        .http
        .post(format!("{}/api/sellers", system.url("seller-service")))
        .json(body)
        .send()
        .await
        .expect("seller-service answered")
}

/// Registers `seller_id`, checks the 201 PENDING answer and returns the seller number.
pub async fn register_ok(system: &TestSystem, seller_id: &str) -> i64 {
    let resp = register(system, &json!({ "sellerId": seller_id })).await;
    assert_eq!(resp.status(), 201, "registering {seller_id:?}");
    let body: Value = resp.json().await.expect("JSON body");
    assert_eq!(body["status"], "PENDING", "{body}");
    id_of(&body["sellerNo"])
}

/// `(status, body)` of `GET /api/sellers/{seller_no}`.
pub async fn get_seller(system: &TestSystem, seller_no: i64) -> (u16, Value) {
    let resp = system
        .http
        .get(format!(
            "{}/api/sellers/{seller_no}",
            system.url("seller-service")
        ))
        .send()
        .await
        .expect("seller-service answered");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("JSON body"))
}

/// Waits until the seller is ACTIVE; the seller.
pub async fn wait_active(system: &TestSystem, seller_no: i64) -> Value {
    eventually(SAGA, "the seller to become ACTIVE", || async {
        let (status, body) = get_seller(system, seller_no).await;
        assert_eq!(status, 200, "{body}");
        (body["status"] == "ACTIVE").then_some(body)
    })
    .await
}

/// POSTs `product` until the catalog has seen its seller activated and answers 201; the
/// created product. Any answer but that and 422 SELLER_NOT_ACTIVE fails the test.
pub async fn first_product(system: &TestSystem, product: &Value) -> Value {
    let catalog = Catalog::new(system);
    eventually(
        SAGA,
        "the catalog to accept the seller's products",
        || async {
            let resp = catalog.create(product).await;
            match resp.status().as_u16() {
                201 => Some(resp.json::<Value>().await.expect("JSON body")),
                422 => {
                    expect_problem(resp, 422, Some("SELLER_NOT_ACTIVE")).await;
                    None
                }
                other => panic!("catalog answered {other}: {:?}", resp.text().await),
            }
        },
    )
    .await
}
