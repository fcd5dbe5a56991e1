//! A client for the PSP's payouts API v2 (Toss 지급대행; services/psp-sandbox/README.md):
//! `POST /v2/payouts` with `Idempotency-Key: payout-<payoutNo>` and `refPayoutId: <payoutNo>`
//! (the PSP answers a known refPayoutId with the existing payout, never a second one), and
//! `GET /v2/payouts?refPayoutId=` to look one up.

use std::time::Duration;

use rust_decimal::{prelude::ToPrimitive, Decimal};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::ids::{PayoutNo, SellerNo};

/// The PSP's Payout object, the fields we use.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PspPayout {
    /// `FPA_…`
    pub id: String,
    pub ref_payout_id: String,
    #[serde(default)]
    pub destination: Option<String>,
    /// `REQUESTED`, `COMPLETED` or `FAILED`.
    pub status: String,
    #[serde(default)]
    pub amount: Option<PspAmount>,
    #[serde(default)]
    pub error: Option<PspError>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PspAmount {
    pub value: Decimal,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PspError {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// What a PSP call told us.
#[derive(Debug, Clone)]
pub enum PayoutCall {
    /// The PSP's payout (a lookup of an unknown refPayoutId is `Answered(None)`).
    Answered(Option<PspPayout>),
    /// The PSP refused the request (4xx other than credentials and in-flight conflicts):
    /// nothing was created.
    Rejected { code: String, message: String },
    /// No answer we can act on (timeout, 5xx, 409 in flight, credentials): ask again later.
    Unknown(String),
}

#[derive(Clone)]
pub struct PspPayouts {
    psp: service_kit::psp::PspConnection,
}

impl PspPayouts {
    pub fn new(
        base_url: &str,
        secret_key: &str,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            psp: service_kit::psp::PspConnection::new(base_url, secret_key, timeout)?,
        })
    }

    /// `POST /v2/payouts` of one EXPRESS payout to the seller.
    pub async fn create(
        &self,
        payout_no: PayoutNo,
        seller_no: SellerNo,
        amount: Decimal,
    ) -> PayoutCall {
        let value = amount.trunc().to_i64().unwrap_or_default();
        let body = json!([{
            "refPayoutId": payout_no.to_string(),
            "destination": seller_no.to_string(),
            "scheduleType": "EXPRESS",
            "amount": {"currency": "KRW", "value": value},
            "transactionDescription": format!("paymsa payout {payout_no}"),
        }]);
        let request = self
            .psp
            .post("/v2/payouts")
            .header("Idempotency-Key", format!("payout-{payout_no}"))
            .json(&body);
        call(self.psp.send("payout", request)).await
    }

    /// `GET /v2/payouts?refPayoutId=<payoutNo>`.
    pub async fn find(&self, payout_no: PayoutNo) -> PayoutCall {
        let request = self
            .psp
            .get("/v2/payouts")
            .query(&[("refPayoutId", payout_no.to_string())]);
        call(self.psp.send("payout lookup", request)).await
    }
}

async fn call(
    sent: impl std::future::Future<Output = Result<reqwest::Response, reqwest::Error>>,
) -> PayoutCall {
    let resp = match sent.await {
        Ok(resp) => resp,
        Err(e) if e.is_timeout() => return PayoutCall::Unknown("PSP_TIMEOUT".into()),
        Err(e) => return PayoutCall::Unknown(format!("PSP_UNREACHABLE: {e}")),
    };
    let status = resp.status().as_u16();
    let text = match resp.text().await {
        Ok(text) => text,
        Err(e) => return PayoutCall::Unknown(format!("PSP_BODY_LOST: {e}")),
    };
    let body: Value = serde_json::from_str(&text).unwrap_or_default();
    if (200..300).contains(&status) {
        let items = &body["entityBody"]["items"];
        let first = items.get(0).cloned();
        return match first.map(serde_json::from_value::<PspPayout>) {
            None if items.is_array() => PayoutCall::Answered(None),
            Some(Ok(payout)) => PayoutCall::Answered(Some(payout)),
            None => PayoutCall::Unknown("PSP_UNREADABLE_RESPONSE: no items".into()),
            Some(Err(e)) => PayoutCall::Unknown(format!("PSP_UNREADABLE_RESPONSE: {e}")),
        };
    }
    let code = body["code"]
        .as_str()
        .map_or_else(|| format!("HTTP_{status}"), str::to_string);
    let message = body["message"].as_str().unwrap_or_default().to_string();
    match status {
        400 | 404 | 422 => PayoutCall::Rejected { code, message },
        _ => PayoutCall::Unknown(format!("{code}: {message}")),
    }
}
