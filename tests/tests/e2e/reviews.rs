//! catalog-review-service end to end, over HTTP, alone: the seed's review
//! API as written (ids as strings), exact counts and averages, owner-only idempotent delete
//! counted once, every invalid field reported as problem+json with nothing stored, pages
//! newest first, and exactly one REVIEWS event per real change.

use events::topology::REVIEWS;
use paymsa_e2e::{
    problems::assert_problem,
    reviews::{create, delete, post, product_reviews, request, summary},
    streams::Bus,
    TestSystem,
};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::task::JoinSet;

/// The seed's example request, as written.
const SEED_BODY: &str = r#"{"productNo":"23423958235","memberNo":"2342352652","title":"타이블11","content":"내용22","starRatingType":"FIVE"}"#;

#[tokio::test]
async fn seed_review_calls_answer_as_documented_and_delete_counts_once() {
    let system = TestSystem::start_only(&["catalog-review-service"]).await;
    let bus = Bus::connect(&system).await;

    let answer = post(&system, SEED_BODY).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let first = answer.body;
    let first_no = first["productReviewNo"].clone();
    assert!(
        first_no.as_str().is_some_and(|s| s.parse::<i64>().is_ok()),
        "{first}"
    );
    let expected = json!({"productReviewNo": first_no, "productNo": "23423958235",
        "memberNo": "2342352652", "title": "타이블11", "content": "내용22",
        "starRatingType": "FIVE", "createdAt": first["createdAt"]});
    assert_eq!(first, expected);
    assert!(first["createdAt"].is_string());

    // Ids as JSON numbers are accepted too; another member, two stars.
    let second = create(
        &system,
        json!({"productNo": 23423958235_i64, "memberNo": 77,
        "title": "둘째", "content": "보통", "starRatingType": "TWO"}),
    )
    .await;
    let listed = product_reviews(&system, "23423958235", "").await;
    assert_eq!(listed["productNo"], "23423958235");
    assert_eq!(summary(&listed), (json!(2), json!(3.5)));
    assert_eq!(
        listed["reviews"],
        json!([second, first]),
        "newest first, as created"
    );
    assert!(listed.get("nextCursor").is_none(), "one page");

    // Owner-only: another member (and an unknown review) get 404 and change nothing.
    assert_eq!(delete(&system, &first_no, "77").await, 404);
    assert_eq!(delete(&system, &json!("999"), "2342352652").await, 404);
    let listed = product_reviews(&system, "23423958235", "").await;
    assert_eq!(summary(&listed), (json!(2), json!(3.5)));

    // The owner deletes twice: both succeed, the review is uncounted once.
    assert_eq!(delete(&system, &first_no, "2342352652").await, 204);
    assert_eq!(delete(&system, &first_no, "2342352652").await, 204);
    let listed = product_reviews(&system, "23423958235", "").await;
    assert_eq!(summary(&listed), (json!(1), json!(2.0)));
    assert_eq!(listed["reviews"], json!([second]));
    let db = system.db(&catalog_review_service::SPEC).await;
    let counts: (i64, i64) = sqlx::query_as(
        "select review_count, star_rating_sum from product_review_counts
         where product_no = 23423958235",
    )
    .fetch_one(&db)
    .await
    .expect("counts row");
    assert_eq!(counts, (1, 2));
    db.close().await;

    // A product without reviews answers zeros.
    let empty = product_reviews(&system, "5", "").await;
    let zero = json!({"productNo": "5", "reviewCount": 0, "averageRating": 0.0, "reviews": []});
    assert_eq!(empty, zero);

    // Two created and one deleted event; the delete carries what the create counted.
    bus.expect_exactly(&REVIEWS, 3).await;
    let all = bus.all_envelopes(&REVIEWS).await;
    let types: Vec<&Value> = all.iter().map(|e| &e["type"]).collect();
    let created = "review.product.created";
    assert_eq!(types, [created, created, "review.product.deleted"]);
    let (created, deleted) = (&all[0]["payload"], &all[2]["payload"]);
    assert_eq!(created["productReviewNo"], first_no);
    assert_eq!(created["starRating"], 5);
    assert_eq!(
        deleted, created,
        "the delete names the review, rating and time it removes"
    );
    system.stop().await;
}

