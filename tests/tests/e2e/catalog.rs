//! catalog-service end to end: products of sellers the catalog has seen activated
//! (`seller.activated`), created, read, changed and listed over HTTP, validated, and announced
//! on the CATALOG stream (docs/architecture.md §3–§4).

use paymsa_e2e::{
    catalog::Catalog,
    count, eventually,
    http::post_raw_json,
    problems::{error_fields, expect_problem},
    sellers::{first_product, get_seller, register_ok, SAGA, SAGA_SERVICES},
    streams::Bus,
    values::{decimal, id_of},
    TestSystem,
};
use serde_json::{json, Value};

/// Registers a seller and waits until the catalog accepts its products; the product created
/// on the way is returned.
async fn active_seller_with_product(system: &TestSystem, seller_id: &str) -> (i64, Value) {
    let seller_no = register_ok(system, seller_id).await;
    let product = first_product(
        system,
        &json!({
            "sellerNo": seller_no.to_string(),
            "name": "Widget",
            "description": "a fine widget",
            "price": "1500"
        }),
    )
    .await;
    (seller_no, product)
}

fn product_nos(list: &Value) -> Vec<i64> {
    list["products"]
        .as_array()
        .expect("products array")
        .iter()
        .map(|p| id_of(&p["productNo"]))
        .collect()
}

