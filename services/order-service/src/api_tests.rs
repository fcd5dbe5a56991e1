//! How checkout errors are answered.

use super::{ApiError, CatalogError, CheckoutError};
use poem::IntoResponse;

#[test]
fn a_catalog_refusing_our_request_is_our_fault_and_a_failing_one_is_retryable() {
    let status = |e: CatalogError| {
        ApiError::from(CheckoutError::Catalog(e))
            .into_response()
            .status()
            .as_u16()
    };
    assert_eq!(status(CatalogError::Missing(vec!["9".into()])), 422);
    assert_eq!(
        status(CatalogError::Status(reqwest::StatusCode::BAD_REQUEST)),
        500
    );
    assert_eq!(
        status(CatalogError::Status(reqwest::StatusCode::NOT_FOUND)),
        500
    );
    assert_eq!(
        status(CatalogError::Status(reqwest::StatusCode::BAD_GATEWAY)),
        503
    );
    assert_eq!(
        status(CatalogError::Status(
            reqwest::StatusCode::SERVICE_UNAVAILABLE
        )),
        503
    );
    assert_eq!(
        status(CatalogError::Status(reqwest::StatusCode::TOO_MANY_REQUESTS)),
        503
    );
    assert_eq!(
        status(CatalogError::Status(reqwest::StatusCode::REQUEST_TIMEOUT)),
        503
    );
}
