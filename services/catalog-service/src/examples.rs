//! Examples in the OpenAPI document, with the seed's seller 1 and products 1/2/3, written as
//! the JSON on the wire ([`service_kit::openapi::example`] parses them with the type's own
//! parser, so an example that stops matching its type fails the build of the document).

use poem_openapi::types::Example;
use serde_json::{json, Value};
use service_kit::openapi::example;

use crate::{
    api::{CreateProduct, Product, ProductList, UpdateProduct},
    listing::ProductPage,
};

/// `?productNoList=` of the list operation: the seed's three products.
pub(crate) fn product_no_list() -> String {
    "1,2,3".into()
}

fn seed_product(no: u32, name: &str, price: &str) -> Value {
    json!({
        "productNo": no.to_string(),
        "sellerNo": "1",
        "name": name,
        "description": "",
        "price": price,
        "currency": "KRW",
        "version": 1,
        "createdAt": "2024-02-01T00:00:00Z",
        "updatedAt": "2024-02-01T00:00:00Z"
    })
}

impl Example for CreateProduct {
    fn example() -> Self {
        example(json!({
            "sellerNo": "1",
            "name": "상품D",
            "description": "에티오피아 예가체프 원두 200g",
            "price": "4500"
        }))
    }
}

impl Example for UpdateProduct {
    /// A price change; absent fields stay as they are.
    fn example() -> Self {
        example(json!({"price": "3900"}))
    }
}

impl Example for Product {
    /// The product the create example makes.
    fn example() -> Self {
        example(json!({
            "productNo": "7163052337186181120",
            "sellerNo": "1",
            "name": "상품D",
            "description": "에티오피아 예가체프 원두 200g",
            "price": "4500",
            "currency": "KRW",
            "version": 1,
            "createdAt": "2024-02-13T03:18:05.123Z",
            "updatedAt": "2024-02-13T03:18:05.123Z"
        }))
    }
}

impl Example for ProductList {
    /// `?productNoList=2,1,4`: the order asked for, and the unknown 4 reported.
    fn example() -> Self {
        example(json!({
            "products": [seed_product(2, "상품B", "2000"), seed_product(1, "상품A", "1000")],
            "missingProductNos": ["4"]
        }))
    }
}

impl Example for ProductPage {
    /// The first page with `limit=2`: the seed's products 1 and 2, then `afterProductNo=2`.
    fn example() -> Self {
        example(json!({
            "products": [seed_product(1, "상품A", "1000"), seed_product(2, "상품B", "2000")],
            "nextAfterProductNo": "2"
        }))
    }
}