#[tokio::test]
async fn products_of_an_active_seller_are_created_read_changed_and_listed_in_order() {
    let system = TestSystem::start_only(SAGA_SERVICES).await;
    let catalog = Catalog::new(&system);
    let (seller_no, a) = active_seller_with_product(&system, "catalog-seller").await;

    // The create answer: ids as strings, the price as a decimal string, version 0.
    let a_no = id_of(&a["productNo"]);
    assert_eq!(id_of(&a["sellerNo"]), seller_no, "{a}");
    assert_eq!(a["name"], "Widget");
    assert_eq!(a["description"], "a fine widget");
    assert_eq!(decimal(&a["price"]), "1500", "{a}");
    assert_eq!(a["version"], 0);
    let got = catalog.get_ok(&format!("/api/products/{a_no}")).await;
    assert_eq!(got, a, "GET answers what POST answered");

    // Ids are accepted as JSON numbers too; prices as numbers; names are trimmed.
    let b = catalog
        .create_ok(&json!({
            "sellerNo": seller_no,
            "name": "  Gadget  ",
            "price": 12
        }))
        .await;
    assert_eq!(b["name"], "Gadget", "{b}");
    assert_eq!(b["description"], "", "{b}");
    assert_eq!(decimal(&b["price"]), "12", "{b}");
    assert_eq!(b["currency"], "KRW", "{b}");
    let b_no = id_of(&b["productNo"]);
    // Whole won written with zero decimals is whole won; the currency may be named.
    let cents = catalog
        .create_ok(
            &json!({ "sellerNo": seller_no, "name": "Zeros", "price": "1999.00",
            "currency": "KRW" }),
        )
        .await;
    assert_eq!(decimal(&cents["price"]), "1999", "{cents}");
    // Boundaries that pass: 200 characters (not bytes), the smallest price.
    let c = catalog
        .create_ok(&json!({
            "sellerNo": seller_no.to_string(),
            "name": "가".repeat(200),
            "description": "d".repeat(2000),
            "price": "1"
        }))
        .await;
    assert_eq!(decimal(&c["price"]), "1", "{c}");
    let c_no = id_of(&c["productNo"]);

    // PATCH changes name and price, keeps the description, bumps the version.
    let resp = catalog
        .patch(
            &a_no.to_string(),
            &json!({ "name": "Widget Pro", "price": "1999" }),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let patched: Value = resp.json().await.expect("JSON body");
    assert_eq!(patched["name"], "Widget Pro", "{patched}");
    assert_eq!(decimal(&patched["price"]), "1999", "{patched}");
    assert_eq!(patched["description"], "a fine widget", "{patched}");
    assert_eq!(patched["version"], 1, "{patched}");
    assert_eq!(patched["productNo"], a["productNo"]);
    let got = catalog.get_ok(&format!("/api/products/{a_no}")).await;
    assert_eq!(got, patched);
    let resp = catalog
        .patch(&a_no.to_string(), &json!({ "description": "new" }))
        .await;
    assert_eq!(resp.status(), 200);
    let patched: Value = resp.json().await.expect("JSON body");
    assert_eq!(patched["version"], 2, "{patched}");
    assert_eq!(patched["name"], "Widget Pro", "{patched}");

    // Invalid changes change nothing.
    for bad in [
        json!({ "price": "0" }),
        json!({ "price": "-1" }),
        json!({ "name": "" }),
        json!({ "name": "n".repeat(201) }),
        json!({ "price": "1.001" }),
        json!({ "price": "1000.5" }),
    ] {
        let resp = catalog.patch(&a_no.to_string(), &bad).await;
        let problem = expect_problem(resp, 400, Some("VALIDATION_FAILED")).await;
        assert_eq!(error_fields(&problem).len(), 1, "{bad}: {problem}");
    }
    let resp = catalog
        .patch(&a_no.to_string(), &json!({ "price": "5", "color": "red" }))
        .await;
    expect_problem(resp, 400, None).await;
    let resp = catalog.patch("123456789", &json!({ "name": "x" })).await;
    expect_problem(resp, 404, Some("PRODUCT_NOT_FOUND")).await;
    let resp = catalog.patch("abc", &json!({ "name": "x" })).await;
    expect_problem(resp, 400, None).await;
    let got = catalog.get_ok(&format!("/api/products/{a_no}")).await;
    assert_eq!(got["version"], 2, "{got}");
    assert_eq!(decimal(&got["price"]), "1999", "{got}");

    // GET one: unknown and malformed numbers.
    expect_problem(
        catalog.get("/api/products/123456789").await,
        404,
        Some("PRODUCT_NOT_FOUND"),
    )
    .await;
    expect_problem(catalog.get("/api/products/abc").await, 400, None).await;

    // Many, in the requested order, unknown numbers reported.
    let list = catalog
        .get_ok(&format!("/api/products?productNoList={c_no},{b_no},{a_no}"))
        .await;
    assert_eq!(product_nos(&list), vec![c_no, b_no, a_no], "{list}");
    assert_eq!(list["missingProductNos"], json!([]), "{list}");
    let list = catalog
        .get_ok(&format!(
            "/api/products?productNoList={b_no},424242,{a_no},{c_no},777"
        ))
        .await;
    assert_eq!(product_nos(&list), vec![b_no, a_no, c_no], "{list}");
    assert_eq!(
        list["missingProductNos"],
        json!(["424242", "777"]),
        "{list}"
    );
    assert_eq!(list["products"][1]["name"], "Widget Pro", "{list}");
    let list = catalog
        .get_ok(&format!("/api/products?productNoList=%20{a_no}%20,{b_no}"))
        .await;
    assert_eq!(product_nos(&list), vec![a_no, b_no], "{list}");

    let too_many = (1..=101)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    for garbage in [
        "abc".to_string(),
        format!("{a_no},x"),
        "1;2".to_string(),
        "0".to_string(),
        "-5".to_string(),
        "".to_string(),
        ",,".to_string(),
        "99999999999999999999".to_string(),
        too_many,
    ] {
        let resp = catalog
            .get(&format!("/api/products?productNoList={garbage}"))
            .await;
        expect_problem(resp, 400, None).await;
    }
    expect_problem(catalog.get("/api/products").await, 400, None).await;
    system.stop().await;
}

#[tokio::test]
async fn invalid_products_are_rejected_with_field_errors_and_store_nothing() {
    let system = TestSystem::start_only(SAGA_SERVICES).await;
    let catalog = Catalog::new(&system);
    let (seller_no, first) = active_seller_with_product(&system, "validated-seller").await;
    let catalog_db = system.db(&catalog_service::SPEC).await;
    let stored = || async {
        (
            count(&catalog_db, "select count(*) from products").await,
            count(&catalog_db, "select count(*) from outbox").await,
        )
    };
    let before = stored().await;
    let seller = seller_no.to_string();
    let product = |overrides: Value| {
        let mut body = json!({ "sellerNo": seller, "name": "Thing", "price": "10" });
        for (k, v) in overrides.as_object().expect("object") {
            body[k] = v.clone();
        }
        body
    };

    let field_cases = [
        (json!({ "price": "0" }), "price"),
        (json!({ "price": 0 }), "price"),
        (json!({ "price": "-10" }), "price"),
        (json!({ "price": "10.001" }), "price"),
        (json!({ "price": "1000.5" }), "price"),
        (json!({ "price": 12.5 }), "price"),
        (json!({ "price": "1000000000000" }), "price"),
        (json!({ "currency": "USD" }), "currency"),
        (json!({ "name": "" }), "name"),
        (json!({ "name": "   " }), "name"),
        (json!({ "name": "n".repeat(201) }), "name"),
        (json!({ "description": "d".repeat(2001) }), "description"),
    ];
    for (overrides, field) in field_cases {
        let body = product(overrides);
        let problem =
            expect_problem(catalog.create(&body).await, 400, Some("VALIDATION_FAILED")).await;
        assert_eq!(error_fields(&problem), vec![field], "{problem}");
    }
    // Several bad fields are all reported at once.
    let problem = expect_problem(
        catalog
            .create(&product(json!({ "name": "", "price": "-1" })))
            .await,
        400,
        Some("VALIDATION_FAILED"),
    )
    .await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, vec!["name", "price"], "{problem}");

    // Shape errors: unknown field, wrong types, missing fields, bad ids, NUL characters.
    for body in [
        product(json!({ "color": "red" })),
        product(json!({ "price": "ten" })),
        product(json!({ "price": true })),
        product(json!({ "name": 5 })),
        product(json!({ "sellerNo": "abc" })),
        product(json!({ "sellerNo": 0 })),
        product(json!({ "sellerNo": -3 })),
        json!({ "sellerNo": seller, "price": "10" }),
        json!({ "sellerNo": seller, "name": "Thing" }),
        json!({ "name": "Thing", "price": "10" }),
        json!([]),
        // Postgres text cannot hold NUL: bad input, not a server error
        product(json!({ "name": "nul\u{0}name" })),
        product(json!({ "description": "nul\u{0}description" })),
    ] {
        expect_problem(catalog.create(&body).await, 400, None).await;
    }
    let url = format!("{}/api/products", system.url("catalog-service"));
    for raw in ["not json", "{\"name\": ", ""] {
        let resp = post_raw_json(&system.http, &url, raw).await;
        expect_problem(resp, 400, None).await;
    }
    assert_eq!(
        stored().await,
        before,
        "a rejected product stored something"
    );

    // A NUL character in a change is bad input too.
    let product_no = first["productNo"].as_str().expect("productNo");
    let resp = catalog
        .patch(product_no, &json!({ "name": "a\u{0}b" }))
        .await;
    expect_problem(resp, 400, None).await;
    assert_eq!(stored().await, before, "a rejected change stored an event");
    system.stop().await;
}

