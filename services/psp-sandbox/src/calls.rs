//! Confirm and cancel calls seen by this process: overall, and per order for the orders called
//! most recently.
//!
//! Per-order counts are a test control ("no confirm reached the PSP for this order", "one
//! call for ten concurrent confirms": tests/src/money.rs) read right after the order's calls.
//! Kept for every order, they grew the sandbox's memory with every payment it ever saw — 29 %
//! over ten minutes at 60 payments/s (docs/benchmarks.md, stop 19; most of that turned out to
//! be something else, stop 20) — so only the [`COUNTED_ORDERS`] orders first called most
//! recently keep theirs: an order is forgotten that many new orders after its first call,
//! however often it is called since. Whether an order was charged or refunded
//! is a fact about its payment, read from the database (stats_api.rs), and is never forgotten.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
};

/// How many orders keep their own counts: far more than a test has in flight, and bounded so
/// a long run's memory levels off.
pub const COUNTED_ORDERS: usize = 8_192;

#[derive(Debug, Default, Clone)]
pub struct OrderCalls {
    pub confirm_calls: u64,
    pub cancel_calls: u64,
}

#[derive(Debug, Default)]
pub struct Calls {
    pub confirm_calls: u64,
    pub cancel_calls: u64,
    per_order: HashMap<Arc<str>, OrderCalls>,
    /// The counted orders, first called first: the front is forgotten first.
    arrival: VecDeque<Arc<str>>,
}

impl Calls {
    pub fn count_confirm(&mut self, order_id: &str) {
        self.confirm_calls += 1;
        self.of_order(order_id).confirm_calls += 1;
    }

    /// A cancel of an unknown paymentKey has no order: it only counts overall.
    pub fn count_cancel(&mut self, order_id: Option<&str>) {
        self.cancel_calls += 1;
        if let Some(order_id) = order_id {
            self.of_order(order_id).cancel_calls += 1;
        }
    }

    /// The order's counts, if it is among the [`COUNTED_ORDERS`] orders first called most
    /// recently.
    pub fn order(&self, order_id: &str) -> Option<&OrderCalls> {
        self.per_order.get(order_id)
    }

    /// The orders that have counts, in no particular order.
    pub fn orders(&self) -> impl Iterator<Item = &str> {
        self.arrival.iter().map(|id| &**id)
    }

    fn of_order(&mut self, order_id: &str) -> &mut OrderCalls {
        let id = match self.per_order.get_key_value(order_id) {
            Some((id, _)) => id.clone(),
            None => {
                if self.arrival.len() >= COUNTED_ORDERS {
                    if let Some(oldest) = self.arrival.pop_front() {
                        self.per_order.remove(&oldest);
                    }
                }
                let id: Arc<str> = order_id.into();
                self.arrival.push_back(id.clone());
                id
            }
        };
        self.per_order.entry(id).or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_order_is_forgotten_and_the_totals_are_kept() {
        let mut calls = Calls::default();
        for i in 0..=COUNTED_ORDERS {
            calls.count_confirm(&format!("order-{i}"));
        }
        calls.count_cancel(Some("order-1"));
        calls.count_cancel(None);
        assert_eq!(calls.confirm_calls, COUNTED_ORDERS as u64 + 1);
        assert_eq!(calls.cancel_calls, 2);
        assert!(
            calls.order("order-0").is_none(),
            "the first order is forgotten"
        );
        let kept = calls.order("order-1").cloned().unwrap_or_default();
        assert_eq!((kept.confirm_calls, kept.cancel_calls), (1, 1));
        assert_eq!(calls.orders().count(), COUNTED_ORDERS);
        assert_eq!(calls.per_order.len(), COUNTED_ORDERS);
    }

    #[test]
    fn an_order_called_again_is_counted_once_in_the_arrival_order() {
        let mut calls = Calls::default();
        calls.count_confirm("a");
        calls.count_confirm("a");
        calls.count_cancel(Some("a"));
        assert_eq!(calls.orders().collect::<Vec<_>>(), ["a"]);
        assert_eq!(calls.order("a").map(|c| c.confirm_calls), Some(2));
    }
}
