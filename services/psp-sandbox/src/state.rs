//! The sandbox's state: payments, idempotent replies, call statistics and faults, in memory
//! behind one `Mutex`. A sandbox needs no durability — a restart is a fresh PSP — and one lock
//! makes every confirm's check-and-charge atomic, which is exactly the guarantee under test.
//! The lock is never held across an `.await` (its guard is not `Send`, so the compiler
//! enforces that); sleeps for latency and timeouts happen outside it.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Mutex, MutexGuard, PoisonError},
};

use crate::{
    amount::Amount,
    errors::{TossError, TossResponse},
    faults::FaultState,
    payment::{now_kst, PaymentRecord, PaymentStatus},
    prng::{time_seed, SplitMix64},
    settings::Settings,
};

/// Shared by all handlers.
pub struct Sandbox {
    state: Mutex<State>,
    pub settings: Settings,
}

impl Sandbox {
    pub fn new(settings: Settings) -> Self {
        let faults = FaultState::new(settings.faults.clone(), settings.error_code);
        Self {
            state: Mutex::new(State {
                payments: HashMap::new(),
                by_order: HashMap::new(),
                replies: HashMap::new(),
                stats: Stats::default(),
                faults,
                ids: SplitMix64::new(time_seed()),
            }),
            settings,
        }
    }

    /// Every mutation completes inside one critical section, so a panic elsewhere cannot
    /// leave the state half-updated; a poisoned lock is therefore safe to keep using.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The stored reply for an Idempotency-Key.
#[derive(Debug, Clone)]
enum Reply {
    /// The first request with this key is still being processed.
    InFlight,
    Done(TossResponse),
}

pub enum Claim {
    /// The key is new: the caller processes the request and must settle or release the key.
    Claimed,
    /// Another request with this key is in flight.
    Busy,
    /// The key was used before: answer exactly this.
    Replay(TossResponse),
}

#[derive(Debug, Default, Clone)]
pub struct OrderStats {
    pub confirm_calls: u64,
    pub charged: bool,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub confirm_calls: u64,
    pub charges: u64,
    pub per_order: BTreeMap<String, OrderStats>,
}

/// What `approve` did for an order.
pub enum Approval {
    Created(String),
    /// The order was approved before with the same amount: the same paymentKey.
    Existing(String),
    /// The order was approved before with another amount.
    Conflict {
        amount: Amount,
    },
}

pub struct State {
    payments: HashMap<String, PaymentRecord>,
    by_order: HashMap<String, String>,
    replies: HashMap<String, Reply>,
    pub stats: Stats,
    pub faults: FaultState,
    /// Separate from the fault PRNG so creating payments never shifts the fault sequence.
    ids: SplitMix64,
}

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

impl State {
    fn random_chars(&mut self, n: usize, alphabet: &[u8]) -> String {
        (0..n)
            .map(|_| alphabet[(self.ids.next_u64() % alphabet.len() as u64) as usize] as char)
            .collect()
    }

    /// The customer approved `order_id` in the payment window: a READY payment. Approving the
    /// same order again is idempotent, as a double-clicked Approve button must be.
    pub fn approve(&mut self, order_id: &str, order_name: &str, amount: Amount) -> Approval {
        if let Some(existing) = self.payment_by_order(order_id) {
            return if existing.amount == amount {
                Approval::Existing(existing.payment_key.clone())
            } else {
                Approval::Conflict {
                    amount: existing.amount,
                }
            };
        }
        let now = now_kst();
        // Shaped like Toss's test keys: tgen_ + timestamp + random.
        let payment_key = loop {
            let key = format!(
                "tgen_{}{}",
                now.format("%Y%m%d%H%M%S"),
                self.random_chars(10, ALPHABET)
            );
            if !self.payments.contains_key(&key) {
                break key;
            }
        };
        let record = PaymentRecord {
            payment_key: payment_key.clone(),
            order_id: order_id.to_string(),
            order_name: order_name.to_string(),
            amount,
            status: PaymentStatus::Ready,
            requested_at: now,
            approved_at: None,
            last_transaction_key: None,
            approve_no: None,
            failure: None,
        };
        self.payments.insert(payment_key.clone(), record);
        self.by_order
            .insert(order_id.to_string(), payment_key.clone());
        Approval::Created(payment_key)
    }

    pub fn payment(&self, payment_key: &str) -> Option<&PaymentRecord> {
        self.payments.get(payment_key)
    }

    pub fn payment_by_order(&self, order_id: &str) -> Option<&PaymentRecord> {
        self.by_order
            .get(order_id)
            .and_then(|key| self.payments.get(key))
    }

    /// READY → DONE: the one place a customer is charged.
    pub fn charge(&mut self, payment_key: &str) -> Option<&PaymentRecord> {
        let transaction_key = self.random_chars(32, b"0123456789ABCDEF");
        let approve_no = self.random_chars(8, b"0123456789");
        let record = self.payments.get_mut(payment_key)?;
        if record.status != PaymentStatus::Ready {
            return Some(record);
        }
        record.status = PaymentStatus::Done;
        record.approved_at = Some(now_kst());
        record.last_transaction_key = Some(transaction_key);
        record.approve_no = Some(approve_no);
        self.stats.charges += 1;
        self.stats
            .per_order
            .entry(record.order_id.clone())
            .or_default()
            .charged = true;
        Some(record)
    }

    /// READY → ABORTED with the decline as `failure`; other states are left alone. Returns
    /// whether the payment was aborted.
    pub fn abort(&mut self, payment_key: &str, failure: TossError) -> bool {
        match self.payments.get_mut(payment_key) {
            Some(record) if record.status == PaymentStatus::Ready => {
                record.status = PaymentStatus::Aborted;
                record.failure = Some(failure);
                true
            }
            _ => false,
        }
    }

    /// Forgets payments, stored replies, statistics and per-order faults (global fault
    /// settings and the PRNG stay): a long benchmark or chaos run can start from a clean PSP
    /// without a restart, and memory does not grow across runs.
    pub fn reset(&mut self) {
        self.payments.clear();
        self.by_order.clear();
        self.replies.clear();
        self.stats = Stats::default();
        self.faults.clear_orders();
    }

    pub fn count_confirm(&mut self, order_id: &str) {
        self.stats.confirm_calls += 1;
        self.stats
            .per_order
            .entry(order_id.to_string())
            .or_default()
            .confirm_calls += 1;
    }

    pub fn claim(&mut self, key: &str) -> Claim {
        match self.replies.get(key) {
            Some(Reply::Done(reply)) => Claim::Replay(reply.clone()),
            Some(Reply::InFlight) => Claim::Busy,
            None => {
                self.replies.insert(key.to_string(), Reply::InFlight);
                Claim::Claimed
            }
        }
    }

    /// Stores the reply for `key`, or frees the key so the request can be retried with it.
    pub fn settle(&mut self, key: &str, reply: Option<TossResponse>) {
        match reply {
            Some(reply) => self.replies.insert(key.to_string(), Reply::Done(reply)),
            None => self.replies.remove(key),
        };
    }
}
