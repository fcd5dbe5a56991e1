//! wallet-service's own settings, validated at start like the kit's (docs/configuration.md).

use std::time::Duration;

use rust_decimal::Decimal;
use service_kit::{ConfigError, ServiceConfig};

/// What the settlement, reversal and release paths need to know.
#[derive(Debug, Clone, Copy)]
pub struct LedgerSettings {
    /// Commission of sellers without a rate of their own (`FEE_RATE_DEFAULT`, 0 ≤ r < 1).
    pub fee_rate_default: Decimal,
    /// How long a sale's net stays in SELLER_PENDING (`SETTLEMENT_HOLD`).
    pub hold: Duration,
    /// Workers that commit settlements in groups (`SETTLEMENT_GROUP_LANES`, 0–8); 0: each
    /// settlement in a transaction of its own.
    pub group_lanes: usize,
}

/// Two lanes since stop 27, when a plain group became one batch of shared statements
/// (settlement_batch.rs): `just bench e2e`, two runs each, 90.4 paid orders/s against 80.3
/// with 0, the wallet's transactions per paid order 0.65 against 1.48, settlement lag p99
/// 209–271 ms against 290–302 (docs/benchmarks.md, stop 27). Before, a group ran every order's
/// statements one after another in a savepoint each, and grouping lost:
/// measured with `just bench e2e` (docs/benchmarks.md), grouping settlements made
/// the settlement lag far worse. Stop 11, when a sale row-locked its wallet: p50 23 s against
/// 3 s. Stop 14, now that a sale holds only its sellers' shared advisory locks: p50 21 s
/// against 0.4 s — a group holds the shared locks of all its sellers until it commits, a
/// cancel's reversal (exclusive) queues behind it, and every later settlement of those sellers
/// queues behind the reversal. Stop 15, after reversals stopped taking the seller's lock
/// exclusively (store::lock_order): still p50 8.7 s against 0.15 s at the same throughput,
/// with no advisory-lock waits left; the samples show seller folds waiting for the groups'
/// transactions (Lock:transactionid), not explained further.
const DEFAULT_GROUP_LANES: usize = 2;

/// Two days: long enough for most cancels to arrive before the money becomes available.
const DEFAULT_HOLD: Duration = Duration::from_secs(2 * 24 * 3600);

impl LedgerSettings {
    pub fn from_config(config: &ServiceConfig) -> Result<Self, ConfigError> {
        let fee_rate_default = match config.extra_var("FEE_RATE_DEFAULT") {
            None => Decimal::ZERO,
            Some(raw) => parse_fee_rate(&raw)
                .map_err(|reason| ConfigError::new("FEE_RATE_DEFAULT", reason))?,
        };
        let hold = match config.extra_var("SETTLEMENT_HOLD") {
            None => DEFAULT_HOLD,
            Some(raw) => {
                parse_duration(&raw).map_err(|r| ConfigError::new("SETTLEMENT_HOLD", r))?
            }
        };
        let group_lanes = match config.extra_var("SETTLEMENT_GROUP_LANES") {
            None => DEFAULT_GROUP_LANES,
            Some(raw) => raw
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= 8)
                .ok_or_else(|| {
                    ConfigError::new("SETTLEMENT_GROUP_LANES", "a whole number from 0 to 8")
                })?,
        };
        Ok(Self {
            fee_rate_default,
            hold,
            group_lanes,
        })
    }
}

/// Parked orders a seller's onboarding applies per transaction (`ONBOARDING_PARKED_ORDERS`):
/// each holds an advisory lock until its transaction commits, and all transactions share
/// Postgres's lock table (`max_locks_per_transaction`, 64 by default, × `max_connections`).
pub const DEFAULT_ONBOARDING_PARKED_ORDERS: usize = 256;

/// `ONBOARDING_PARKED_ORDERS`: 1–1,000, default [`DEFAULT_ONBOARDING_PARKED_ORDERS`]; the
/// lock table holds 64 × `max_connections` locks by default (6,400 at 100 connections).
pub fn onboarding_parked_orders(config: &ServiceConfig) -> Result<usize, ConfigError> {
    match config.extra_var("ONBOARDING_PARKED_ORDERS") {
        None => Ok(DEFAULT_ONBOARDING_PARKED_ORDERS),
        Some(raw) => raw
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1_000).contains(n))
            .ok_or_else(|| {
                ConfigError::new("ONBOARDING_PARKED_ORDERS", "a whole number from 1 to 1000")
            }),
    }
}

/// A commission rate: a decimal 0 ≤ r < 1 with at most 6 decimals (the column's scale; a
/// finer rate would be rounded silently by the database).
pub fn parse_fee_rate(raw: &str) -> Result<Decimal, String> {
    let rate: Decimal = raw
        .trim()
        .parse()
        .map_err(|_| format!("must be a decimal like 0.05 (got {raw:?})"))?;
    check_fee_rate(rate)?;
    Ok(rate.normalize())
}

pub fn check_fee_rate(rate: Decimal) -> Result<(), String> {
    if rate < Decimal::ZERO || rate >= Decimal::ONE {
        return Err(format!("must be at least 0 and below 1 (got {rate})"));
    }
    if rate.normalize().scale() > 6 {
        return Err(format!("has more than 6 decimals (got {rate})"));
    }
    Ok(())
}

/// `2d`, `12h`, `30m`, `5s`, `250ms`, `0s`: a whole number and a unit.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let split = raw
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("needs a unit: ms, s, m, h or d (got {raw:?})"))?;
    let (digits, unit) = raw.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("must be like 2d, 10s or 0s (got {raw:?})"))?;
    let secs = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => return Err(format!("unknown unit {unit:?}: use ms, s, m, h or d")),
    };
    secs.filter(|s| *s <= 3650 * 86_400)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("is longer than ten years (got {raw:?})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["", "5", "s", "-1s", "1.5h", "3w", "99999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fee_rates() {
        assert_eq!(parse_fee_rate("0.05"), Ok(Decimal::new(5, 2)));
        assert_eq!(parse_fee_rate("0"), Ok(Decimal::ZERO));
        for bad in ["1", "1.0", "-0.01", "abc", "0.0000001"] {
            assert!(parse_fee_rate(bad).is_err(), "{bad}");
        }
    }
}
