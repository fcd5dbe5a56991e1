//! What the shoppers saw, held against the contract: a wrong paymentKey is refused (or left
//! UNKNOWN while the PSP cannot answer) and the right one then goes through; cancels answer 200 DONE or 202 while the PSP is silent; the
//! broker's amnesia was repaired.

use crate::{
    amnesia::Repair, cancel::CancelKind, drive::DriveResult, invariants::Checks, workload::Outcome,
};

pub fn check(driven: &DriveResult, checks: &mut Checks) {
    let mut tried = 0;
    let mut off = Vec::new();
    for r in &driven.records {
        let Some((status, code)) = &r.wrong_key else {
            continue;
        };
        tried += 1;
        // 202: the PSP was down or slow and could not refuse it in time; LOST_WRONG_KEY:
        // order-service died during the call and the client's retry found the attempt still
        // open (journey.rs `held`). Either way it was not accepted.
        let refused = matches!(status, 400 | 404 | 422 | 202)
            || (*status == 409 && code == crate::journey::LOST_WRONG_KEY);
        let then_ok = !matches!(r.outcome, Outcome::Refused(..));
        if !refused || !then_ok {
            off.push(format!(
                "{}: wrong key {status} {code}, right key {:?}",
                r.order_id, r.outcome
            ));
        }
    }
    checks.add(
        "wrong paymentKey refused, right key accepted",
        off.is_empty(),
        if off.is_empty() {
            format!("{tried} orders confirmed with a wrong key first")
        } else {
            off.into_iter().take(10).collect::<Vec<_>>().join("; ")
        },
    );

    let mut cancels = 0;
    let mut raced = 0;
    let mut gave_up = 0;
    let mut off = Vec::new();
    for r in &driven.records {
        for c in &r.cancels {
            cancels += 1;
            if c.kind == CancelKind::Concurrent {
                raced += 1;
                gave_up += usize::from(c.status == 409);
            }
            if !c.as_expected() {
                off.push(format!("{}: {}", r.order_id, c.label()));
            }
        }
    }
    checks.add(
        "cancels answered 200 DONE or 202",
        off.is_empty(),
        if off.is_empty() {
            format!("{cancels} cancels, {raced} racing their confirm ({gave_up} never saw it paid)")
        } else {
            off.into_iter().take(10).collect::<Vec<_>>().join("; ")
        },
    );
}

/// The broker restarted on an older copy of its store: every order paid and every cancel done
/// before the restart settled / reversed again.
pub fn amnesia(repair: Option<anyhow::Result<Repair>>, checks: &mut Checks) {
    let (ok, detail) = match repair {
        Some(Ok(r)) => (
            true,
            format!(
                "every earlier paid order settled and cancel reversed {:.1} s after the restart ({} outstanding at the restart)",
                r.took.as_secs_f64(),
                r.unsettled_at_restart
            ),
        ),
        Some(Err(e)) => (false, format!("{e:#}")),
        None => (false, "the amnesia fault did not run".into()),
    };
    checks.add("broker amnesia repaired by re-drive", ok, detail);
}
