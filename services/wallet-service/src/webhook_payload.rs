//! A request payload that keeps the raw body bytes (the webhook signature covers them
//! exactly) while the OpenAPI document describes it as the JSON of [`PayoutWebhook`].

use poem::{FromRequest, Request, RequestBody};
use poem_openapi::{
    payload::{ParsePayload, Payload},
    registry::{MetaSchemaRef, Registry},
    types::{Example, Type},
    Object,
};
use serde_json::{json, Value};
use service_kit::openapi::example;

/// The raw body of a webhook.
pub struct RawWebhook(pub Vec<u8>);

/// `{eventType, createdAt, data}` as the PSP sends it; `data` is the payout for
/// `payout.changed` (`{id, refPayoutId, destination, status, amount, error, …}`).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct PayoutWebhook {
    pub event_type: String,
    #[oai(default)]
    pub created_at: Option<String>,
    pub data: Value,
}

impl Example for PayoutWebhook {
    fn example() -> Self {
        example(json!({
            "eventType": "payout.changed",
            "createdAt": "2024-02-15T11:00:01.300000",
            "data": {
                "id": "FPA_9f3c1b2a7d4e4c0b",
                "refPayoutId": "7163052362956759100",
                "destination": "1",
                "scheduleType": "EXPRESS",
                "payoutDate": "2024-02-15",
                "amount": {"currency": "KRW", "value": 5000},
                "transactionDescription": "paymsa payout 7163052362956759100",
                "requestedAt": "2024-02-15T11:00:00+09:00",
                "status": "COMPLETED",
                "error": null,
                "metadata": null
            }
        }))
    }
}

impl Payload for RawWebhook {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        content_type.starts_with("application/json")
    }

    fn schema_ref() -> MetaSchemaRef {
        PayoutWebhook::schema_ref()
    }

    fn register(registry: &mut Registry) {
        PayoutWebhook::register(registry);
    }
}

impl ParsePayload for RawWebhook {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Self(<Vec<u8>>::from_request(request, body).await?))
    }
}

poem_openapi::impl_apirequest_for_payload!(RawWebhook,);
