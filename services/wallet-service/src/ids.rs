//! The ids on the money path, so a seller number cannot be passed where a wallet or payout
//! number is expected. [`SellerNo`] and [`WalletNo`] travel in events and are defined once in
//! libs/events/src/ids.rs; [`PayoutNo`] is wallet-service's own. All are the `bigint` they
//! wrap in the database (`sqlx(transparent)`); the API shows them as `service_kit::Id`.

use std::fmt;

pub use events::{SellerNo, WalletNo};
use service_kit::Id;

/// A payout (`payouts.payout_no`, a snowflake; the PSP's `refPayoutId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, sqlx::Type)]
#[sqlx(transparent)]
pub struct PayoutNo(pub i64);

impl fmt::Display for PayoutNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<PayoutNo> for Id {
    fn from(v: PayoutNo) -> Self {
        Id(v.0)
    }
}

impl From<Id> for PayoutNo {
    fn from(v: Id) -> Self {
        Self(v.0)
    }
}
