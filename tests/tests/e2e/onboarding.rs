//! The seller onboarding saga end to end (docs/architecture.md §4–§6): `POST /api/sellers` answers 201
//! PENDING at once; `seller.registered` → wallet-service creates the wallet → `wallet.created`
//! → the seller is ACTIVE and `seller.activated` lets the catalog accept its products.
//! Also: validation and duplicates of registration, and the outbox's guarantees when NATS is
//! down or the relay repeats itself.

use std::time::Duration;

use paymsa_e2e::{
    count, eventually,
    http::{metrics_text, post_raw_json},
    problems::expect_problem,
    sellers::{first_product, get_seller, register, register_ok, wait_active, SAGA, SAGA_SERVICES},
    streams::Bus,
    values::{decimal, id_of},
    TestSystem,
};
use serde_json::{json, Value};
use service_kit::nats_server::NatsServer;

/// The seller's `seller.registered` outbox row: (idempotency key, status).
async fn registered_row(pool: &sqlx::PgPool, seller_no: i64) -> (String, String) {
    sqlx::query_as(
        "select idempotency_key, status from outbox
         where event_type = 'seller.registered' and payload->'payload'->>'sellerNo' = $1",
    )
    .bind(seller_no.to_string())
    .fetch_one(pool)
    .await
    .expect("the seller's seller.registered outbox row")
}

async fn wallets_of(pool: &sqlx::PgPool, seller_no: i64) -> i64 {
    sqlx::query_scalar("select count(*) from wallets where seller_no = $1")
        .bind(seller_no)
        .fetch_one(pool)
        .await
        .expect("count wallets")
}

/// POSTs a first product until the catalog has seen `seller.activated` (201).
async fn wait_catalog_accepts(system: &TestSystem, seller_no: i64) {
    let product = json!({
        "sellerNo": seller_no.to_string(),
        "name": "first product",
        "price": "1000"
    });
    first_product(system, &product).await;
}