#[tokio::test]
async fn only_sellers_the_catalog_has_seen_activated_may_list_products() {
    let mut system = TestSystem::start_only(SAGA_SERVICES).await;
    let catalog_db = system.db(&catalog_service::SPEC).await;
    // Without wallet-service the saga stops after registration: sellers stay PENDING.
    system.stop_service("wallet-service").await;
    let catalog = Catalog::new(&system);

    // Unknown seller.
    let resp = catalog
        .create(&json!({ "sellerNo": "123456789", "name": "Ghost", "price": "1" }))
        .await;
    expect_problem(resp, 422, Some("SELLER_NOT_ACTIVE")).await;

    // A PENDING seller.
    let seller_no = register_ok(&system, "pending-seller").await;
    let body = json!({ "sellerNo": seller_no.to_string(), "name": "Early", "price": "5" });
    let resp = catalog.create(&body).await;
    expect_problem(resp, 422, Some("SELLER_NOT_ACTIVE")).await;
    let (_, seller) = get_seller(&system, seller_no).await;
    assert_eq!(seller["status"], "PENDING", "{seller}");
    assert_eq!(
        count(&catalog_db, "select count(*) from products").await,
        0,
        "a product of an inactive seller was stored"
    );

    // wallet-service comes back and finishes the saga; the catalog then accepts the seller.
    system.restart_service("wallet-service").await;
    let product = first_product(&system, &body).await;
    assert_eq!(id_of(&product["sellerNo"]), seller_no);
    assert_eq!(count(&catalog_db, "select count(*) from products").await, 1);
    system.stop().await;
}

