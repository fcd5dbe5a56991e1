//! catalog-review-service's review API, as a client calls it.

use reqwest::Method;
use serde_json::Value;

use crate::{
    http::{call, Answer},
    TestSystem,
};

/// Sends a request to catalog-review-service with an optional raw JSON body.
pub async fn request(
    system: &TestSystem,
    method: Method,
    path: &str,
    body: Option<String>,
) -> Answer {
    let url = format!("{}{path}", system.url("catalog-review-service"));
    let mut request = system.http.request(method, url);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    call(request).await
}

/// `POST /api/product-reviews` with `body` as it is written.
pub async fn post(system: &TestSystem, body: impl ToString) -> Answer {
    let body = Some(body.to_string());
    request(system, Method::POST, "/api/product-reviews", body).await
}

/// [`post`] that must answer 201; the review.
pub async fn create(system: &TestSystem, body: Value) -> Value {
    let answer = post(system, body).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    answer.body
}

/// The product's reviews (200 required); `query` is appended as it is (`?limit=…`).
pub async fn product_reviews(system: &TestSystem, product: &str, query: &str) -> Value {
    let path = format!("/api/product-reviews/products/{product}{query}");
    let answer = request(system, Method::GET, &path, None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

/// `(reviewCount, averageRating)` of a listing.
pub fn summary(listing: &Value) -> (Value, Value) {
    (
        listing["reviewCount"].clone(),
        listing["averageRating"].clone(),
    )
}

/// Deletes `review` (its `productReviewNo`) as `member`; the status.
pub async fn delete(system: &TestSystem, review: &Value, member: &str) -> u16 {
    let review = review.as_str().expect("productReviewNo is a string");
    let path = format!("/api/product-reviews/{review}?memberNo={member}");
    request(system, Method::DELETE, &path, None).await.status
}
