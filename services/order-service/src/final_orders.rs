//! The orders this process most recently recorded as final (paid or failed), so a PSP webhook
//! about one of them is answered without a database round trip.
//!
//! The PSP sends `PAYMENT_STATUS_CHANGED` right after it commits a confirm, which is usually
//! just after our own outcome committed: nearly every such webhook names an order that is
//! already final, for which `store::recovery::make_due_now` should change nothing (it only
//! touches UNKNOWN or EXECUTING orders, and a final order never leaves its state; one that
//! waited for the order's lock can still set a time, which the recovery job clears:
//! store/recovery_watch.rs `clear_finished`). Skipping it
//! changes no outcome; an order not remembered here (another instance finalised it, or it was
//! forgotten) is looked up in the database exactly as before. Bounded: the oldest is forgotten
//! first, so memory does not grow with the orders paid.

use std::{
    collections::{HashSet, VecDeque},
    sync::{Arc, Mutex},
};

/// How many final orders are remembered: half a minute of payments at the highest rate
/// measured (about 140 paid orders/s, docs/benchmarks.md), far longer than the PSP takes to
/// send its webhook (milliseconds after its commit). A later retry of a webhook is looked up
/// in the database, as before. At 16,384, each id stored twice, the set was still filling
/// four minutes into the ten-minute benchmark at 60/s, and it was part of order-service's
/// memory growth there (stop 19, docs/benchmarks.md).
const REMEMBERED: usize = 4_096;

#[derive(Debug, Default)]
pub struct FinalOrders {
    inner: Mutex<Remembered>,
}

/// Each id allocated once, shared by the set and the queue.
#[derive(Debug, Default)]
struct Remembered {
    set: HashSet<Arc<str>>,
    order: VecDeque<Arc<str>>,
}

impl FinalOrders {
    /// Called after the commit that made `order_id` final.
    pub fn remember(&self, order_id: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.set.contains(order_id) {
            return;
        }
        let id: Arc<str> = Arc::from(order_id);
        inner.set.insert(id.clone());
        inner.order.push_back(id);
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
