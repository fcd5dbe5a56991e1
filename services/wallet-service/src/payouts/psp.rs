//! A client for the PSP's payouts API v2 (Toss 지급대행; services/psp-sandbox/README.md):
//! `POST /v2/payouts` with `Idempotency-Key: payout-<payoutNo>` and `refPayoutId: <payoutNo>`
//! (the PSP answers a known refPayoutId with the existing payout, never a second one), and
//! `GET /v2/payouts?refPayoutId=` to look one up.

use std::time::Duration;

use prometheus::IntCounter;
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

impl PspPayout {
    /// Whether this is the PSP's record of `payout` (ours by refPayoutId, and for the amount
    /// and seller we asked): a record of another payout, or one that disagrees with ours, must
    /// never complete or fail it. Fields the PSP left out are not held against it.
    pub fn describes(&self, payout_no: PayoutNo, seller_no: SellerNo, amount: Decimal) -> bool {
        self.ref_payout_id == payout_no.to_string()
            && self.amount.as_ref().is_none_or(|a| a.value == amount)
            && self
                .destination
                .as_deref()
                .is_none_or(|d| d == seller_no.to_string())
    }
}

#[derive(Clone)]
pub struct PspPayouts {
    psp: service_kit::psp::PspConnection,
    /// Shared with order-service's metric of the same name: the alert
    /// `PaymsaPspCredentialErrors` (deploy/prometheus/rules.yml) pages on either.
    credential_errors: IntCounter,
}

impl PspPayouts {
    pub fn new(
        base_url: &str,
        secret_key: &str,
        timeout: Duration,
        credential_errors: IntCounter,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            psp: service_kit::psp::PspConnection::new(base_url, secret_key, timeout)?,
            credential_errors,
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
        self.call(self.psp.send("payout", request), None).await
    }

    /// `GET /v2/payouts?refPayoutId=<payoutNo>`.
    pub async fn find(&self, payout_no: PayoutNo) -> PayoutCall {
        let request = self
            .psp
            .get("/v2/payouts")
            .query(&[("refPayoutId", payout_no.to_string())]);
        self.call(self.psp.send("payout lookup", request), Some(payout_no))
            .await
    }

    /// The PSP's answer as a [`PayoutCall`]; `lookup_of`: the payout a lookup asked for,
    /// whose record is picked out of the answer's items.
    async fn call(
        &self,
        sent: impl std::future::Future<Output = Result<reqwest::Response, reqwest::Error>>,
        lookup_of: Option<PayoutNo>,
    ) -> PayoutCall {
        let call = read_answer(sent, lookup_of).await;
        if let PayoutCall::Unknown(reason) = &call {
            if reason.starts_with(CREDENTIALS) {
                self.credential_errors.inc();
            }
        }
        call
    }
}

/// The prefix of an `Unknown` reason for a 401 or 403: our secret key was refused.
const CREDENTIALS: &str = "PSP_CREDENTIALS";

async fn read_answer(
    sent: impl std::future::Future<Output = Result<reqwest::Response, reqwest::Error>>,
    lookup_of: Option<PayoutNo>,
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
    parse_answer(status, &text, lookup_of)
}

