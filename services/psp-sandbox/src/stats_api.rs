//! Call statistics, so tests can assert what reached the PSP: "no confirm call for this
//! order" (a tampered amount must be stopped before the PSP), "exactly one charge", "refunded
//! once". Call counts are this process's (test controls, in memory, per order for the orders
//! first called most recently: calls.rs); whether an order was charged and how much was
//! refunded are facts about its payment, read from the database, so they survive a restart of
//! the sandbox.

use std::{collections::BTreeMap, sync::Arc};

use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    Object, OpenApi,
};
use service_kit::ApiError;

use crate::{calls::OrderCalls, state::Sandbox};

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct OrderStatsView {
    pub order_id: String,
    /// Authenticated, well-formed confirm calls that named this orderId — replays, rejected
    /// and fault-hit ones included. Kept for the 8,192 orders first called most recently (0
    /// for an older one); the totals of `/sandbox/stats` count every call.
    pub confirm_calls: u64,
    /// Whether this order's payment was charged (moved to DONE; refunds do not undo that).
    pub charged: bool,
    /// Authenticated, well-formed cancel calls for this order's payment (kept like
    /// `confirmCalls`).
    pub cancel_calls: u64,
    /// The sum of the payment's refunds, in KRW.
    pub refunded_amount: i64,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct StatsView {
    /// All authenticated, well-formed confirm calls.
    pub confirm_calls: u64,
    /// Distinct payments charged.
    pub charges: u64,
    /// All authenticated, well-formed cancel calls.
    pub cancel_calls: u64,
    /// The sum of all refunds, in KRW.
    pub refunded_amount: i64,
    /// Per orderId, in orderId order (omitted with `?perOrder=false`).
    pub per_order: Vec<OrderStatsView>,
}

/// What the database says about charged orders: orderId → refunded amount.
async fn charged_orders(
    sandbox: &Sandbox,
    order_id: Option<&str>,
) -> Result<BTreeMap<String, i64>, sqlx::Error> {
    // `refunded!`: a difference of two not-null columns.
    let rows = sqlx::query!(
        r#"select order_id, total_amount - balance_amount as "refunded!" from payments
            where approved_at is not null and ($1::text is null or order_id = $1)"#,
        order_id,
    )
    .fetch_all(&sandbox.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.order_id, row.refunded))
        .collect())
}

fn view(order_id: &str, calls: Option<&OrderCalls>, refunded: Option<i64>) -> OrderStatsView {
    let calls = calls.cloned().unwrap_or_default();
    OrderStatsView {
        order_id: order_id.to_string(),
        confirm_calls: calls.confirm_calls,
        charged: refunded.is_some(),
        cancel_calls: calls.cancel_calls,
        refunded_amount: refunded.unwrap_or(0),
    }
}

pub struct StatsApi {
    pub sandbox: Arc<Sandbox>,
}

#[OpenApi(tag = "crate::sandbox_api::SandboxTag::Sandbox")]
impl StatsApi {
    /// Confirm and cancel calls, charges and refunds, overall and per order.
    #[oai(path = "/sandbox/stats", method = "get", operation_id = "get_stats")]
    async fn get_stats(
        &self,
        /// `false` leaves out the per-order list (large after a benchmark).
        #[oai(name = "perOrder")]
        per_order: Query<Option<bool>>,
    ) -> Result<Json<StatsView>, ApiError> {
        let charged = charged_orders(&self.sandbox, None)
            .await
            .map_err(ApiError::from)?;
        let memory = self.sandbox.memory();
        let calls = &memory.calls;
        let per_order = match per_order.0 {
            Some(false) => Vec::new(),
            _ => {
                // Orders called in this process and orders charged in the database (perhaps
                // before a restart), merged in orderId order.
                let mut ids: Vec<&str> = calls
                    .orders()
                    .chain(charged.keys().map(String::as_str))
                    .collect();
                ids.sort();
                ids.dedup();
                ids.into_iter()
                    .map(|id| view(id, calls.order(id), charged.get(id).copied()))
                    .collect()
            }
        };
        Ok(Json(StatsView {
            confirm_calls: calls.confirm_calls,
            charges: charged.len() as u64,
            cancel_calls: calls.cancel_calls,
            refunded_amount: charged.values().sum(),
            per_order,
        }))
    }

    /// One order's calls, whether it was charged and what was refunded.
    ///
    /// An order the sandbox never saw has zero calls, not a 404, so "no confirm reached the
    /// PSP" is a plain assertion.
    #[oai(
        path = "/sandbox/stats/orders/:orderId",
        method = "get",
        operation_id = "get_order_stats"
    )]
    async fn get_order_stats(
        &self,
        #[oai(name = "orderId")] order_id: Path<String>,
    ) -> Result<Json<OrderStatsView>, ApiError> {
        let charged = charged_orders(&self.sandbox, Some(&order_id.0))
            .await
            .map_err(ApiError::from)?;
        let memory = self.sandbox.memory();
        let calls = memory.calls.order(&order_id.0);
        Ok(Json(view(
            &order_id.0,
            calls,
            charged.get(&order_id.0).copied(),
        )))
    }
}
