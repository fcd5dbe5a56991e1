//! Examples in the OpenAPI document, with the seed's product and member numbers, written as
//! the JSON on the wire ([`service_kit::openapi::example`] parses them with the type's own
//! parser, so an example that stops matching its type fails the build of the document).

use poem_openapi::types::Example;
use serde_json::json;
use service_kit::openapi::example;

use crate::api::{LikeStatus, ProductLikeCount};

impl Example for LikeStatus {
    /// A member's first like of the product.
    fn example() -> Self {
        example(json!({
            "productNo": "23423958235",
            "memberNo": "2342352652",
            "liked": true,
            "changed": true,
            "likedAt": "2024-02-13T03:18:05.123Z",
            "likeCount": 17
        }))
    }
}

impl Example for ProductLikeCount {
    fn example() -> Self {
        example(json!({"productNo": "23423958235", "likeCount": 17}))
    }
}
