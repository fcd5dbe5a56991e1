//! catalog-like-service end to end, over HTTP, alone: the seed's like API as
//! written, exact counts under 100 concurrent likes, repeat likes and unlikes that change
//! nothing, and exactly one LIKES event per real change, the unlike carrying the like's time.

use events::topology::LIKES;
use paymsa_e2e::{http::send, problems::expect_problem, streams::Bus, TestSystem};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::task::JoinSet;

const MEMBERS: i64 = 100;

async fn call(system: &TestSystem, method: Method, path: &str) -> (u16, Value) {
    let url = format!("{}{path}", system.url("catalog-like-service"));
    send(system.http.request(method, url)).await
}

fn like_path(product: i64, member: i64) -> String {
    format!("/api/catalog-likes/products/{product}/members/{member}")
}

/// Sends `method` on the like path of every member at once; returns the statuses.
async fn all_at_once(
    system: &TestSystem,
    method: Method,
    product: i64,
    members: &[i64],
) -> Vec<u16> {
    let base = system.url("catalog-like-service");
    let mut calls = JoinSet::new();
    for &member in members {
        let (http, method) = (system.http.clone(), method.clone());
        let url = format!("{base}{}", like_path(product, member));
        calls.spawn(async move { http.request(method, url).send().await.map(|r| r.status()) });
    }
    let mut statuses = Vec::new();
    while let Some(done) = calls.join_next().await {
        statuses.push(done.expect("task").expect("answered").as_u16());
    }
    statuses
}

#[tokio::test]
async fn seed_like_calls_answer_as_documented() {
    let system = TestSystem::start_only(&["catalog-like-service"]).await;
    let bus = Bus::connect(&system).await;
    let (product, member) = (23_423_958_235_i64, 2_342_352_652_i64);

    let (status, body) = call(&system, Method::POST, &like_path(product, member)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["productNo"], "23423958235", "ids go out as strings");
    assert_eq!(body["memberNo"], "2342352652");
    assert_eq!(
        (body["liked"].clone(), body["changed"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(body["likeCount"], 1);
    let liked_at = body["likedAt"].clone();
    assert!(liked_at.is_string(), "{body}");

    // A repeat like: 200, same like, no second count.
    let (status, body) = call(&system, Method::POST, &like_path(product, member)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["changed"].clone(), body["likeCount"].clone()),
        (json!(false), json!(1))
    );
    assert_eq!(body["likedAt"], liked_at);

    let (status, body) = call(
        &system,
        Method::GET,
        &format!("/api/catalog-likes/products/{product}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"productNo": "23423958235", "likeCount": 1}));

    // Unlike, then unlike again (a no-op), then unlike a product nobody liked.
    let (status, body) = call(&system, Method::DELETE, &like_path(product, member)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["liked"].clone(), body["changed"].clone()),
        (json!(false), json!(true))
    );
    assert_eq!(body["likeCount"], 0);
    let (status, body) = call(&system, Method::DELETE, &like_path(product, member)).await;
    assert_eq!((status, body["changed"].clone()), (200, json!(false)));
    assert_eq!(body["likeCount"], 0, "never negative");
    let (status, body) = call(&system, Method::DELETE, &like_path(7, member)).await;
    assert_eq!((status, body["likeCount"].clone()), (200, json!(0)));
    let (_, body) = call(
        &system,
        Method::GET,
        &format!("/api/catalog-likes/products/{product}"),
    )
    .await;
    assert_eq!(body["likeCount"], 0);

    // A bad id is the client's error, as problem+json.
    let resp = system
        .http
        .post(format!(
            "{}{}",
            system.url("catalog-like-service"),
            "/api/catalog-likes/products/abc/members/1"
        ))
        .send()
        .await
        .expect("answered");
    expect_problem(resp, 400, None).await;

    // One liked and one unliked event; the unlike carries the like's time.
    bus.expect_exactly(&LIKES, 2).await;
    let all = bus.all_envelopes(&LIKES).await;
    assert_eq!(all[0]["type"], "like.product.liked");
    assert_eq!(all[1]["type"], "like.product.unliked");
    for event in &all {
        assert_eq!(event["payload"]["productNo"], "23423958235");
        assert_eq!(event["payload"]["memberNo"], "2342352652");
    }
    let (liked, unliked) = (&all[0]["payload"]["likedAt"], &all[1]["payload"]["likedAt"]);
    assert_eq!(
        chrono_ms(liked),
        chrono_ms(&liked_at),
        "event and API agree on likedAt"
    );
    assert_eq!(liked, unliked, "the unlike names the like it removes");
    system.stop().await;
}

/// Milliseconds of an RFC 3339 timestamp (API and event may print different precisions).
fn chrono_ms(value: &Value) -> i64 {
    let text = value.as_str().expect("timestamp string");
    chrono::DateTime::parse_from_rfc3339(text)
        .expect("RFC 3339")
        .timestamp_millis()
}

#[tokio::test]
async fn a_hundred_concurrent_likes_count_exactly_and_repeats_change_nothing() {
    let system = TestSystem::start_only(&["catalog-like-service"]).await;
    let bus = Bus::connect(&system).await;
    let product = 4_242_i64;
    let members: Vec<i64> = (1..=MEMBERS).collect();
    let count_path = format!("/api/catalog-likes/products/{product}");

    let statuses = all_at_once(&system, Method::POST, product, &members).await;
    assert!(statuses.iter().all(|&s| s == 201), "{statuses:?}");
    assert_eq!(
        call(&system, Method::GET, &count_path).await.1["likeCount"],
        100
    );

    // The same likes again, concurrently: all 200, nothing counted twice.
    let statuses = all_at_once(&system, Method::POST, product, &members).await;
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    assert_eq!(
        call(&system, Method::GET, &count_path).await.1["likeCount"],
        100
    );

    // 40 members unlike (each twice, at once) and 10 who never liked unlike too.
    let mut unlikers: Vec<i64> = (1..=40).chain(1..=40).collect();
    unlikers.extend(1_001..=1_010);
    let statuses = all_at_once(&system, Method::DELETE, product, &unlikers).await;
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    assert_eq!(
        call(&system, Method::GET, &count_path).await.1["likeCount"],
        60
    );

    // The stored count agrees with the like rows, and moved once per real change.
    let db = system.db(&catalog_like_service::SPEC).await;
    let (rows,): (i64,) =
        sqlx::query_as("select count(*) from product_likes where product_no = $1")
            .bind(product)
            .fetch_one(&db)
            .await
            .expect("count rows");
    let (count, version): (i64, i64) =
        sqlx::query_as("select like_count, version from product_like_counts where product_no = $1")
            .bind(product)
            .fetch_one(&db)
            .await
            .expect("count row");
    assert_eq!((rows, count, version), (60, 60, 140));
    db.close().await;

    // One event per real change: 100 likes and 40 unlikes.
    bus.expect_exactly(&LIKES, 140).await;
    let all = bus.all_envelopes(&LIKES).await;
    let unliked = all
        .iter()
        .filter(|e| e["type"] == "like.product.unliked")
        .count();
    assert_eq!(unliked, 40);
    system.stop().await;
}
