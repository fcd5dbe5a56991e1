//! In jwt mode the run's services really check tokens (docs/identity.md): a checkout without a
//! token answers 401, one as another member 403, and an admin endpoint with a member's token
//! 403 — next to the thousands of requests of the run that passed with the right token.

use reqwest::Method;
use serde_json::json;

use crate::{
    client::{Client, Who},
    identity::AuthMode,
    invariants::Checks,
};

pub async fn tokens_required(client: &Client, member: i64, product: i64, checks: &mut Checks) {
    if client.identities.mode != AuthMode::Jwt {
        return;
    }
    let (ok, detail) = match check(client, member, product).await {
        Ok(detail) => (true, detail),
        Err(e) => (false, format!("{e:#}")),
    };
    checks.add("jwt: wrong or no token refused", ok, detail);
}

async fn check(client: &Client, member: i64, product: i64) -> anyhow::Result<String> {
    let body = json!({ "memberNo": member.to_string(), "productNos": [product.to_string()] });
    let checkout = |who: Who| {
        let body = body.clone();
        async move {
            let key = uuid::Uuid::new_v4().to_string();
            client
                .call_as(
                    who,
                    "order-service",
                    Method::POST,
                    "/api/checkouts",
                    Some(&body),
                    &[("Idempotency-Key", &key)],
                )
                .await
        }
    };
    let anonymous = checkout(Who::Anyone).await?;
    let other = checkout(Who::Member(member + 1_000_000)).await?;
    let admin = client
        .get_as(
            Who::Member(member),
            "order-service",
            "/admin/payments/unresolved",
        )
        .await?;
    let seen = format!(
        "checkout without a token {} {}, as another member {} {}, /admin/* as a member {} {}",
        anonymous.status,
        anonymous.code(),
        other.status,
        other.code(),
        admin.status,
        admin.code()
    );
    anyhow::ensure!(
        anonymous.status == 401 && other.status == 403 && admin.status == 403,
        "{seen}"
    );
    Ok(seen)
}
