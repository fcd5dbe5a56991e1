//! The whole system comes up: every service, hosted in-process on port 0 against the real
//! Postgres, NATS and Redis, creates and migrates its database, reports ready and serves its
//! docs and spec.

use service_kit::{
    testing::{test_config, unique_namespace},
    App, ServiceConfig, ServiceSpec, StartupError,
};
use std::{future::Future, pin::Pin};

type Build = fn(ServiceConfig) -> Pin<Box<dyn Future<Output = Result<App, StartupError>>>>;

macro_rules! service {
    ($krate:ident) => {
        (&$krate::SPEC, (|c| Box::pin($krate::build(c))) as Build)
    };
}

fn all_services() -> Vec<(&'static ServiceSpec, Build)> {
    vec![
        service!(order_service),
        service!(catalog_service),
        service!(wallet_service),
        service!(seller_service),
        service!(hot_catalog_service),
        service!(catalog_review_service),
        service!(catalog_like_service),
        service!(order_query_service),
        service!(psp_sandbox),
    ]
}

#[tokio::test]
async fn every_service_starts_reports_ready_and_serves_docs() {
    let namespace = unique_namespace();
    let mut apps = Vec::new();
    for (spec, build) in all_services() {
        let app = build(test_config(spec, &namespace))
            .await
            .unwrap_or_else(|e| panic!("{} failed to start: {e}", spec.name));
        apps.push((spec.name, app));
    }
    for (name, app) in &apps {
        let base = format!("http://127.0.0.1:{}", app.port());
        let ready = reqwest::get(format!("{base}/health/ready"))
            .await
            .expect("ready answered");
        assert_eq!(ready.status(), 200, "{name} not ready");
        let docs = reqwest::get(format!("{base}/docs")).await.expect("docs");
        assert_eq!(docs.status(), 200, "{name} /docs");
        let spec: serde_json::Value = reqwest::get(format!("{base}/openapi.json"))
            .await
            .expect("spec")
            .json()
            .await
            .expect("spec is JSON");
        assert_eq!(spec["info"]["title"], *name);
    }
    for (_, app) in apps {
        app.stop().await.expect("clean stop");
    }
}
