//! `scripts/test.sh`'s NATS cleanup: deletes every test-namespace stream (`T<12 hex>_…`, and
//! with them their consumers) on a server a test run shared with `just up`, leaving the stack's
//! own streams alone. Each test deletes its namespace when it ends; this catches the tests that
//! panicked or were interrupted.
//!
//!     cargo run -q -p service-kit --example test-streams -- NATS_URL
//!
//! (An example of service-kit, not a binary of the e2e crate, so it builds without the services.)

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: test-streams NATS_URL");
        return ExitCode::from(2);
    };
    match service_kit::testing::sweep_test_streams(&url).await {
        Ok((deleted, kept)) => {
            println!("{url}: {deleted} test stream(s) deleted, {kept} other stream(s) kept");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("test-streams: {url}: {e}");
            ExitCode::FAILURE
        }
    }
}
