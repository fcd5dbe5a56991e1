//! The browser checkout, end to end: headless Chromium (driven over WebDriver by chromedriver)
//! opens order-service's checkout page for the seeded products, pays — or declines — in the
//! PSP sandbox's payment window and lands on the page that shows the outcome; the API agrees.
//! Screenshots are kept in `target/test-artifacts/`. Needs the Debian packages `chromium` and
//! `chromium-driver`; the tests fail, naming them, when they are missing.

#[path = "../browser/webdriver.rs"]
mod webdriver;

use std::path::PathBuf;

use paymsa_e2e::{money::payment, seed, TestSystem};
use webdriver::Browser;

/// The system with the whole seed (seller 1 with wallet 1, products 1/2/3 at 1000/2000/3000).
async fn seeded_system() -> TestSystem {
    let system = TestSystem::start().await;
    let seeds = [
        &seller_service::SPEC,
        &wallet_service::SPEC,
        &catalog_service::SPEC,
        &hot_catalog_service::SPEC,
    ];
    seed::load(&system, &seeds).await;
    system
}

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

/// Opens the checkout page (saving a screenshot as `shot`) and follows `#pay` to the sandbox's
/// window; the order id.
async fn checkout(
    browser: &Browser,
    system: &TestSystem,
    query: &str,
    amount: &str,
    shot: &str,
) -> String {
    browser
        .goto(&format!("{}/{query}", system.url("order-service")))
        .await;
    let order_id = browser.text("#order-id").await;
    assert!(!order_id.is_empty(), "the checkout page shows the order id");
    assert_eq!(browser.text("#amount").await, amount, "checkout total");
    browser.screenshot(&artifact(shot)).await;
    browser.click("#pay").await;
    let window = browser.wait_for_path("/sandbox/window").await;
    assert_eq!(
        window.port(),
        system.port_of("psp-sandbox"),
        "#pay leads to the sandbox"
    );
    assert_eq!(
        browser.text("#order-id").await,
        order_id,
        "the window's order"
    );
    order_id
}

#[tokio::test]
async fn paying_in_the_window_lands_on_the_confirmed_order() {
    let system = seeded_system().await;
    let browser = Browser::launch(&artifact("chromedriver-success.log")).await;

    // `/` without parameters: member 1 buys products 1, 2 and 3.
    let order_id = checkout(&browser, &system, "", "6000", "checkout-page.png").await;
    assert_eq!(browser.text("#amount").await, "6,000원");
    browser.screenshot(&artifact("payment-window.png")).await;

    browser.click("#approve").await;
    let success = browser.wait_for_path("/success").await;
    assert_eq!(success.port(), system.port_of("order-service"));
    assert_eq!(browser.text("#outcome").await, "SUCCESS");
    assert_eq!(browser.text("#order-id").await, order_id);
    assert_eq!(
        browser.text("#amount").await,
        "6000",
        "KRW without decimals"
    );
    browser.screenshot(&artifact("checkout-success.png")).await;

    // A partial refund from the success page.
    browser.fill("#cancel-amount-input", "1000").await;
    browser.click("#cancel").await;
    browser.wait_for_path("/cancel").await;
    assert_eq!(browser.text("#cancel-status").await, "DONE");
    assert_eq!(browser.text("#refunded").await, "1000");
    assert_eq!(browser.text("#refundable").await, "5000");
    assert_eq!(browser.text("#order-status").await, "PARTIAL_CANCELED");
    browser.screenshot(&artifact("cancel-partial.png")).await;
    browser.quit().await;
    let refunded = payment(&system, &order_id).await;
    assert_eq!(refunded["status"], "PARTIAL_CANCELED", "{refunded}");
    assert_eq!(
        refunded["cancels"].as_array().map(Vec::len),
        Some(1),
        "{refunded}"
    );

    let paid = refunded;
    assert_eq!(paid["isPaymentDone"], true, "{paid}");
    let total = paid["totalAmount"]
        .to_string()
        .trim_matches('"')
        .parse::<f64>();
    assert_eq!(total, Ok(6000.0), "{paid}");
    assert!(paid["paymentKey"].is_string(), "{paid}");
    let lines = paid["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), 3, "{paid}");
    assert!(
        lines.iter().all(|l| l["status"] == "PARTIAL_CANCELED"),
        "1000 spread over the three lines: {paid}"
    );
    system.stop().await;
}

#[tokio::test]
async fn declining_in_the_window_shows_the_code_and_charges_nothing() {
    let system = seeded_system().await;
    let browser = Browser::launch(&artifact("chromedriver-decline.log")).await;

    let order_id = checkout(
        &browser,
        &system,
        "?productNoList=2&memberNo=7",
        "2000",
        "checkout-page-declined.png",
    )
    .await;
    browser.click("#decline").await;
    let fail = browser.wait_for_path("/fail").await;
    assert_eq!(fail.port(), system.port_of("order-service"));
    assert_eq!(browser.text("#outcome").await, "FAILED");
    assert_eq!(browser.text("#code").await, "PAY_PROCESS_CANCELED");
    browser.screenshot(&artifact("checkout-declined.png")).await;
    browser.quit().await;

    let unpaid = payment(&system, &order_id).await;
    assert_eq!(unpaid["status"], "NOT_STARTED", "{unpaid}");
    assert_eq!(unpaid["isPaymentDone"], false, "{unpaid}");
    assert_eq!(unpaid["memberNo"].to_string().trim_matches('"'), "7");
    system.stop().await;
}
