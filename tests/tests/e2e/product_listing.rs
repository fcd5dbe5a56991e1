//! catalog-service's `GET /api/product-listing` (the storefront's catalog): keyset pages in
//! product-number order, a cursor to the next page, validated parameters.

use paymsa_e2e::TestSystem;

#[tokio::test]
async fn the_product_listing_pages_through_the_whole_catalog() {
    let system = TestSystem::builder()
        .only(["catalog-service"])
        .seeded()
        .start()
        .await;
    let base = format!("{}/api/product-listing", system.url("catalog-service"));
    let page = |query: &'static str| {
        let (http, url) = (system.http.clone(), format!("{base}{query}"));
        async move {
            let response = http.get(&url).send().await.expect("listing");
            let status = response.status().as_u16();
            (
                status,
                response.json::<serde_json::Value>().await.expect("json"),
            )
        }
    };
    let numbers = |v: &serde_json::Value| -> Vec<String> {
        v["products"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["productNo"].as_str().map(String::from))
            .collect()
    };
    let (status, first) = page("?limit=2").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(numbers(&first), ["1", "2"]);
    assert_eq!(first["nextAfterProductNo"], "2");
    let (_, last) = page("?limit=2&afterProductNo=2").await;
    assert_eq!(numbers(&last), ["3"]);
    assert!(last["nextAfterProductNo"].is_null(), "{last}");
    assert_eq!(numbers(&page("").await.1), ["1", "2", "3"]);
    for bad in ["?limit=0", "?limit=101", "?afterProductNo=-1", "?limit=x"] {
        let (status, body) = page(bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    system.stop().await;
}
