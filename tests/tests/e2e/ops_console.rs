//! The ops console (issue 15, tools/ops-console) against the real system: headless Chromium
//! (tests/browser/webdriver.rs) logs in, reads the streams and consumers from a private NATS's
//! monitoring endpoint, finds order-query's dead letter, opens it, replays it while the outage
//! lasts (the failure is shown) and after it (APPLIED), and looks at the outbox and payments
//! pages. Without a session every page sends the browser to the login page and every form is
//! refused; a form without the session's CSRF token is refused before anything runs.

use std::{collections::HashMap, path::PathBuf, time::Duration};

use crate::webdriver::Browser;
use ops_console::{Console, ConsoleConfig};
use paymsa_e2e::{
    all_services, eventually,
    order_history::get,
    outage::{end_projection_outage, projection_dead_letter},
    streams::Bus,
    TestSystem,
};
use service_kit::nats_server::{free_port, NatsServer};

const ADMIN_TOKEN: &str = "test-admin-token";

/// `target/test-artifacts/<name>` of the workspace (created).
fn artifact(name: &str) -> PathBuf {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is in the workspace");
    let dir = workspace.join("target").join("test-artifacts");
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir.join(name)
}

/// A console on a free port reading every service of `system` and the monitoring endpoint.
async fn console_for(system: &TestSystem, monitor: &str) -> Console {
    let services = all_services()
        .into_iter()
        .map(|(spec, _)| {
            let url = system.url(spec.name).parse().expect("service URL");
            (spec.name.to_string(), url)
        })
        .collect();
    let mut config = ConsoleConfig::new(services, monitor.parse().expect("monitor URL"));
    config.port = 0;
    config.nats_namespace = system.namespace.clone();
    Console::start(config).await.expect("the console starts")
}

#[tokio::test]
async fn an_operator_finds_and_replays_a_dead_letter_in_the_browser() {
    // A private server with its monitoring port: the console reads /jsz from it.
    let monitor_port = free_port().expect("a free port");
    let nats = NatsServer::start_with_config(&format!("http: \"127.0.0.1:{monitor_port}\"\n"))
        .await
        .expect("nats-server starts");
    let monitor = format!("http://127.0.0.1:{monitor_port}");
    // A periodic reconciliation soon after start, for the payments page's "last success".
    let overrides = HashMap::from([
        ("NATS_URL".to_string(), nats.url()),
        ("RECONCILE_INTERVAL_MS".to_string(), "500".to_string()),
    ]);
    let system = TestSystem::start_with(overrides).await;
    let bus = Bus::connect_to(&nats.url(), &system.namespace).await;
    let db = system.db(&order_query_service::SPEC).await;
    let (member, pen) = (9_151, 915_001);
    let (confirmed, id) = projection_dead_letter(&db, &bus, member, pen).await;

    let console = console_for(&system, &monitor).await;
    let base = format!("http://127.0.0.1:{}", console.port());
    let browser = Browser::launch(&artifact("chromedriver-ops-console.log")).await;

    browser.goto(&format!("{base}/streams")).await;
    browser.wait_for_path("/login").await;
    browser.fill("#token", "not-the-admin-token").await;
    browser.click("#login").await;
    let refused = browser.text("#login-error").await;
    assert!(
        refused.contains("refused"),
        "a wrong token is refused: {refused}"
    );
    browser.fill("#token", ADMIN_TOKEN).await;
    browser.click("#login").await;
    browser.wait_for_path("/streams").await;

    let orders = format!("{}_ORDERS", system.namespace.to_uppercase());
    let consumers = browser.text(&format!("#consumers-{orders}")).await;
    for expected in [
        "order-query-projection",
        "wallet-settlement",
        "ack floor",
        "redelivered",
    ] {
        assert!(consumers.contains(expected), "{expected} in {consumers}");
    }
    browser
        .screenshot(&artifact("ops-console-streams.png"))
        .await;

    browser.goto(&format!("{base}/dead-letters")).await;
    let letters = browser.text("#dead-letters").await;
    assert!(
        letters.contains(&id.to_string()) && letters.contains("order-query-projection"),
        "the dead letter is listed: {letters}"
    );
    let detail_path = format!("/dead-letters/order-query-service/{id}");
    browser.click(&format!("a[href=\"{detail_path}\"]")).await;
    browser.wait_for_path(&detail_path).await;
    let payload = browser.text("#payload").await;
    assert!(
        payload.contains(&confirmed.event_id.to_string()),
        "the payload is shown: {payload}"
    );
    assert!(browser.text("#headers").await.contains("Nats-Msg-Id"));
    browser
        .screenshot(&artifact("ops-console-dead-letter.png"))
        .await;

    browser.click("#replay").await;
    let failed = browser.text("#outcome").await;
    assert!(
        failed.contains("DEAD_LETTER_REPLAY_FAILED") && failed.contains("e2e_outage"),
        "the failed replay is shown: {failed}"
    );
    end_projection_outage(&db).await;
    browser.click("#replay").await;
    eventually(Duration::from_secs(10), "the APPLIED outcome", || async {
        browser
            .text("#outcome")
            .await
            .contains("APPLIED")
            .then_some(())
    })
    .await;
    let resolved: bool =
        sqlx::query_scalar("select resolved_at is not null from dead_letters where id = $1")
            .bind(id)
            .fetch_one(&db)
            .await
            .expect("the letter");
    assert!(resolved, "the replay resolved the letter");
    browser
        .screenshot(&artifact("ops-console-replayed.png"))
        .await;
    let path = format!("/api/orders/payment-events/{pen}/members/{member}");
    let (status, order) = get(&system, &path).await;
    assert_eq!(status, 200, "the replay applied the order: {order}");
    assert_eq!(
        browser.count("#dismiss").await,
        0,
        "a resolved letter has no dismiss form"
    );

    // A letter no replay can resolve (its message had left the stream when it was captured:
    // no subject) is dismissed with a reason, and resolved as such.
    let gone: i64 = 388_000_000_000_000_001;
    sqlx::query(
        "insert into dead_letters (id, stream, stream_seq, consumer, subject, reason, deliveries,
                                   payload)
         values ($1, 'ORDERS', 1, 'order-query-projection', '', 'MAX_DELIVERIES', 3, '')",
    )
    .bind(gone)
    .execute(&db)
    .await
    .expect("a letter whose message is gone");
    let gone_path = format!("/dead-letters/order-query-service/{gone}");
    browser.goto(&format!("{base}{gone_path}")).await;
    browser
        .fill("#dismiss-reason", "the order was re-sent by hand")
        .await;
    browser.click("#dismiss").await;
    let dismissed = browser.text("#outcome").await;
    assert!(dismissed.contains("Dismissed"), "{dismissed}");
    let (resolved, last_error): (bool, Option<String>) = sqlx::query_as(
        "select resolved_at is not null, last_error from dead_letters where id = $1",
    )
    .bind(gone)
    .fetch_one(&db)
    .await
    .expect("the dismissed letter");
    assert!(resolved, "dismissed means resolved");
    assert_eq!(
        last_error.as_deref(),
        Some("dismissed: the order was re-sent by hand")
    );

    browser.goto(&format!("{base}/outbox")).await;
    let outbox = browser.text("#outbox").await;
    assert!(
        outbox.contains("order-service") && outbox.contains("wallet-service"),
        "{outbox}"
    );
    browser.goto(&format!("{base}/payments")).await;
    assert_eq!(browser.text("#unresolved-payments").await, "None.");
    // The time of the last periodic run, read from order-service's metrics (until stop 31
    // the console looked for a metric name that does not exist and always said "never").
    eventually(Duration::from_secs(10), "a periodic run shown", || async {
        browser.goto(&format!("{base}/payments")).await;
        let periodic = browser.text("#reconciliation-periodic").await;
        (!periodic.contains("never")).then_some(periodic)
    })
    .await;
    browser.click("#reconcile").await;
    let report = browser.text("#reconciliation-report").await;
    assert!(report.contains("checked"), "{report}");

    browser.click("#logout").await;
    browser.wait_for_path("/login").await;
    browser.goto(&format!("{base}/dead-letters")).await;
    browser.wait_for_path("/login").await;

    browser.quit().await;
    console.stop().await.expect("the console stops");
    system.stop().await;
}

