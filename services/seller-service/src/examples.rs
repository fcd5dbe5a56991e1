//! Examples in the OpenAPI document, written as the JSON on the wire
//! ([`service_kit::openapi::example`] parses them with the type's own parser, so an example
//! that stops matching its type fails the build of the document).

use poem_openapi::types::Example;
use serde_json::json;
use service_kit::openapi::example;

use crate::api::{RegisterSeller, Seller};

impl Example for RegisterSeller {
    fn example() -> Self {
        example(json!({"sellerId": "seoul-coffee"}))
    }
}

impl Example for Seller {
    /// Right after registration: PENDING, no wallet yet.
    fn example() -> Self {
        example(json!({
            "sellerNo": "7163052337186181120",
            "sellerId": "seoul-coffee",
            "status": "PENDING",
            "createdAt": "2024-02-13T03:18:05.123Z",
            "updatedAt": "2024-02-13T03:18:05.123Z"
        }))
    }
}
