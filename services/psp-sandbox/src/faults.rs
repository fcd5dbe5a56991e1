//! Fault injection: what a confirm of a READY payment or a cancel of a cancelable one runs
//! into on its way "to the card network". Global faults are sampled with a seeded PRNG so a
//! chaos run can be replayed; per-order faults hit the next `times` confirms and/or cancels of
//! one order, for deterministic tests. Latency applies to every `/v1` call.

use std::{collections::HashMap, time::Duration};

use poem_openapi::Enum;

pub use crate::fault_settings::Faults;
use crate::{
    codes::TossCode,
    prng::{time_seed, SplitMix64},
};

/// Which calls a per-order fault hits; also names the call being sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum Operation {
    /// `POST /v1/payments/confirm`.
    Confirm,
    /// `POST /v1/payments/{paymentKey}/cancel`.
    Cancel,
    /// Both, whichever comes next.
    Any,
    /// `GET /v1/payments/orders/{orderId}`: the lookup of the order's payment. Only a
    /// per-order fault hits it (the global rates are for confirms and cancels), so a test can
    /// make the PSP's record unreadable at the moment a merchant needs it.
    Lookup,
}

impl Operation {
    /// Whether a fault for `self` hits a call of kind `call`.
    fn hits(self, call: Operation) -> bool {
        self == call || (self == Operation::Any && call != Operation::Lookup)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum FaultMode {
    /// Hold the confirm for `timeoutMs` (see `approveBeforeTimeout`).
    Timeout,
    /// Answer `errorCode`.
    Error,
}

/// A per-order fault as stored, with defaults resolved when it was set.
#[derive(Debug, Clone)]
pub struct OrderFault {
    pub operation: Operation,
    pub mode: FaultMode,
    pub code: &'static TossCode,
    pub remaining: u32,
    pub timeout_ms: u64,
    pub approve_before_timeout: bool,
}

/// What one confirm runs into.
#[derive(Debug, Clone, Copy)]
pub enum Plan {
    Pass,
    Error(&'static TossCode),
    Timeout { delay: Duration, approve: bool },
}

/// Fault settings, per-order faults and the PRNG, kept in the sandbox's state.
pub struct FaultState {
    current: Faults,
    code: &'static TossCode,
    per_order: HashMap<String, OrderFault>,
    rng: SplitMix64,
}

impl FaultState {
    /// `faults` must have passed [`Faults::validate`].
    pub fn new(faults: Faults, code: &'static TossCode) -> Self {
        let seed = faults.seed.unwrap_or_else(time_seed);
        let current = Faults {
            seed: Some(seed),
            ..faults
        };
        Self {
            current,
            code,
            per_order: HashMap::new(),
            rng: SplitMix64::new(seed),
        }
    }

    pub fn current(&self) -> &Faults {
        &self.current
    }

    /// Replaces the global settings; a new seed restarts the sequence, no seed continues it.
    pub fn replace(&mut self, faults: Faults, code: &'static TossCode) {
        let seed = match faults.seed {
            Some(seed) => {
                self.rng = SplitMix64::new(seed);
                seed
            }
            None => self.current.seed.unwrap_or_default(),
        };
        self.current = Faults {
            seed: Some(seed),
            ..faults
        };
        self.code = code;
    }

    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.current.latency_ms)
    }

    pub fn set_order(&mut self, order_id: String, fault: OrderFault) {
        self.per_order.insert(order_id, fault);
    }

    pub fn order(&self, order_id: &str) -> Option<&OrderFault> {
        self.per_order.get(order_id)
    }

    pub fn clear_order(&mut self, order_id: &str) -> bool {
        self.per_order.remove(order_id).is_some()
    }

    pub fn clear_orders(&mut self) {
        self.per_order.clear();
    }

    /// The per-order fault pending for a lookup of `order_id`, consumed; `None` (and no draw of
    /// the global rates) without one.
    pub fn take_lookup_fault(&mut self, order_id: &str) -> Option<Plan> {
        self.per_order
            .get(order_id)
            .is_some_and(|fault| fault.operation == Operation::Lookup)
            .then(|| self.sample(order_id, Operation::Lookup))
    }

    /// Decides the fate of one confirm of a READY payment or one cancel of a cancelable one
    /// (`call`): a pending per-order fault for that kind of call first (consumed), otherwise
    /// the global rates, which apply to both kinds.
    pub fn sample(&mut self, order_id: &str, call: Operation) -> Plan {
        let pending = self
            .per_order
            .get_mut(order_id)
            .filter(|fault| fault.operation.hits(call));
        if let Some(fault) = pending {
            fault.remaining = fault.remaining.saturating_sub(1);
            let plan = match fault.mode {
                FaultMode::Error => Plan::Error(fault.code),
                FaultMode::Timeout => Plan::Timeout {
                    delay: Duration::from_millis(fault.timeout_ms),
                    approve: fault.approve_before_timeout,
                },
            };
            if fault.remaining == 0 {
                self.per_order.remove(order_id);
            }
            return plan;
        }
        // Both draws happen on every call, so the n-th sampled call's fate depends only on the
        // seed and n, not on the rates that were in force for earlier calls.
        let timeout_draw = self.rng.next_f64();
        let error_draw = self.rng.next_f64();
        if timeout_draw < self.current.timeout_rate {
            Plan::Timeout {
                delay: Duration::from_millis(self.current.timeout_ms),
                approve: self.current.approve_before_timeout,
            }
        } else if error_draw < self.current.error_rate {
            Plan::Error(self.code)
        } else {
            Plan::Pass
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(error_rate: f64, seed: u64) -> FaultState {
        let faults = Faults {
            error_rate,
            seed: Some(seed),
            ..Faults::default()
        };
        let code = faults.validate().expect("valid");
        FaultState::new(faults, code)
    }

    fn outcomes(s: &mut FaultState, n: usize) -> Vec<bool> {
        (0..n)
            .map(|_| matches!(s.sample("o", Operation::Confirm), Plan::Error(_)))
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_faults_and_rates_are_respected() {
        let a = outcomes(&mut state(0.3, 42), 2000);
        assert_eq!(a, outcomes(&mut state(0.3, 42), 2000));
        assert_ne!(a, outcomes(&mut state(0.3, 43), 2000));
        let errors = a.iter().filter(|e| **e).count();
        assert!((450..750).contains(&errors), "{errors} of 2000 at rate 0.3");
        assert!(outcomes(&mut state(0.0, 1), 500).iter().all(|e| !e));
        assert!(outcomes(&mut state(1.0, 1), 500).iter().all(|e| *e));
    }

    #[test]
    fn a_per_order_fault_applies_exactly_times_then_stops() {
        let mut s = state(0.0, 7);
        s.set_order(
            "o".into(),
            OrderFault {
                operation: Operation::Confirm,
                mode: FaultMode::Error,
                code: crate::codes::get("REJECT_CARD_PAYMENT"),
                remaining: 2,
                timeout_ms: 0,
                approve_before_timeout: false,
            },
        );
        let confirm = Operation::Confirm;
        assert!(matches!(s.sample("other", confirm), Plan::Pass));
        // A confirm fault leaves cancels alone and is not used up by them.
        assert!(matches!(s.sample("o", Operation::Cancel), Plan::Pass));
        assert!(matches!(s.sample("o", confirm), Plan::Error(_)));
        assert!(matches!(s.sample("o", confirm), Plan::Error(_)));
        assert!(matches!(s.sample("o", confirm), Plan::Pass));
        assert!(s.order("o").is_none());
    }

    #[test]
    fn invalid_settings_are_named() {
        let bad = Faults {
            error_rate: 1.5,
            error_code: "NOPE".into(),
            ..Faults::default()
        };
        let errors = bad.validate().expect_err("invalid");
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["errorRate", "errorCode"]);
    }
}
