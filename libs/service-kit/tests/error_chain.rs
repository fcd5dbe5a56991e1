//! `error_chain` shows every cause once, so a log line says why, not only what.

use service_kit::{error_chain, StartupError};

#[derive(Debug, thiserror::Error)]
#[error("disk full")]
struct Root;

#[derive(Debug, thiserror::Error)]
#[error("writing the ledger")]
struct Wrapping(#[source] Root);

#[derive(Debug, thiserror::Error)]
#[error("settling order 7: {0}")]
struct Repeating(#[source] Root);

#[test]
fn every_cause_is_shown() {
    assert_eq!(
        error_chain(&Wrapping(Root)),
        "writing the ledger: disk full"
    );
}

#[test]
fn a_cause_its_parent_already_shows_is_not_repeated() {
    assert_eq!(error_chain(&Repeating(Root)), "settling order 7: disk full");
}

#[test]
fn a_startup_failure_keeps_its_cause() {
    let err = StartupError::other("PSP client", Wrapping(Root));
    assert_eq!(
        error_chain(&err),
        "PSP client: writing the ledger: disk full"
    );
    let plain = StartupError::Other("the event bus needs NATS".into());
    assert_eq!(error_chain(&plain), "the event bus needs NATS");
}
