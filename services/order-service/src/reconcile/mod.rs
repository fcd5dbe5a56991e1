//! Reconciliation (docs/payments.md): the PSP's transactions against our orders. Every order
//! *charged* in the window (by the PSP's record or ours) is compared on what was charged and
//! what was refunded, cancels after the window included, and so is every order paid earlier
//! but refunded in it (at the PSP or by us: `late`) and every order the last run left
//! unresolved ([`Scope`]); a mismatch is repaired where the outcome rules say how (`repair`),
//! and otherwise listed.

mod late;
mod repair;
mod window;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rust_decimal::Decimal;

use crate::{
    cancels::CancelError,
    payments::{joint_status, ConfirmError, Payments},
    psp::TransactionsUnavailable,
    status::{CancelStatus, PaymentStatus},
    store,
};

pub use window::Scope;

/// One side's view of an order: what was charged and what was refunded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledger {
    pub status: String,
    pub charged: Decimal,
    pub refunded: Decimal,
}

#[derive(Debug, Clone)]
pub struct Mismatch {
    pub order_id: String,
    pub ours: Ledger,
    pub psp: Ledger,
    /// `ACCEPTED_PAYMENT`, `COMPLETED_CANCEL`, or `NONE` (listed for a person).
    pub action: String,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub checked: usize,
    pub matched: usize,
    /// Of `matched`: orders that differed from the PSP's list and agreed with its record looked
    /// up again, confirmed or refunded between the two reads.
    pub matched_on_second_look: usize,
    /// Orders with an attempt or a cancel in flight, compared again on the next run.
    pub in_flight: usize,
    pub mismatches: Vec<Mismatch>,
    /// Mismatches listed for a person (`NONE`) or that failed to repair (`ERROR`).
    pub unrepaired: i64,
    /// The orders to compare again on the next run: in flight, listed, or not read.
    pub unresolved: BTreeSet<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Psp(#[from] TransactionsUnavailable),
    #[error(transparent)]
    Db(#[from] ConfirmError),
}

impl From<CancelError> for ReconcileError {
    fn from(e: CancelError) -> Self {
        match e {
            CancelError::Confirm(e) => Self::Db(e),
            other => Self::Db(ConfirmError::NotFound(other.to_string())),
        }
    }
}

impl From<sqlx::Error> for ReconcileError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(e.into())
    }
}

impl Payments {
    pub async fn reconcile(&self, scope: Scope) -> Result<Report, ReconcileError> {
        let read = self.read_psp(&scope).await?;
        let mut psp = read.ledgers;
        let (from, to) = (scope.from, scope.to);
        let mut conn = self.pool.acquire().await?;
        let ours_in_window = store::recovery::paid_between(&mut conn, from, to).await?;
        let ours_cancelled =
            store::ledgers::cancelled_between(&mut conn, scope.late_from, to).await?;
        drop(conn);
        // Refunded since `late_from` (by the PSP's record or ours) and carried over, where the
        // read holds no charge: the PSP's whole record of each is looked up.
        let candidates = read
            .refunded_since
            .into_iter()
            .chain(ours_cancelled)
            .chain(scope.carried.iter().cloned());
        let late = late::late_orders(candidates, &psp);
        let failed = self.look_up_late(&late, &mut psp).await;
        let orders: BTreeSet<String> = read
            .charged_in_window
            .into_iter()
            .chain(ours_in_window)
            .chain(late)
            .chain(scope.carried)
            .filter(|id| !failed.contains(id))
            .collect();
        let orders: Vec<String> = orders.into_iter().collect();

        let mut report = Report::default();
        for order_id in failed {
            list_unread(&mut report, order_id, &psp);
        }
        // Our side is read a chunk at a time, one statement each, so only a chunk of it is
        // held however long the window. A chunk whose read fails is listed as errors and the
        // rest of the window is still compared: one chunk's trouble must not hide the others
        // (nor the repairs already made).
        for chunk in orders.chunks(store::ledgers::LEDGER_CHUNK) {
            let ledgers = match self.pool.acquire().await {
                Ok(mut conn) => our_ledgers(&mut conn, chunk).await,
                Err(e) => Err(e),
            };
            match ledgers {
                Ok(ledgers) => self.compare_chunk(chunk, ledgers, &psp, &mut report).await,
                Err(e) => {
                    tracing::warn!(orders = chunk.len(), error = %e, "reading our side of orders failed");
                    for order_id in chunk {
                        list_unread(&mut report, order_id.clone(), &psp);
                    }
                }
            }
        }
        if report.unrepaired > 0 {
            tracing::error!(
                unrepaired = report.unrepaired,
                "reconciliation found mismatches it cannot repair"
            );
        }
        Ok(report)
    }

    /// The cancel's drive claim (store/cancels.rs `claim_one`); a database error leaves it to
    /// the next run, carried like any order in flight.
    async fn claim_cancel(&self, cancel_no: i64) -> bool {
        let claimed = async {
            let mut conn = self.pool.acquire().await?;
            let stale = self.stale_after.as_secs_f64();
            store::cancels::claim_one(&mut conn, cancel_no, stale).await
        };
        claimed.await.unwrap_or_else(|e| {
            tracing::warn!(cancel_no, error = %e, "claiming an open cancel failed");
            false
        })
    }

