//! catalog-review-service: product reviews and their per-product aggregates (docs/architecture.md §3, §6).
//!
//! A review is validated (title 1–100, content 1–3000 characters, rating ONE..FIVE; every bad
//! field reported at once), stored, counted into `product_review_counts` (count and star sum
//! under an optimistic lock on `version`) and announced as `review.product.created`, all in one
//! transaction. Delete is owner-only and idempotent: a soft delete that happens once, uncounts
//! exactly what was counted, and announces `review.product.deleted` with the same rating and
//! creation time. A lost optimistic lock re-runs the whole attempt in a fresh transaction, a
//! bounded number of times.
//!
//! Who may review: with `REVIEW_REQUIRES_PURCHASE` (on by default in jwt mode, off in open
//! mode so the seed's calls work as written) only a member who bought the product, and only
//! once while that review lives. Purchases come from `order.payment.confirmed` through the
//! durable `review-purchases` (`purchases`), so reviewing never calls order-service; a
//! purchase refunded in full (`order.payment.canceled`, durable `review-refunds`) is no longer
//! one, and the review written on it is withdrawn (`refunds`).
//!
//! Files: `api` (HTTP), `input` (request and validation), `reviews` (one attempt and the
//! retry policy), `purchases` (the consumer and the purchase check), `refunds` (the cancels'
//! consumer), `store` (review SQL).

mod api;
mod examples;
mod input;
mod purchases;
mod refunds;
mod reviews;
mod store;

use messaging::{Schema, ServiceRuntime};
use service_kit::{auth::AuthMode, App, ConfigError, ServiceConfig, ServiceSpec, StartupError};

pub use api::{ProductReviews, Review};
pub use input::StarRatingType;

pub const SPEC: ServiceSpec = ServiceSpec {
    uses_nats: true,
    uses_redis: true,
    // name, default port, database and node id: deploy/services.table
    ..ServiceSpec::from_table("catalog-review-service")
};

/// The OpenAPI description of the service.
const DESCRIPTION: &str = "Product reviews and their per-product aggregates.";

/// What [`build`] serves; [`openapi_spec`] documents this same type, so the two cannot drift.
type Api = (api::ReviewApi, messaging::DeadLetterApi);

/// The service's OpenAPI document exactly as served at `/openapi.json` (canonical JSON), built
/// from the API types alone: no database, NATS or Redis. `just openapi` exports it to
/// `openapi/catalog-review-service.json`.
pub fn openapi_spec() -> String {
    service_kit::openapi::spec_json::<Api>(SPEC.name, DESCRIPTION)
}

/// The database: the outbox, the consumers' tables and migrations/catalog-review-service ([`Schema`]).
static SCHEMA: Schema = Schema {
    outbox: true,
    consumers: true,
    own: &sqlx::migrate!("../../migrations/catalog-review-service"),
};

/// `REVIEW_REQUIRES_PURCHASE` (`true`/`false`); unset, it follows the auth mode: required
/// where members are identified (jwt), not where anyone may act as anyone (open). `false` with
/// jwt is refused outside `APP_ENV=dev`: the purchase is the only proof that a reviewed product
/// exists, and hot-catalog scores reviews at once (its consumers.rs), so any member could fill
/// the ranking with made-up products (from the attacker review, stop 32).
fn purchase_required(config: &ServiceConfig) -> Result<bool, ConfigError> {
    let jwt = config.auth.mode == AuthMode::Jwt;
    match config.extra_var("REVIEW_REQUIRES_PURCHASE").as_deref() {
        None => Ok(jwt),
        Some("true") => Ok(true),
        Some("false") if jwt && !config.app_env.is_dev() => Err(ConfigError::new(
            "REVIEW_REQUIRES_PURCHASE",
            "false only with APP_ENV=dev in jwt mode: without a purchase any member could \
             review products that do not exist into the hot-products ranking",
        )),
        Some("false") => Ok(false),
        Some(other) => Err(ConfigError::new(
            "REVIEW_REQUIRES_PURCHASE",
            format!("must be true or false (got {other:?})"),
        )),
    }
}

/// Connects the backends, applies migrations, starts the outbox relay and the purchase
/// consumer, and serves the API.
pub async fn build(config: ServiceConfig) -> Result<App, StartupError> {
    let purchase_required = purchase_required(&config)?;
    let rt = ServiceRuntime::start(config, &SCHEMA).await?;
    purchases::spawn(&rt).await?;
    let outbox = rt.outbox()?;
    refunds::spawn(&rt, outbox.clone(), purchase_required).await?;
    let api = api::ReviewApi {
        pool: rt.pool.clone(),
        ids: rt.infra.ids.clone(),
        outbox,
        purchase_required,
    };
    let api: Api = (api, rt.bus.dead_letter_api());
    rt.serve(api, DESCRIPTION).await
}

#[cfg(test)]
mod tests {
    use service_kit::{auth::AuthMode, secrets::AppEnv, testing::test_config, ServiceConfig};

    use super::{purchase_required, SPEC};

    fn config(mode: AuthMode, env: AppEnv, value: Option<&str>) -> ServiceConfig {
        let mut config = test_config(&SPEC, "purchase-rule");
        config.auth.mode = mode;
        config.app_env = env;
        config.extra.remove("REVIEW_REQUIRES_PURCHASE");
        if let Some(value) = value {
            config
                .extra
                .insert("REVIEW_REQUIRES_PURCHASE".into(), value.into());
        }
        config
    }

    #[test]
    fn reviews_without_a_purchase_are_refused_outside_development_in_jwt_mode() {
        use AppEnv::{Deployed, Dev};
        use AuthMode::{Jwt, Open};
        let refused = purchase_required(&config(Jwt, Deployed, Some("false")))
            .expect_err("no purchase, deployed, jwt");
        assert!(
            refused.to_string().contains("REVIEW_REQUIRES_PURCHASE"),
            "{refused}"
        );
        for (mode, env, value, want) in [
            (Jwt, Deployed, None, true),
            (Jwt, Deployed, Some("true"), true),
            (Jwt, Dev, Some("false"), false),
            (Open, Deployed, None, false),
            (Open, Deployed, Some("false"), false),
        ] {
            let got = purchase_required(&config(mode, env, value)).ok();
            assert_eq!(got, Some(want), "{mode:?} {env:?} {value:?}");
        }
    }
}
