//! Checkout prices from order-service's own copy of the catalog (services/order-service/src/
//! prices.rs): kept from the catalog's answers and its `catalog.product.*` events, used while
//! the catalog vouched for it within `CATALOG_PRICE_MAX_AGE_MS`, asked of catalog-service
//! again after that. Shown by stopping catalog-service: a checkout that still succeeds priced
//! from the copy, one that gets 503 asked the catalog.

use std::time::Duration;

use paymsa_e2e::{catalog::Catalog, eventually, money::checkout, values::decimal, TestSystem};
use serde_json::json;

const SERVICES: [&str; 2] = ["catalog-service", "order-service"];

async fn local_price(pool: &sqlx::PgPool, product_no: i64) -> Option<(String, i64)> {
    sqlx::query_as::<_, (String, i64)>(
        "select price::text, source_version from catalog_prices where product_no = $1",
    )
    .bind(product_no)
    .fetch_optional(pool)
    .await
    .expect("catalog_prices readable")
}

#[tokio::test]
async fn checkout_prices_from_the_copy_the_catalog_keeps_fresh() {
    let mut system = TestSystem::builder().only(SERVICES).seeded().start().await;
    let orders = system.db(&order_service::SPEC).await;

    // The seed's products were never announced: the first checkout asks the catalog and
    // keeps its answer.
    assert_eq!(local_price(&orders, 1).await, None);
    let (status, first) = checkout(&system, &[1, 1], None).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(decimal(&first["amount"]), "2000", "{first}");
    assert_eq!(local_price(&orders, 1).await, Some(("1000.00".into(), 0)));

    // A price change reaches the copy through catalog.product.updated.
    let changed = Catalog::new(&system)
        .patch("1", &json!({ "price": "1500" }))
        .await;
    assert!(changed.status().is_success(), "{}", changed.status());
    eventually(
        Duration::from_secs(10),
        "the new price in order-service",
        || {
            let orders = orders.clone();
            async move {
                local_price(&orders, 1)
                    .await
                    .filter(|(_, version)| *version == 1)
            }
        },
    )
    .await;

    // Without the catalog, a known product is still priced — at the new price — and an
    // unknown one is refused as before (503: prices cannot be fetched, never a guess).
    system.stop_service("catalog-service").await;
    let (status, keyed) = checkout(&system, &[1], Some("local-1")).await;
    assert_eq!(status, 201, "{keyed}");
    assert_eq!(decimal(&keyed["amount"]), "1500", "{keyed}");
    let (status, body) = checkout(&system, &[2], None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("CATALOG_UNAVAILABLE")),
        "{body}"
    );

    // A stored answer is replayed without the catalog too.
    let (status, again) = checkout(&system, &[1], Some("local-1")).await;
    assert_eq!((status, &again), (201, &keyed), "replayed");

    // A copy the catalog has not vouched for within the max age is not used.
    sqlx::query("update catalog_prices set confirmed_at = now() - interval '1 hour'")
        .execute(&orders)
        .await
        .expect("aged");
    let (status, body) = checkout(&system, &[1], None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("CATALOG_UNAVAILABLE")),
        "{body}"
    );

    let orders_made: i64 = sqlx::query_scalar("select count(*) from payment_events")
        .fetch_one(&orders)
        .await
        .expect("count");
    assert_eq!(
        orders_made, 2,
        "one order per successful checkout, none for a replay"
    );
    orders.close().await;
    system.stop().await;
}
