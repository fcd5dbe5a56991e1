//! Examples in the OpenAPI document, with the seed's products, written as the JSON on the
//! wire ([`service_kit::openapi::example`] parses it with the type's own parser, so an example
//! that stops matching its type fails the build of the document).

use poem_openapi::types::Example;
use serde_json::json;
use service_kit::openapi::example;

use crate::api::HotProducts;

impl Example for HotProducts {
    /// 상품B (3 likes, one 5-star review, one paid line: 44 points, a few hours old) ahead of
    /// 상품A (a like and a paid line). A like of a product the catalog never announced is
    /// scored but not shown.
    fn example() -> Self {
        example(json!({
            "asOf": "2024-02-13T06:00:00Z",
            "halfLifeSeconds": 86400.0,
            "products": [
                {
                    "rank": 1, "productNo": "2", "score": 40.31,
                    "name": "상품B", "price": "2000", "sellerNo": "1",
                    "likeCount": 3, "reviewCount": 1, "averageRating": 5.0, "paidOrderLines": 1
                },
                {
                    "rank": 2, "productNo": "1", "score": 11.02,
                    "name": "상품A", "price": "1000", "sellerNo": "1",
                    "likeCount": 1, "reviewCount": 0, "averageRating": null, "paidOrderLines": 1
                }
            ]
        }))
    }
}
