//! The orders this process most recently recorded as final (paid or failed), so a PSP webhook
//! about one of them is answered without a database round trip.
//!
//! The PSP sends `PAYMENT_STATUS_CHANGED` right after it commits a confirm, which is usually
//! just after our own outcome committed: nearly every such webhook names an order that is
//! already final, for which `store::recovery::make_due_now` would change nothing (it only
//! touches UNKNOWN or EXECUTING orders, and a final order never leaves its state). Skipping it
//! changes no outcome; an order not remembered here (another instance finalised it, or it was
//! forgotten) is looked up in the database exactly as before. Bounded: the oldest is forgotten
//! first, so memory does not grow with the orders paid.

use std::{
    collections::{HashSet, VecDeque},
    sync::Mutex,
};

/// How many final orders are remembered: minutes of payments at the rates measured
/// (docs/benchmarks.md), far longer than the PSP takes to send its webhook.
const REMEMBERED: usize = 16_384;

#[derive(Debug, Default)]
pub struct FinalOrders {
    inner: Mutex<Remembered>,
}

#[derive(Debug, Default)]
struct Remembered {
    set: HashSet<String>,
    order: VecDeque<String>,
}

impl FinalOrders {
    /// Called after the commit that made `order_id` final.
    pub fn remember(&self, order_id: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if !inner.set.insert(order_id.to_string()) {
            return;
        }
        inner.order.push_back(order_id.to_string());
        if inner.order.len() > REMEMBERED {
            if let Some(oldest) = inner.order.pop_front() {
                inner.set.remove(&oldest);
            }
        }
    }

    /// True only if this process committed `order_id` as final.
    pub fn contains(&self, order_id: &str) -> bool {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.set.contains(order_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_latest_and_forgets_the_oldest_first() {
        let orders = FinalOrders::default();
        for i in 0..=REMEMBERED {
            orders.remember(&format!("order-{i}"));
        }
        orders.remember("order-1"); // already remembered: not counted twice
        assert!(!orders.contains("order-0"), "the oldest is forgotten");
        assert!(orders.contains("order-1"));
        assert!(orders.contains(&format!("order-{REMEMBERED}")));
        assert!(!orders.contains("never-final"));
        let inner = orders.inner.lock().unwrap();
        assert_eq!(
            (inner.set.len(), inner.order.len()),
            (REMEMBERED, REMEMBERED)
        );
    }
}