    /// Compares, and repairs where the rules say how, the orders of one chunk.
    async fn compare_chunk(
        &self,
        chunk: &[String],
        mut ledgers: HashMap<String, OurLedger>,
        psp: &BTreeMap<String, Ledger>,
        report: &mut Report,
    ) {
        for order_id in chunk {
            let order_id = order_id.clone();
            report.checked += 1;
            let mut theirs = psp_side(psp, &order_id);
            let Some(OurLedger {
                ledger: ours,
                busy,
                open_cancel,
            }) = ledgers.remove(&order_id)
            else {
                report.unresolved.insert(order_id.clone());
                report.mismatches.push(Mismatch {
                    order_id,
                    ours: Ledger {
                        status: "NONE".into(),
                        ..Ledger::default()
                    },
                    psp: theirs,
                    action: "NONE".into(),
                });
                report.unrepaired += 1;
                continue;
            };
            if agree(&ours, &theirs) {
                report.matched += 1;
                continue;
            }
            let action = match open_cancel {
                // The PSP refunded more than we have: our open cancel may have gone through
                // there. Its drive reads the PSP's record and completes it from its own refund
                // if there is one, else calls again with its key (cancels/drive.rs). Only with
                // the cancel's claim, as recovery takes it: never beside the API's first call or
                // a recovery drive, and not again before its next look is due (found in review).
                Some(cancel_no) if theirs.refunded > ours.refunded => {
                    if !self.claim_cancel(cancel_no).await {
                        report.in_flight += 1;
                        report.unresolved.insert(order_id);
                        continue;
                    }
                    match self.drive_cancel(cancel_no, ACTOR).await {
                        Ok(c) if c.status == CancelStatus::Done => "COMPLETED_CANCEL".to_string(),
                        _ => "NONE".to_string(),
                    }
                }
                _ if busy || open_cancel.is_some() => {
                    report.in_flight += 1;
                    report.unresolved.insert(order_id);
                    continue;
                }
                // A second look at the PSP before the order is repaired or listed: the window
                // was read before our side, so an order confirmed or refunded between the two
                // reads (the PSP first, then us) differs only in time. Every run at 60
                // payments/s listed one to four such orders, and each paged the on-call
                // (docs/benchmarks.md, stop 20). The record looked up then serves the repair
                // and the listing too.
                _ => {
                    let looked_up = self.psp.find_by_order_id(&order_id).await;
                    if let Some(now) = late::record_now(&looked_up, &theirs) {
                        if agree(&ours, &now) {
                            report.matched += 1;
                            report.matched_on_second_look += 1;
                            continue;
                        }
                        theirs = now;
                    }
                    match self.repair(&order_id, &ours, &theirs, looked_up).await {
                        Ok(action) => action,
                        Err(e) => {
                            tracing::warn!(%order_id, error = %e, "repairing an order failed");
                            "ERROR".to_string()
                        }
                    }
                }
            };
            if action == "NONE" || action == "ERROR" {
                report.unrepaired += 1;
                report.unresolved.insert(order_id.clone());
            }
            report.mismatches.push(Mismatch {
                order_id,
                ours,
                psp: theirs,
                action,
            });
        }
    }
}

pub const ACTOR: &str = "reconciliation";

/// Charged and refunded must both agree; the one exception is an order we failed after
/// refunding a wrong charge ourselves (the PSP shows it charged and refunded, we show neither:
/// nothing is owed either way).
fn agree(ours: &Ledger, theirs: &Ledger) -> bool {
    let net = |l: &Ledger| l.charged - l.refunded;
    (ours.charged == theirs.charged && ours.refunded == theirs.refunded)
        || (ours.status == "FAILURE" && net(ours).is_zero() && net(theirs).is_zero())
}

/// An order whose side could not be read (ours, or the PSP's lookup): listed as an error and
/// compared again on the next run.
fn list_unread(report: &mut Report, order_id: String, psp: &BTreeMap<String, Ledger>) {
    report.checked += 1;
    report.unrepaired += 1;
    report.unresolved.insert(order_id.clone());
    report.mismatches.push(Mismatch {
        psp: psp_side(psp, &order_id),
        order_id,
        ours: Ledger::default(),
        action: "ERROR".into(),
    });
}

/// The PSP's record of an order; status `NONE` when it has none.
fn psp_side(psp: &BTreeMap<String, Ledger>, order_id: &str) -> Ledger {
    psp.get(order_id).cloned().unwrap_or_else(|| Ledger {
        status: "NONE".into(),
        ..Ledger::default()
    })
}

/// Our record of one order; `busy` when an attempt is in flight (the two records
/// legitimately differ for a moment), `open_cancel` when a cancel waits for the PSP.
struct OurLedger {
    ledger: Ledger,
    busy: bool,
    open_cancel: Option<i64>,
}

/// Our records of the orders we have among `order_ids`, read in bulk (store/ledgers.rs).
async fn our_ledgers(
    conn: &mut sqlx::PgConnection,
    order_ids: &[String],
) -> Result<HashMap<String, OurLedger>, sqlx::Error> {
    let rows = store::ledgers::order_ledgers(conn, order_ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let status = joint_status(&row.statuses);
            let ledger = Ledger {
                status: status.to_string(),
                charged: if status.is_paid() {
                    row.total_amount
                } else {
                    Decimal::ZERO
                },
                refunded: row.refunded_amount,
            };
            let ours = OurLedger {
                ledger,
                busy: status == PaymentStatus::Executing,
                open_cancel: row.open_cancel,
            };
            (row.order_id, ours)
        })
        .collect())
}