#[tokio::test]
async fn invalid_reviews_get_field_errors_and_store_nothing() {
    let system = TestSystem::start_only(&["catalog-review-service"]).await;
    let bus = Bus::connect(&system).await;
    let long_content = "가".repeat(3001);
    let every_field = vec![
        "productNo",
        "memberNo",
        "title",
        "content",
        "starRatingType",
    ];
    let bodies = [
        // Every field wrong at once (memberNo missing): each one is reported.
        (
            json!({"productNo": "abc", "title": "  ", "content": long_content,
                "starRatingType": "SIX"}),
            every_field,
        ),
        (
            json!({"productNo": "1", "memberNo": "2", "title": "t".repeat(101), "content": "c",
                "starRatingType": "ONE"}),
            vec!["title"],
        ),
        (
            json!({"productNo": "1", "memberNo": 0, "title": "t", "content": "",
                "starRatingType": 5}),
            vec!["memberNo", "content", "starRatingType"],
        ),
        // Text must be a JSON string: a number or boolean is not its text.
        (
            json!({"productNo": "1", "memberNo": "2", "title": 5, "content": true,
                "starRatingType": "ONE"}),
            vec!["title", "content"],
        ),
    ];
    for (body, fields) in bodies {
        let answer = post(&system, body).await;
        assert_problem(&answer, 400, Some("VALIDATION_FAILED"));
        let errors = answer.body["errors"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let reported: Vec<&str> = errors.iter().filter_map(|e| e["field"].as_str()).collect();
        assert_eq!(reported, fields, "{}", answer.body);
        assert!(errors
            .iter()
            .all(|e| e["message"].as_str().is_some_and(|m| !m.is_empty())));
    }
    // Unknown fields and non-JSON are rejected too (problem+json, no field list).
    let unknown = r#"{"productNo":"1","memberNo":"2","title":"t","content":"c",
        "starRatingType":"ONE","extra":1}"#;
    for body in [unknown, "not json"] {
        assert_problem(&post(&system, body).await, 400, Some("INVALID_REQUEST"));
    }
    // Bounds are inclusive: a 100-character title and 3000-character content are fine.
    create(
        &system,
        json!({"productNo": "1", "memberNo": "2", "title": "제".repeat(100),
        "content": "가".repeat(3000), "starRatingType": "THREE"}),
    )
    .await;

    // The lenient parsing does not blur the published schema: real types, all required.
    let spec_url = format!("{}/openapi.json", system.url("catalog-review-service"));
    let spec: Value = system
        .http
        .get(spec_url)
        .send()
        .await
        .expect("spec")
        .json()
        .await
        .expect("JSON");
    let schemas = &spec["components"]["schemas"];
    assert_eq!(
        schemas["CreateReview"]["required"],
        json!(every_field_names())
    );
    let rating = &schemas["CreateReview"]["properties"]["starRatingType"]["$ref"];
    assert_eq!(rating, "#/components/schemas/StarRatingType");
    let ratings = json!(["ONE", "TWO", "THREE", "FOUR", "FIVE"]);
    assert_eq!(schemas["StarRatingType"]["enum"], ratings);
    assert_eq!(
        schemas["CreateReview"]["properties"]["productNo"]["type"],
        "string"
    );

    let db = system.db(&catalog_review_service::SPEC).await;
    let stored: (i64, i64) = sqlx::query_as(
        "select (select count(*) from product_reviews), (select count(*) from outbox)",
    )
    .fetch_one(&db)
    .await
    .expect("counts");
    assert_eq!(stored, (1, 1), "only the valid review was stored");
    db.close().await;
    bus.expect_exactly(&REVIEWS, 1).await;
    system.stop().await;
}

