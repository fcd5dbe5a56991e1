//! The storefront, end to end in a browser: headless Chromium (driven over WebDriver by
//! chromedriver) logs in as a member, finds the hot products above the catalog on
//! order-service's main page, opens a product, puts it in the cart, checks out (a POST), pays —
//! or declines — in the PSP sandbox's payment window, lands on the outcome page, finds the order
//! under "my orders" and cancels it there; the API agrees. Screenshots are kept in
//! `target/test-artifacts/` (the README's are copies of `store-*.png`). Needs the Debian
//! packages `chromium` and `chromium-driver`; the tests fail, naming them, when they are missing.

use std::path::PathBuf;

use crate::webdriver::Browser;
use paymsa_e2e::{money::payment, seed, TestSystem};

/// The product the seed's like example uses; the catalog never had it.
const UNKNOWN_PRODUCT: &str = "23423958235";

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

/// Likes `product` as `member` through catalog-like-service's API (201 new, 200 again).
async fn like(system: &TestSystem, product: &str, member: i64) {
    let url = format!(
        "{}/api/catalog-likes/products/{product}/members/{member}",
        system.url("catalog-like-service")
    );
    let status = system.http.post(&url).send().await.expect("like").status();
    assert!(status.is_success(), "like {product}: {status}");
}

/// Logs in as `member` (open mode: the login page's member number).
async fn login(browser: &Browser, system: &TestSystem, member: &str) {
    let shop = system.url("order-service");
    browser.goto(&format!("{shop}/login")).await;
    browser.fill("#member-no", member).await;
    browser.click("#login").await;
    browser.wait_for_path("/").await;
}

/// From the product page of `product` to the order page (cart, then `POST /checkout`) and on
/// to the sandbox's window; the order id.
async fn buy(browser: &Browser, system: &TestSystem, product: &str, amount: &str) -> String {
    let shop = system.url("order-service");
    browser.goto(&format!("{shop}/products/{product}")).await;
    browser.click("#add-to-cart").await;
    browser.wait_for_path("/cart").await;
    assert_eq!(browser.text("#cart-total").await, amount, "cart total");
    browser.click("#checkout").await;
    browser.wait_for_path("/checkout").await;
    let order_id = browser.text("#order-id").await;
    assert!(!order_id.is_empty(), "the order page shows the order id");
    assert_eq!(browser.text("#amount").await, amount, "order total");
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
async fn a_member_shops_pays_finds_the_order_and_cancels_it() {
    let system = seeded_system().await;
    // Product 2 is hot; the seed's example like of a product the catalog never had is not.
    like(&system, "2", 5).await;
    for member in 1..=5 {
        like(&system, UNKNOWN_PRODUCT, member).await;
    }
    let browser = Browser::launch(&artifact("chromedriver-store.log")).await;
    login(&browser, &system, "7").await;

    // The main page: hot products (from hot-catalog, once the like is ranked), then the catalog.
    browser
        .reload_until_text("#hot-products .product a", "상품B")
        .await;
    assert_eq!(
        browser.count("#hot-products ~ #catalog").await,
        1,
        "hot first"
    );
    assert_eq!(
        browser.count("#catalog .product").await,
        3,
        "the seeded catalog"
    );
    let unknown = format!("[data-product-no=\"{UNKNOWN_PRODUCT}\"]");
    assert_eq!(
        browser.count(&unknown).await,
        0,
        "unknown products are not shown"
    );
    browser.screenshot(&artifact("store-main.png")).await;

    browser.click("#hot-products .product a").await;
    browser.wait_for_path("/products/2").await;
    assert_eq!(browser.text("#price").await, "2000");
    assert_eq!(browser.text("#like-count").await, "1");
    browser.click("#like").await;
    browser.reload_until_text("#like-count", "2").await;
    browser.screenshot(&artifact("store-product.png")).await;

    let order_id = buy(&browser, &system, "2", "2000").await;
    browser.click("#approve").await;
    let success = browser.wait_for_path("/success").await;
    assert_eq!(success.port(), system.port_of("order-service"));
    assert_eq!(browser.text("#outcome").await, "SUCCESS");
    assert_eq!(browser.text("#order-id").await, order_id);
    assert_eq!(
        browser.text("#amount").await,
        "2000",
        "KRW without decimals"
    );
    browser.screenshot(&artifact("store-success.png")).await;

    // A partial refund from the success page.
    browser.fill("#cancel-amount-input", "500").await;
    browser.click("#cancel").await;
    browser.wait_for_path("/cancel").await;
    assert_eq!(browser.text("#cancel-status").await, "DONE");
    assert_eq!(browser.text("#refundable").await, "1500");
    assert_eq!(browser.text("#order-status").await, "PARTIAL_CANCELED");

    // My orders (order-query's read model catches up), then the rest cancelled from there.
    let shop = system.url("order-service");
    browser.goto(&format!("{shop}/orders")).await;
    let status = format!("#order-{order_id} .status");
    browser.reload_until_text(&status, "PARTIAL_CANCELED").await;
    browser.screenshot(&artifact("store-orders.png")).await;
    browser.click(&format!("#cancel-{order_id}")).await;
    browser.wait_for_path("/cancel").await;
    assert_eq!(browser.text("#cancel-status").await, "DONE");
    assert_eq!(browser.text("#refunded").await, "2000");
    assert_eq!(browser.text("#order-status").await, "CANCELED");
    browser.goto(&format!("{shop}/orders")).await;
    browser.reload_until_text(&status, "CANCELED").await;
    assert_eq!(browser.count(&format!("#cancel-{order_id}")).await, 0);
    browser.quit().await;

    let canceled = payment(&system, &order_id).await;
    assert_eq!(canceled["status"], "CANCELED", "{canceled}");
    assert_eq!(
        canceled["cancels"].as_array().map(Vec::len),
        Some(2),
        "{canceled}"
    );
    assert_eq!(canceled["memberNo"].to_string().trim_matches('"'), "7");
    system.stop().await;
}

#[tokio::test]
async fn declining_in_the_window_shows_the_code_and_charges_nothing() {
    let system = seeded_system().await;
    let browser = Browser::launch(&artifact("chromedriver-decline.log")).await;
    login(&browser, &system, "7").await;

    let order_id = buy(&browser, &system, "2", "2000").await;
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