/// The value of an unlabelled-by-us counter in a service's `/metrics` text.
async fn metric(system: &TestSystem, service: &str, name: &str) -> f64 {
    let text = metrics_text(&system.http, &system.url(service)).await;
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_registered_seller_gets_a_wallet_and_becomes_active() {
    let system = TestSystem::start_only(SAGA_SERVICES).await;

    let resp = register(&system, &json!({ "sellerId": "  happy-seller " })).await;
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.expect("JSON body");
    let seller_no = id_of(&created["sellerNo"]);
    assert_eq!(created["sellerId"], "happy-seller", "trimmed: {created}");
    assert_eq!(created["status"], "PENDING");
    assert!(
        created.get("walletNo").is_none(),
        "no wallet yet: {created}"
    );

    let active = wait_active(&system, seller_no).await;
    assert_eq!(id_of(&active["sellerNo"]), seller_no);
    assert_eq!(active["sellerId"], "happy-seller");
    let wallet_no = id_of(&active["walletNo"]);

    let resp = system
        .http
        .get(format!(
            "{}/api/wallets/sellers/{seller_no}",
            system.url("wallet-service")
        ))
        .send()
        .await
        .expect("wallet-service answered");
    assert_eq!(resp.status(), 200);
    let wallet: Value = resp.json().await.expect("JSON body");
    assert_eq!(id_of(&wallet["walletNo"]), wallet_no, "{wallet}");
    assert_eq!(id_of(&wallet["sellerNo"]), seller_no, "{wallet}");
    // A decimal string on the wire (rendered "0": the zero from numeric(19, 2) loses its scale).
    assert_eq!(decimal(&wallet["balance"]), "0", "{wallet}");
    assert_eq!(wallet["version"], 0, "{wallet}");
    assert_eq!(wallet["recentTransactions"], json!([]), "{wallet}");

    // The last step of the saga: the catalog lets the seller list products.
    wait_catalog_accepts(&system, seller_no).await;

    // One wallet, one wallet.created, one activation.
    let wallet_db = system.db(&wallet_service::SPEC).await;
    assert_eq!(wallets_of(&wallet_db, seller_no).await, 1);
    let seller_db = system.db(&seller_service::SPEC).await;
    assert_eq!(
        count(
            &seller_db,
            "select count(*) from outbox where event_type = 'seller.activated'"
        )
        .await,
        1
    );
    system.stop().await;
}

#[tokio::test]
async fn duplicate_and_invalid_registrations_are_rejected_and_store_nothing() {
    let system = TestSystem::start_only(SAGA_SERVICES).await;
    let seller_db = system.db(&seller_service::SPEC).await;
    let stored = || async {
        (
            count(&seller_db, "select count(*) from sellers").await,
            count(
                &seller_db,
                "select count(*) from outbox where event_type = 'seller.registered'",
            )
            .await,
        )
    };

    register_ok(&system, "taken").await;
    let before = stored().await;
    assert_eq!(before, (1, 1));

    for duplicate in ["taken", "  taken  "] {
        let resp = register(&system, &json!({ "sellerId": duplicate })).await;
        expect_problem(resp, 409, Some("SELLER_ID_TAKEN")).await;
    }

    let too_long = "x".repeat(101);
    let bad_json_bodies = [
        json!({ "sellerId": "" }),
        json!({ "sellerId": "   " }),
        json!({ "sellerId": too_long }),
        json!({ "sellerId": "ok-but", "extra": 1 }),
        json!({ "sellerId": 42 }),
        json!({ "sellerId": null }),
        json!({}),
        json!(["taken"]),
        // Postgres text cannot hold NUL: bad input, not a server error
        json!({ "sellerId": "nul\u{0}byte" }),
    ];
    for body in &bad_json_bodies {
        let resp = register(&system, body).await;
        let problem = expect_problem(resp, 400, None).await;
        assert!(problem["code"].is_string(), "{body} → {problem}");
    }
    for field_error in [json!({ "sellerId": "" }), json!({ "sellerId": too_long })] {
        let resp = register(&system, &field_error).await;
        let problem = expect_problem(resp, 400, Some("VALIDATION_FAILED")).await;
        assert_eq!(problem["errors"][0]["field"], "sellerId", "{problem}");
    }
    let url = format!("{}/api/sellers", system.url("seller-service"));
    for raw in ["not json", "{\"sellerId\": \"a\"", ""] {
        let resp = post_raw_json(&system.http, &url, raw).await;
        expect_problem(resp, 400, None).await;
    }
    assert_eq!(
        stored().await,
        before,
        "a rejected registration stored something"
    );

    // Boundaries that must pass: 100 characters, counted as characters, not bytes.
    register_ok(&system, &"y".repeat(100)).await;
    register_ok(&system, &"가".repeat(100)).await;

    // Concurrent registrations of one new id: exactly one wins.
    let attempts: Vec<_> = (0..6)
        .map(|_| {
            let request = system.http.post(&url).json(&json!({ "sellerId": "race" }));
            tokio::spawn(async move { request.send().await.expect("answered").status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.expect("request task"));
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(stored().await, (before.0 + 3, before.1 + 3));
    system.stop().await;
}

#[tokio::test]
async fn a_seller_registered_while_nats_is_down_is_onboarded_once_nats_is_back() {
    let mut nats = NatsServer::start().await.expect("private nats-server");
    let system = TestSystem::builder()
        .only(SAGA_SERVICES.iter().copied())
        .overrides([("NATS_URL", nats.url())])
        .start()
        .await;
    let seller_db = system.db(&seller_service::SPEC).await;
    let wallet_db = system.db(&wallet_service::SPEC).await;

    nats.stop().await;
    let started = tokio::time::Instant::now();
    let seller_no = register_ok(&system, "registered-in-outage").await;
    assert!(
        // generous for a loaded machine, well below the relay's 5 s publish timeout
        started.elapsed() < Duration::from_secs(4),
        "registration waited for NATS: {:?}",
        started.elapsed()
    );

    // Past a nudge and a sweep (sweep_after 2 s, interval 1 s): still unpublished, still PENDING.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (key, status) = registered_row(&seller_db, seller_no).await;
    assert_ne!(status, "SUCCESS", "published while NATS was down");
    let (_, seller) = get_seller(&system, seller_no).await;
    assert_eq!(seller["status"], "PENDING", "{seller}");
    assert_eq!(wallets_of(&wallet_db, seller_no).await, 0);

    nats.start_again().await.expect("nats-server restarts");
    let active = wait_active(&system, seller_no).await;
    id_of(&active["walletNo"]);
    eventually(SAGA, "the outbox row to be marked SUCCESS", || async {
        let (_, status) = registered_row(&seller_db, seller_no).await;
        (status == "SUCCESS").then_some(())
    })
    .await;
    assert_eq!(wallets_of(&wallet_db, seller_no).await, 1);
    // seller.activated also made it out after the outage.
    wait_catalog_accepts(&system, seller_no).await;

    let bus = Bus::connect_to(&nats.url(), &system.namespace).await;
    let copies = bus
        .messages(&events::topology::SELLERS)
        .await
        .into_iter()
        .filter(|m| m.msg_id.as_deref() == Some(key.as_str()))
        .count();
    assert_eq!(copies, 1, "seller.registered stored {copies} times");
    system.stop().await;
}

#[tokio::test]
async fn a_republished_outbox_row_is_dropped_by_jetstream_and_changes_nothing() {
    let system = TestSystem::start_only(SAGA_SERVICES).await;
    let seller_db = system.db(&seller_service::SPEC).await;
    let wallet_db = system.db(&wallet_service::SPEC).await;
    let seller_no = register_ok(&system, "republished").await;
    wait_active(&system, seller_no).await;
    let (key, status) = eventually(SAGA, "the outbox row to be SUCCESS", || async {
        let row = registered_row(&seller_db, seller_no).await;
        (row.1 == "SUCCESS").then_some(row)
    })
    .await;
    assert_eq!(status, "SUCCESS");
    let duplicates_before = metric(
        &system,
        "seller-service",
        "paymsa_outbox_publish_duplicates_total",
    )
    .await;

    // The relay published and crashed before its SUCCESS mark committed.
    let reset = sqlx::query(
        "update outbox set status = 'INIT', published_at = null where idempotency_key = $1",
    )
    .bind(&key)
    .execute(&seller_db)
    .await
    .expect("reset the row");
    assert_eq!(reset.rows_affected(), 1);

    eventually(
        SAGA,
        "the row to be re-published and marked SUCCESS",
        || async {
            let published: Option<(
                String,
                Option<sqlx::types::chrono::DateTime<sqlx::types::chrono::Utc>>,
            )> = sqlx::query_as(
                "select status, published_at from outbox where idempotency_key = $1",
            )
            .bind(&key)
            .fetch_optional(&seller_db)
            .await
            .expect("outbox row");
            matches!(published, Some((s, Some(_))) if s == "SUCCESS").then_some(())
        },
    )
    .await;
    let duplicates_after = metric(
        &system,
        "seller-service",
        "paymsa_outbox_publish_duplicates_total",
    )
    .await;
    assert!(
        duplicates_after >= duplicates_before + 1.0,
        "the re-publish was not acknowledged as a duplicate ({duplicates_before} → {duplicates_after})"
    );

    let bus = Bus::connect(&system).await;
    let messages = bus.messages(&events::topology::SELLERS).await;
    let copies: Vec<_> = messages
        .iter()
        .filter(|m| m.msg_id.as_deref() == Some(key.as_str()))
        .collect();
    assert_eq!(copies.len(), 1, "{messages:?}");
    let envelope = &copies[0].envelope;
    assert_eq!(
        copies[0].subject,
        bus.topology.subject("seller.registered"),
        "{envelope}"
    );
    assert_eq!(envelope["eventId"], key.as_str());
    assert_eq!(envelope["payload"]["sellerNo"], seller_no.to_string());

    assert_eq!(wallets_of(&wallet_db, seller_no).await, 1);
    let processed: i64 = sqlx::query_scalar(
        "select count(*) from processed_events where consumer = 'wallet-onboarding' and event_id::text = $1",
    )
    .bind(&key)
    .fetch_one(&wallet_db)
    .await
    .expect("count processed events");
    assert_eq!(processed, 1);
    // The wallet was announced once: no second wallet.created for a re-delivery.
    assert_eq!(
        count(
            &wallet_db,
            "select count(*) from outbox where event_type = 'wallet.created'"
        )
        .await,
        1
    );
    system.stop().await;
}

#[tokio::test]
async fn unknown_and_malformed_seller_numbers() {
    let system = TestSystem::start_only(SAGA_SERVICES).await;
    let base = system.url("seller-service");
    let get = |path: &str| system.http.get(format!("{base}{path}")).send();

    let resp = get("/api/sellers/123456789").await.expect("answered");
    expect_problem(resp, 404, Some("SELLER_NOT_FOUND")).await;
    for bad in ["abc", "0", "-1", "1.5", "99999999999999999999"] {
        let resp = get(&format!("/api/sellers/{bad}")).await.expect("answered");
        expect_problem(resp, 400, None).await;
    }
    system.stop().await;
}
