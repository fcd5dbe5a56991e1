//! Liveness, readiness and metrics endpoints, documented in every service's OpenAPI spec.

use std::time::Duration;

use poem_openapi::{payload::Json, payload::PlainText, ApiResponse, Object, OpenApi, Tags};

use crate::{infra::Infra, metrics::Metrics};

#[derive(Tags)]
enum OpsTag {
    /// Health and metrics for operators and orchestrators.
    Operations,
}

#[derive(Debug, Object)]
pub struct CheckResult {
    /// Backend name: `postgres`, `nats` or `redis`.
    pub name: String,
    /// `UP` or `DOWN`.
    pub status: String,
    #[oai(skip_serializing_if_is_none)]
    pub detail: Option<String>,
}

#[derive(Debug, Object)]
#[oai(example)]
pub struct HealthReport {
    /// `UP` when every check passed.
    pub status: String,
    pub checks: Vec<CheckResult>,
}

impl poem_openapi::types::Example for HealthReport {
    fn example() -> Self {
        let up = |name: &str| CheckResult {
            name: name.into(),
            status: "UP".into(),
            detail: None,
        };
        Self {
            status: "UP".into(),
            checks: vec![up("postgres"), up("nats"), up("redis")],
        }
    }
}

#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// Every backend answered.
    #[oai(status = 200)]
    Ready(Json<HealthReport>),
    /// At least one backend is unreachable.
    #[oai(status = 503)]
    NotReady(Json<HealthReport>),
}

pub struct OpsApi {
    pub(crate) infra: Infra,
    pub(crate) metrics: Metrics,
}

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

async fn timed<F, E>(name: &str, check: F) -> CheckResult
where
    F: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let (status, detail) = match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(Ok(())) => ("UP", None),
        Ok(Err(e)) => ("DOWN", Some(e.to_string())),
        Err(_) => ("DOWN", Some("timed out".to_string())),
    };
    CheckResult {
        name: name.into(),
        status: status.into(),
        detail,
    }
}

impl OpsApi {
    async fn check_all(&self) -> Vec<CheckResult> {
        let mut results = Vec::new();
        if let Some(pool) = &self.infra.db {
            results.push(
                timed("postgres", async {
                    sqlx::query("select 1").execute(pool).await.map(|_| ())
                })
                .await,
            );
        }
        if let Some(nats) = &self.infra.nats {
            results.push(
                timed("nats", async {
                    match nats.connection_state() {
                        async_nats::connection::State::Connected => {
                            nats.flush().await.map_err(|e| e.to_string())
                        }
                        state => Err(format!("connection {state}")),
                    }
                })
                .await,
            );
        }
        if let Some(redis) = &self.infra.redis {
            let mut conn = redis.clone();
            results.push(
                timed("redis", async move {
                    redis::cmd("PING")
                        .query_async::<String>(&mut conn)
                        .await
                        .map(|_| ())
                })
                .await,
            );
        }
        results
    }
}

#[OpenApi(tag = "OpsTag::Operations")]
impl OpsApi {
    /// Liveness: the process is up and serving HTTP.
    #[oai(path = "/health/live", method = "get", operation_id = "health_live")]
    async fn live(&self) -> Json<HealthReport> {
        Json(HealthReport {
            status: "UP".into(),
            checks: Vec::new(),
        })
    }

    /// Readiness: the service's database, NATS and Redis (those it uses) all answer.
    #[oai(path = "/health/ready", method = "get", operation_id = "health_ready")]
    async fn ready(&self) -> ReadyResponse {
        let checks = self.check_all().await;
        if checks.iter().all(|c| c.status == "UP") {
            ReadyResponse::Ready(Json(HealthReport {
                status: "UP".into(),
                checks,
            }))
        } else {
            ReadyResponse::NotReady(Json(HealthReport {
                status: "DOWN".into(),
                checks,
            }))
        }
    }

    /// Prometheus metrics in the text exposition format.
    #[oai(path = "/metrics", method = "get", operation_id = "metrics")]
    async fn metrics(&self) -> PlainText<String> {
        PlainText(self.metrics.render())
    }
}
