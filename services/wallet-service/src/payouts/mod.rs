//! Payouts of a seller's available money through the PSP (Toss payouts API v2).
//!
//! `POST /api/wallets/sellers/{sellerNo}/payouts` writes a REQUESTED payout and its `PAYOUT`
//! entry (available → in transit) in one transaction, then asks the PSP ([`psp`]) with
//! `Idempotency-Key: payout-<payoutNo>`. The PSP's answer moves it to SENT, a timeout or 5xx
//! to UNKNOWN; the signed `payout.changed` webhook (`POST /webhooks/toss`) or the recovery
//! job's lookup ([`job`]) moves it to COMPLETED (`PAYOUT_COMPLETED`: in transit → paid out) or
//! FAILED (`PAYOUT_FAILED`: back to available). See [`crate::ledger::payouts`].

pub mod auto;
pub mod flow;
pub mod job;
pub mod psp;
pub mod request;
pub mod settings;
pub mod signature;
pub mod status;
pub mod store;

pub use flow::Payouts;
pub use status::PayoutStatus;