/// What an answer with `status` and body `text` tells us (see [`PspPayouts::call`]).
fn parse_answer(status: u16, text: &str, lookup_of: Option<PayoutNo>) -> PayoutCall {
    let body: Value = serde_json::from_str(text).unwrap_or_default();
    if (200..300).contains(&status) {
        let Some(items) = body["entityBody"]["items"].as_array() else {
            return PayoutCall::Unknown("PSP_UNREADABLE_RESPONSE: no items".into());
        };
        let items: Vec<PspPayout> = match items
            .iter()
            .map(|i| serde_json::from_value(i.clone()))
            .collect()
        {
            Ok(items) => items,
            Err(e) => return PayoutCall::Unknown(format!("PSP_UNREADABLE_RESPONSE: {e}")),
        };
        let Some(ours) = lookup_of else {
            // A create answers with the payout it created (or the one it already had).
            return PayoutCall::Answered(items.into_iter().next());
        };
        let wanted = ours.to_string();
        let others = items.iter().any(|i| i.ref_payout_id != wanted);
        return match items.into_iter().find(|i| i.ref_payout_id == wanted) {
            Some(payout) => PayoutCall::Answered(Some(payout)),
            // Only other payouts: the PSP did not apply our refPayoutId filter, so "not
            // there" is not what it said; never send again (or fail) on that.
            None if others => {
                PayoutCall::Unknown("PSP_LOOKUP_UNFILTERED: the answer lists other payouts".into())
            }
            None => PayoutCall::Answered(None),
        };
    }
    let code = body["code"]
        .as_str()
        .map_or_else(|| format!("HTTP_{status}"), str::to_string);
    let message = body["message"].as_str().unwrap_or_default().to_string();
    // order-service's rule (src/psp/outcome.rs): Toss answers a wrong key with these codes,
    // INVALID_API_KEY as a 400 that must not fail the payout as a refusal would.
    if status == 401 || matches!(code.as_str(), "UNAUTHORIZED_KEY" | "INVALID_API_KEY") {
        return PayoutCall::Unknown(format!("{CREDENTIALS}: {code}: {message}"));
    }
    match status {
        400 | 404 | 422 => PayoutCall::Rejected { code, message },
        _ => PayoutCall::Unknown(format!("{code}: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(items: &[(&str, i64)]) -> String {
        let items: Vec<Value> = items
            .iter()
            .map(|(r, amount)| {
                json!({"id": format!("FPA_{r}"), "refPayoutId": r, "destination": "7",
                       "status": "COMPLETED", "amount": {"currency": "KRW", "value": amount}})
            })
            .collect();
        json!({"version": "2022-11-16", "entityBody": {"items": items}}).to_string()
    }

    fn found(call: &PayoutCall) -> Option<&str> {
        match call {
            PayoutCall::Answered(Some(p)) => Some(p.ref_payout_id.as_str()),
            _ => None,
        }
    }

    #[test]
    fn a_lookup_takes_only_our_payouts_record() {
        let ours = Some(PayoutNo(42));
        let mixed = parse_answer(200, &answer(&[("41", 5000), ("42", 9000)]), ours);
        assert_eq!(found(&mixed), Some("42"));
        // Only other payouts: the PSP ignored the filter, which says nothing about ours.
        let unfiltered = parse_answer(200, &answer(&[("41", 5000)]), ours);
        assert!(
            matches!(unfiltered, PayoutCall::Unknown(_)),
            "{unfiltered:?}"
        );
        let none = parse_answer(200, &answer(&[]), ours);
        assert!(matches!(none, PayoutCall::Answered(None)), "{none:?}");
        // A create answers with the payout it made.
        assert_eq!(
            found(&parse_answer(200, &answer(&[("42", 9000)]), None)),
            Some("42")
        );
        for (status, code) in [(401, "UNAUTHORIZED_KEY"), (400, "INVALID_API_KEY")] {
            let body = format!(r#"{{"code":"{code}","message":"no"}}"#);
            let refused = parse_answer(status, &body, ours);
            assert!(
                matches!(&refused, PayoutCall::Unknown(r) if r.starts_with(CREDENTIALS)),
                "{code}: {refused:?}"
            );
        }
        let forbidden = parse_answer(403, r#"{"code":"FORBIDDEN_REQUEST","message":"no"}"#, ours);
        assert!(
            matches!(&forbidden, PayoutCall::Unknown(r) if !r.starts_with(CREDENTIALS)),
            "{forbidden:?}"
        );
    }

    #[test]
    fn a_record_describes_our_payout_only_with_our_amount_and_seller() {
        let call = parse_answer(200, &answer(&[("42", 9000)]), None);
        let PayoutCall::Answered(Some(record)) = call else {
            panic!("{call:?}");
        };
        let (payout, seller) = (PayoutNo(42), SellerNo(7));
        assert!(record.describes(payout, seller, Decimal::from(9000)));
        assert!(!record.describes(payout, seller, Decimal::from(9001)));
        assert!(!record.describes(payout, SellerNo(8), Decimal::from(9000)));
        assert!(!record.describes(PayoutNo(43), seller, Decimal::from(9000)));
    }
}
