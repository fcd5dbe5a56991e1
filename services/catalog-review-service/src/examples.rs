//! Examples in the OpenAPI document: the seed's review call, written as the JSON on the wire
//! ([`service_kit::openapi::example`] parses it with the type's own parser, so an example that
//! stops matching its type fails the build of the document).

use poem_openapi::types::Example;
use serde_json::{json, Value};
use service_kit::openapi::example;

use crate::{
    api::{ProductReviews, Review},
    input::CreateReview,
};

/// The seed's `POST /api/product-reviews` body, exactly.
fn seed_request() -> Value {
    json!({
        "productNo": "23423958235",
        "memberNo": "2342352652",
        "title": "타이블11",
        "content": "내용22",
        "starRatingType": "FIVE"
    })
}

/// The review the seed's request creates.
fn seed_review() -> Value {
    let mut review = seed_request();
    review["productReviewNo"] = json!("7163052337186181120");
    review["createdAt"] = json!("2024-02-13T03:18:05.123Z");
    review
}

impl Example for CreateReview {
    fn example() -> Self {
        example(seed_request())
    }
}

impl Example for Review {
    fn example() -> Self {
        example(seed_review())
    }
}

impl Example for ProductReviews {
    /// Two reviews (5 and 4 stars), newest first, on one page.
    fn example() -> Self {
        let older = json!({
            "productReviewNo": "7162689416334217216",
            "productNo": "23423958235",
            "memberNo": "1",
            "title": "배송 빨라요",
            "content": "포장도 꼼꼼하고 품질도 괜찮습니다.",
            "starRatingType": "FOUR",
            "createdAt": "2024-02-12T09:02:41.507Z"
        });
        example(json!({
            "productNo": "23423958235",
            "reviewCount": 2,
            "averageRating": 4.5,
            "reviews": [seed_review(), older]
        }))
    }
}
