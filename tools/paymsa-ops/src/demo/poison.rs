//! `demo poison`: an undecodable message. Every consumer of the subject terminates it at once
//! (it can never decode: no retries) and each service's dead-letter worker stores it. A replay
//! runs the same bytes through the one consumer's handler again, which fails again — reported,
//! and the letter stays open (correct for a message no code can read). Nothing is republished.

use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::Value;

use super::{
    api::{DeadLetter, PubAck},
    context::{get, post, Demo, WALLET},
    wait::{self, Poll},
};
use crate::{dead_letters, json, pretty, publish, style::fmt_ms};

const SUBJECT: &str = "order.payment.confirmed";
/// The consumers of the subject (libs/messaging/src/access.rs), sorted.
const CONSUMERS: [&str; 4] = [
    "hot-catalog-orders",
    "order-query-projection",
    "review-purchases",
    "wallet-settlement",
];

/// The dead letters of the message `msg_id` among every service's newest 100, each with its
/// `service` (as `just dlq` lists them).
async fn dead_letters_of(demo: &Demo, msg_id: &str) -> anyhow::Result<Vec<Value>> {
    let (_, mut items) = dead_letters::all(&demo.admin()).await?;
    items.retain(|i| i["msgId"].as_str() == Some(msg_id));
    Ok(items)
}

/// The consumers that dead-lettered it, sorted.
fn consumers(items: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = items.iter().map(|i| json::text(&i["consumer"])).collect();
    names.sort();
    names
}

pub async fn run(demo: &mut Demo) -> anyhow::Result<()> {
    demo.out
        .step("A poison event: undecodable → dead letters → replay");
    let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let msg_id = format!("demo-poison-{nanos}");
    let Some(nats) = demo.settings.nats.clone() else {
        bail!("no NATS server in use — start the stack: just up");
    };
    let headers = [("Nats-Msg-Id".to_string(), msg_id.clone())];
    let ack = publish::publish(
        &nats,
        &headers,
        SUBJECT,
        "not json".into(),
        Duration::from_secs(5),
    )
    .await
    .with_context(|| format!("publishing to {SUBJECT} failed"))?;
    let ack: PubAck = serde_json::from_str(&ack).with_context(|| format!("not a PubAck: {ack}"))?;
    demo.out.ok(format!(
        "published 'not json' to {SUBJECT}, Nats-Msg-Id {msg_id} → {} seq {}",
        ack.stream, ack.seq
    ));
    let what = format!("dead letters for {msg_id}");
    let (items, took) = wait::until(20, &what, || async {
        let items = dead_letters_of(demo, &msg_id).await?;
        let got = consumers(&items);
        Ok(if got == CONSUMERS {
            Poll::Done(items)
        } else if got.is_empty() {
            Poll::NotYet("dead-lettered by: nobody yet".into())
        } else {
            Poll::NotYet(format!("dead-lettered by: {}", got.join(" ")))
        })
    })
    .await?;
    demo.out.ok(format!(
        "all 4 consumers of the subject terminated it at once (no retries: it can never decode) — {}:",
        fmt_ms(took.as_millis())
    ));
    demo.out.show(&dead_letters::listing(&items));
    let Some(id) = items
        .iter()
        .find(|i| i["service"] == WALLET)
        .map(|i| json::text(&i["id"]))
    else {
        bail!(
            "no dead letter of wallet-service among: {}",
            Value::Array(items)
        );
    };
    let path = format!("/admin/dead-letters/{id}");
    let letter: DeadLetter = demo
        .call(get(WALLET, &path).admin(), &[200])
        .await?
        .json()?;
    let payload = letter.payload_text.map_or(Value::Null, Value::String);
    demo.out.ok(format!(
        "inspect {id}: reason {}, payloadText {}, headers {}",
        letter.reason,
        pretty::one_line(&payload),
        letter.headers
    ));
    let replay = format!("{path}/replay");
    let failed = demo
        .call(post(WALLET, replay, Value::Null).admin(), &[422])
        .await?;
    if failed.body["code"] != "DEAD_LETTER_REPLAY_FAILED" {
        bail!(
            "expected DEAD_LETTER_REPLAY_FAILED, got {}",
            failed.problem()
        );
    }
    demo.out.ok(format!(
        "replay through wallet-settlement's handler failed again: {}",
        json::text(&failed.body["detail"])
    ));
    let letter: DeadLetter = demo
        .call(get(WALLET, &path).admin().quiet(), &[200])
        .await?
        .json()?;
    demo.out.ok(format!(
        "dead letter {id} stays open: resolvedAt {}, replayCount {}, lastError {}",
        letter.resolved_at.json(),
        letter.replay_count,
        letter.last_error.json()
    ));
    // one per consumer of the subject: the replay added none
    let after = dead_letters_of(demo, &msg_id).await?;
    if after.len() != CONSUMERS.len() {
        bail!(
            "expected the {} dead letters of {msg_id}, found: {}",
            CONSUMERS.len(),
            after.len()
        );
    }
    demo.out.note(
        "the replay ran in wallet-service only (nothing republished): the other consumers saw nothing,",
    );
    demo.out.note(
        "and no new dead letter appeared. A replay helps once the cause is fixed — see the next flow (just recover).",
    );
    Ok(())
}
