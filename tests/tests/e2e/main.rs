//! Every end-to-end test in one binary: a test binary links all nine services, so thirty of
//! them cost thirty links of the whole system. nextest still runs each test in its own process
//! (and `.config/nextest.toml` caps the whole-system tests at two at a time).
//!
//! One module per area; the shared harness is the `paymsa-e2e` library (tests/src/).

mod compose_support;
#[path = "../../browser/webdriver.rs"]
mod webdriver;

mod browser_checkout;
mod cancel_consumers;
mod cancel_guards;
mod cancel_resolve;
mod cancel_truth;
mod cancels;
mod catalog;
mod catalog_keys;
mod charge_with_refund;
mod checkout_claims;
mod checkout_prices;
mod compose;
mod compose_secrets;
mod dead_letter_replay;
mod hot_products;
mod identity;
mod likes;
mod metrics;
mod observability;
mod onboarding;
mod openapi_specs;
mod ops_console;
mod order_query;
mod order_query_rebuild;
mod parked_likes;
mod payments;
mod payouts;
mod product_listing;
mod psp_truth;
mod reconciliation;
mod reconciliation_job;
mod reversal_redrive;
mod review_refunds;
mod reviews;
mod rust_version;
mod seller_keys;
mod settlement;
mod storefront;
mod system_starts;
mod trace_export;
mod tracing;
mod wallet_completion;
mod webhooks;
