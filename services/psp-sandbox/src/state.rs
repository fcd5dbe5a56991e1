//! What every handler shares: the pool of the sandbox's own database, the start-up settings,
//! and the in-memory test controls (fault settings, call counters, the id PRNG).
//!
//! Payments, refunds, stored Idempotency-Key replies and the transaction log live in Postgres
//! ([`crate::store`], [`crate::idempotency`]) so a restart — even a SIGKILL in a chaos run —
//! forgets nothing a merchant could reconcile against, and check-and-charge is a row lock in
//! one transaction rather than a process mutex (several sandboxes may share the database).
//! Faults and call counters are test controls of this process, so they stay in memory; the
//! mutex guarding them is never held across an `.await` (its guard is not `Send`, so the
//! compiler enforces that).

use std::{
    sync::{Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use sqlx::PgPool;
use tokio::sync::Notify;

use crate::{
    calls::Calls,
    faults::FaultState,
    payout_faults::PayoutFaults,
    prng::{time_seed, SplitMix64},
    settings::Settings,
};

/// Shared by all handlers.
pub struct Sandbox {
    pub pool: PgPool,
    pub settings: Settings,
    memory: Mutex<Memory>,
    /// Nudges the payout worker (a payout was requested).
    pub payouts_due: Notify,
    /// Nudges the webhook worker (deliveries were committed).
    pub webhooks_due: Notify,
}

pub struct Memory {
    pub calls: Calls,
    pub faults: FaultState,
    pub payout_faults: PayoutFaults,
    /// Where webhooks go (`SANDBOX_WEBHOOK_URLS`, replaced by `PUT /sandbox/webhooks`).
    pub webhook_urls: Vec<String>,
    /// Draws for payout and webhook chaos, apart from the confirm/cancel fault sequence.
    pub chaos: SplitMix64,
    /// Separate from the fault PRNG so creating payments never shifts the fault sequence.
    ids: SplitMix64,
}

/// Alphabet of paymentKeys (after `tgen_`).
pub const KEY_ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Alphabet of transaction keys, as Toss's are upper-case hex.
pub const HEX: &[u8] = b"0123456789ABCDEF";
pub const DIGITS: &[u8] = b"0123456789";

impl Sandbox {
    pub fn new(pool: PgPool, settings: Settings) -> Self {
        let faults = FaultState::new(settings.faults.clone(), settings.error_code);
        let webhook_urls = settings.webhooks.urls.clone();
        Self {
            pool,
            settings,
            memory: Mutex::new(Memory {
                calls: Calls::default(),
                faults,
                payout_faults: PayoutFaults::default(),
                webhook_urls,
                chaos: SplitMix64::new(time_seed() ^ 0x5eed),
                ids: SplitMix64::new(time_seed()),
            }),
            payouts_due: Notify::new(),
            webhooks_due: Notify::new(),
        }
    }

    /// Every mutation of the memory completes inside one critical section, so a panic
    /// elsewhere cannot leave it half-updated; a poisoned lock is therefore safe to keep using.
    pub fn memory(&self) -> MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `n` characters drawn from `alphabet` (ids are random, not secret).
    pub fn random(&self, n: usize, alphabet: &[u8]) -> String {
        let mut memory = self.memory();
        (0..n)
            .map(|_| alphabet[(memory.ids.next_u64() % alphabet.len() as u64) as usize] as char)
            .collect()
    }

    /// The global latency fault, slept before any `/v1` call does its work.
    pub async fn latency(&self) {
        let latency: Duration = self.memory().faults.latency();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
    }
}

impl Memory {
    /// Forgets call counters and per-order faults (global fault settings and the PRNGs stay).
    pub fn reset(&mut self) {
        self.calls = Calls::default();
        self.faults.clear_orders();
        self.payout_faults.clear();
    }
}
