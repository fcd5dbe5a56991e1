//! The whole system comes up: every service, hosted in-process on port 0 against the real
//! Postgres, NATS and Redis, creates and migrates its database, reports ready and serves its
//! docs and spec.

use paymsa_e2e::{all_services, TestSystem};

#[tokio::test]
async fn every_service_starts_reports_ready_and_serves_docs() {
    let system = TestSystem::start().await;
    for (spec, _) in all_services() {
        let base = system.url(spec.name);
        let ready = reqwest::get(format!("{base}/health/ready"))
            .await
            .expect("ready answered");
        assert_eq!(ready.status(), 200, "{} not ready", spec.name);
        let docs = reqwest::get(format!("{base}/docs")).await.expect("docs");
        assert_eq!(docs.status(), 200, "{} /docs", spec.name);
        let doc: serde_json::Value = reqwest::get(format!("{base}/openapi.json"))
            .await
            .expect("spec")
            .json()
            .await
            .expect("spec is JSON");
        assert_eq!(doc["info"]["title"], spec.name);
    }
    system.stop().await;
}

/// A test that starts only some services is told which, when it asks for another.
#[tokio::test]
#[should_panic(expected = "order-service was not started: this test's system runs only")]
async fn a_service_the_test_did_not_start_is_refused_by_name() {
    let system = TestSystem::start_only(&["psp-sandbox"]).await;
    let _ = system.url("psp-sandbox");
    let _ = system.url("order-service");
}