/// A client that does not follow redirects (to see them).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

async fn post_form(base: &str, path: &str, body: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut request = client()
        .post(format!("{base}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string());
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.expect("the console answers")
}

#[tokio::test]
async fn without_a_session_every_page_sends_to_login_and_every_form_is_refused() {
    let system = TestSystem::start().await;
    // No monitoring endpoint is needed: nothing past the login is shown.
    let console = console_for(&system, "http://127.0.0.1:9").await;
    let base = format!("http://127.0.0.1:{}", console.port());
    let pages = [
        "/",
        "/streams",
        "/dead-letters",
        "/dead-letters/order-service/1",
        "/outbox",
        "/payments",
    ];
    for page in pages {
        let response = client()
            .get(format!("{base}{page}"))
            .header("cookie", "paymsa_ops=forged")
            .send()
            .await
            .expect("the console answers");
        let to = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok());
        assert_eq!(response.status().as_u16(), 303, "{page}");
        assert!(
            to == Some("/login") || (page == "/" && to == Some("/streams")),
            "{page} leads to {to:?}"
        );
    }
    let forms = [
        "/dead-letters/order-service/1/replay",
        "/payments/reconcile",
        "/logout",
    ];
    for form in forms {
        let response = post_form(&base, form, "csrf=x&hours=1", None).await;
        assert_eq!(response.status().as_u16(), 401, "{form}");
    }

    let wrong = post_form(&base, "/login", "token=guess", None).await;
    assert_eq!(wrong.status().as_u16(), 401, "a wrong token is refused");
    assert!(wrong.headers().get("set-cookie").is_none());
    let empty = post_form(&base, "/login", "token=", None).await;
    assert_eq!(empty.status().as_u16(), 400);

    let login = post_form(&base, "/login", &format!("token={ADMIN_TOKEN}"), None).await;
    assert_eq!(login.status().as_u16(), 303);
    let set_cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|c| c.to_str().ok())
        .expect("a session cookie")
        .to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(
            set_cookie.contains(attribute),
            "{attribute} in {set_cookie}"
        );
    }
    let cookie = set_cookie
        .split(';')
        .next()
        .expect("name=value")
        .to_string();
    let streams = client()
        .get(format!("{base}/streams"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("the console answers");
    assert_eq!(streams.status().as_u16(), 200);
    let html = streams.text().await.expect("html");
    assert!(
        html.contains("NATS monitoring"),
        "the unreachable endpoint is named: {html}"
    );

    // The session alone does not make a form count: its CSRF token must come with it.
    for form in forms {
        let response = post_form(&base, form, "csrf=not-the-token&hours=1", Some(&cookie)).await;
        assert_eq!(response.status().as_u16(), 403, "{form}");
    }
    let missing = client()
        .get(format!("{base}/dead-letters/order-service/not-a-number"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("the console answers");
    assert_eq!(missing.status().as_u16(), 404);

    console.stop().await.expect("the console stops");
    system.stop().await;
}
