//! Call statistics, so tests can assert what reached the PSP: "no confirm call for this
//! order" (a tampered amount must be stopped before the PSP) and "exactly one charge".

use std::sync::Arc;

use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    Object, OpenApi,
};
use service_kit::ApiError;

use crate::state::{OrderStats, Sandbox};

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct OrderStatsView {
    pub order_id: String,
    /// Authenticated, well-formed confirm calls that named this orderId — replays, rejected
    /// and fault-hit ones included.
    pub confirm_calls: u64,
    /// Whether this order's payment was moved to DONE.
    pub charged: bool,
}

fn order_view(order_id: &str, s: &OrderStats) -> OrderStatsView {
    OrderStatsView {
        order_id: order_id.to_string(),
        confirm_calls: s.confirm_calls,
        charged: s.charged,
    }
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct StatsView {
    /// All authenticated, well-formed confirm calls.
    pub confirm_calls: u64,
    /// Distinct payments moved to DONE.
    pub charges: u64,
    /// Per orderId, in orderId order (omitted with `?perOrder=false`).
    pub per_order: Vec<OrderStatsView>,
}

pub struct StatsApi {
    pub sandbox: Arc<Sandbox>,
}

#[OpenApi(tag = "crate::sandbox_api::SandboxTag::Sandbox")]
impl StatsApi {
    /// Confirm calls and charges, overall and per order.
    #[oai(path = "/sandbox/stats", method = "get", operation_id = "get_stats")]
    async fn get_stats(
        &self,
        /// `false` leaves out the per-order list (large after a benchmark).
        #[oai(name = "perOrder")]
        per_order: Query<Option<bool>>,
    ) -> Result<Json<StatsView>, ApiError> {
        let state = self.sandbox.lock();
        let per_order = match per_order.0 {
            Some(false) => Vec::new(),
            _ => state
                .stats
                .per_order
                .iter()
                .map(|(id, s)| order_view(id, s))
                .collect(),
        };
        Ok(Json(StatsView {
            confirm_calls: state.stats.confirm_calls,
            charges: state.stats.charges,
            per_order,
        }))
    }

    /// One order's confirm calls and whether it was charged.
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
        let state = self.sandbox.lock();
        let stats = state
            .stats
            .per_order
            .get(&order_id.0)
            .cloned()
            .unwrap_or_default();
        Ok(Json(order_view(&order_id.0, &stats)))
    }
}
