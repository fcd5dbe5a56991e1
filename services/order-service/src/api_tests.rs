//! How checkout errors are answered.

use super::{ApiError, CatalogError, CheckoutError};
use poem::IntoResponse;
use reqwest::StatusCode;

#[test]
fn a_catalog_refusing_our_request_is_our_fault_and_a_failing_one_is_retryable() {
    let status = |e: CatalogError| {
        ApiError::from(CheckoutError::Catalog(e))
            .into_response()
            .status()
            .as_u16()
    };
    assert_eq!(status(CatalogError::Missing(vec!["9".into()])), 422);
    // (catalog's answer, ours): a refusal of our own request is ours to fix (500); what a
    // retry can cure, a timeout, a rate limit or an outage, is 503.
    let cases = [
        (StatusCode::BAD_REQUEST, 500),
        (StatusCode::NOT_FOUND, 500),
        (StatusCode::REQUEST_TIMEOUT, 503),
        (StatusCode::TOO_MANY_REQUESTS, 503),
        (StatusCode::BAD_GATEWAY, 503),
        (StatusCode::SERVICE_UNAVAILABLE, 503),
    ];
    for (catalog, ours) in cases {
        assert_eq!(status(CatalogError::Status(catalog)), ours, "{catalog}");
    }
}