#[tokio::test]
async fn concurrent_reviews_count_exactly_and_page_newest_first() {
    let system = TestSystem::start_only(&["catalog-review-service"]).await;
    let bus = Bus::connect(&system).await;
    let base = system.url("catalog-review-service");
    const RATINGS: [&str; 5] = ["ONE", "TWO", "THREE", "FOUR", "FIVE"];

    // 30 members review one product at once (stars 1..=5 round robin: sum 90).
    let mut calls = JoinSet::new();
    for member in 1..=30_usize {
        let (http, url) = (system.http.clone(), format!("{base}/api/product-reviews"));
        let body = json!({"productNo": "900", "memberNo": member.to_string(),
            "title": format!("t{member}"), "content": "c", "starRatingType": RATINGS[member % 5]});
        calls.spawn(async move {
            let resp = http.post(url).json(&body).send().await.expect("answered");
            assert_eq!(resp.status(), 201);
            resp.json::<Value>().await.expect("review")
        });
    }
    let created: Vec<Value> = calls.join_all().await;
    let first = product_reviews(&system, "900", "?limit=7").await;
    assert_eq!(summary(&first), (json!(30), json!(3.0)));

    // Walk every page: 30 distinct reviews, newest first across page boundaries.
    let (mut seen, mut page) = (Vec::<(i64, i64)>::new(), first);
    loop {
        let reviews = page["reviews"].as_array().cloned().unwrap_or_default();
        seen.extend(reviews.iter().map(order_key));
        let Some(cursor) = page["nextCursor"].as_str().map(str::to_string) else {
            break;
        };
        page = product_reviews(&system, "900", &format!("?limit=7&cursor={cursor}")).await;
    }
    assert_eq!(seen.len(), 30);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seen:?}"
    );
    let too_many = "/api/product-reviews/products/900?limit=101";
    assert_problem(
        &request(&system, Method::GET, too_many, None).await,
        400,
        Some("VALIDATION_FAILED"),
    );

    // Ten owners delete their reviews, each twice at once: uncounted exactly once.
    let mut calls = JoinSet::new();
    for review in &created[..10] {
        let (no, member) = (&review["productReviewNo"], &review["memberNo"]);
        let url = format!(
            "{base}/api/product-reviews/{}?memberNo={}",
            str_of(no),
            str_of(member)
        );
        for _ in 0..2 {
            let (http, url) = (system.http.clone(), url.clone());
            calls.spawn(async move { http.delete(url).send().await.map(|r| r.status().as_u16()) });
        }
    }
    let statuses: Vec<u16> = calls.join_all().await.into_iter().flatten().collect();
    assert_eq!(statuses, [204; 20]);
    let removed: i64 = created[..10]
        .iter()
        .map(|r| stars(&r["starRatingType"]))
        .sum();
    let listed = product_reviews(&system, "900", "?limit=100").await;
    let average = ((90 - removed) as f64 / 20.0 * 100.0).round() / 100.0;
    assert_eq!(summary(&listed), (json!(20), json!(average)));
    assert_eq!(listed["reviews"].as_array().map(Vec::len), Some(20));
    bus.expect_exactly(&REVIEWS, 40).await;
    system.stop().await;
}

fn every_field_names() -> [&'static str; 5] {
    [
        "productNo",
        "memberNo",
        "title",
        "content",
        "starRatingType",
    ]
}

fn str_of(value: &Value) -> &str {
    value.as_str().expect("a string id")
}

/// The listing order: creation time (µs), then review number.
fn order_key(review: &Value) -> (i64, i64) {
    let created = str_of(&review["createdAt"]);
    let at = chrono::DateTime::parse_from_rfc3339(created).expect("RFC 3339");
    (
        at.timestamp_micros(),
        str_of(&review["productReviewNo"]).parse().expect("number"),
    )
}

fn stars(rating: &Value) -> i64 {
    match rating.as_str() {
        Some("ONE") => 1,
        Some("TWO") => 2,
        Some("THREE") => 3,
        Some("FOUR") => 4,
        Some("FIVE") => 5,
        other => panic!("unexpected rating {other:?}"),
    }
}