/// `(Nats-Msg-Id, envelope)` of the CATALOG stream's events of `event_type`.
async fn catalog_events(system: &TestSystem, event_type: &str) -> Vec<(Option<String>, Value)> {
    let bus = Bus::connect(system).await;
    let messages = bus
        .messages_of(&events::topology::CATALOG, event_type)
        .await;
    messages
        .into_iter()
        .map(|m| (m.msg_id, m.envelope))
        .collect()
}

#[tokio::test]
async fn product_changes_reach_the_catalog_stream() {
    let system = TestSystem::start_only(SAGA_SERVICES).await;
    let catalog = Catalog::new(&system);
    let (seller_no, product) = active_seller_with_product(&system, "streamed-seller").await;
    let product_no = product["productNo"]
        .as_str()
        .expect("productNo")
        .to_string();

    let of_product = |events: Vec<(Option<String>, Value)>| -> Vec<(Option<String>, Value)> {
        events
            .into_iter()
            .filter(|(_, e)| e["payload"]["productNo"] == product_no.as_str())
            .collect()
    };
    let created = eventually(SAGA, "catalog.product.created on the stream", || async {
        let found = of_product(catalog_events(&system, "catalog.product.created").await);
        (!found.is_empty()).then_some(found)
    })
    .await;
    assert_eq!(created.len(), 1, "{created:?}");
    let (msg_id, envelope) = &created[0];
    assert_eq!(envelope["type"], "catalog.product.created", "{envelope}");
    assert_eq!(envelope["version"], 1, "{envelope}");
    assert_eq!(
        msg_id.as_deref(),
        envelope["eventId"].as_str(),
        "Nats-Msg-Id is the eventId"
    );
    let payload = &envelope["payload"];
    assert_eq!(payload["sellerNo"], seller_no.to_string(), "{payload}");
    assert_eq!(payload["name"], "Widget", "{payload}");
    assert_eq!(payload["description"], "a fine widget", "{payload}");
    assert_eq!(decimal(&payload["price"]), "1500", "{payload}");
    assert_eq!(payload["version"], 0, "{payload}");

    let resp = catalog
        .patch(&product_no, &json!({ "price": "1750" }))
        .await;
    assert_eq!(resp.status(), 200);
    let updated = eventually(SAGA, "catalog.product.updated on the stream", || async {
        let found = of_product(catalog_events(&system, "catalog.product.updated").await);
        (!found.is_empty()).then_some(found)
    })
    .await;
    assert_eq!(updated.len(), 1, "{updated:?}");
    let payload = &updated[0].1["payload"];
    assert_eq!(decimal(&payload["price"]), "1750", "{payload}");
    assert_eq!(payload["name"], "Widget", "{payload}");
    assert_eq!(payload["version"], 1, "{payload}");
    system.stop().await;
}
