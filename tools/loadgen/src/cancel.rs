//! A shopper's cancels (`POST /api/payments/{orderId}/cancel`): in full or in part, with a
//! client Idempotency-Key, and the answers the contract allows for each kind.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::{
    client::{Client, Who},
    workload::Approved,
};

/// Why the shopper cancelled; decides which answers are expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelKind {
    /// Everything, after a 200 confirm.
    Full,
    /// A part (1 won up to the total − 1), after a 200 confirm.
    Partial,
    /// The rest, after a partial cancel answered 200.
    Rest,
    /// Sent again and again while the confirm (and the recovery job) still run.
    Concurrent,
}

#[derive(Debug, Clone)]
pub struct CancelRecord {
    pub kind: CancelKind,
    /// A cancel-targeted PSP timeout was set for it.
    pub faulted: bool,
    pub status: u16,
    pub code: String,
    /// The answer's `status` field (DONE, UNKNOWN, REQUESTED) on 200/202.
    pub state: String,
    pub latency: Duration,
    /// 409 NOT_CANCELABLE_STATUS answers before this one (concurrent cancels).
    pub waited: u32,
}

impl CancelRecord {
    /// Whether the answer is one the contract promises for this kind of cancel.
    pub fn as_expected(&self) -> bool {
        match (self.status, self.state.as_str()) {
            (200, "DONE") => true,
            (202, "UNKNOWN" | "REQUESTED") => true,
            // A concurrent cancel gives up if the order is never paid within its patience.
            (409, _) => self.kind == CancelKind::Concurrent && self.code == "NOT_CANCELABLE_STATUS",
            _ => false,
        }
    }

    pub fn label(&self) -> String {
        let kind = match self.kind {
            CancelKind::Full => "full",
            CancelKind::Partial => "partial",
            CancelKind::Rest => "rest after partial",
            CancelKind::Concurrent => "concurrent with confirm",
        };
        let fault = if self.faulted {
            ", PSP cancel timeout"
        } else {
            ""
        };
        let what = if self.code.is_empty() {
            self.state.clone()
        } else {
            self.code.clone()
        };
        format!("{kind}{fault}: {} {what}", self.status)
    }
}

/// One cancel; `amount` `None` is everything still refundable.
pub async fn cancel(
    client: &Client,
    order: &Approved,
    amount: Option<i64>,
    kind: CancelKind,
    faulted: bool,
) -> anyhow::Result<CancelRecord> {
    let mut body = json!({ "cancelReason": format!("loadgen: {kind:?} cancel") });
    if let Some(amount) = amount {
        body["cancelAmount"] = json!(amount);
    }
    let key = uuid::Uuid::new_v4().to_string();
    let path = format!("/api/payments/{}/cancel", order.order_id);
    let started = Instant::now();
    let answer = client
        .call_as(
            Who::Member(order.member),
            "order-service",
            Method::POST,
            &path,
            Some(&body),
            &[("Idempotency-Key", &key)],
        )
        .await?;
    Ok(CancelRecord {
        kind,
        faulted,
        status: answer.status,
        code: answer.code(),
        state: answer.body["status"].as_str().unwrap_or("").to_string(),
        latency: started.elapsed(),
        waited: 0,
    })
}

/// Cancels the whole order as soon as it is paid: while the confirm (or the recovery job after
/// it) has not made it SUCCESS, order-service answers 409 NOT_CANCELABLE_STATUS; asked again
/// every 200 ms for up to `patience`.
pub async fn cancel_when_paid(
    client: &Client,
    order: &Approved,
    patience: Duration,
) -> anyhow::Result<CancelRecord> {
    let started = Instant::now();
    let mut waited = 0;
    loop {
        let mut record = cancel(client, order, None, CancelKind::Concurrent, false).await?;
        let not_yet = record.status == 409 && record.code == "NOT_CANCELABLE_STATUS";
        if !not_yet || started.elapsed() > patience {
            record.waited = waited;
            return Ok(record);
        }
        waited += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
