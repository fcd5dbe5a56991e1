//! The bus refuses a forged event (docs/identity.md, "The bus"): on the run's broker, which
//! requires the per-service users of messaging::access, catalog-like-service's user publishes
//! an `order.payment.confirmed` — the event wallet-service would settle. The server must answer
//! with a permissions violation and store nothing, while the same connection may still do what
//! its user is allowed (a JetStream account lookup), so a refusal is not a dead connection.
//! An anonymous client must not connect at all.

use std::time::Duration;

use async_nats::{jetstream, HeaderMap};
use events::topology::{Topology, ORDERS};
use tokio::sync::mpsc;

use crate::{invariants::Checks, stack::Stack};

const SUBJECT: &str = "order.payment.confirmed";
const FORGER: &str = "catalog-like-service";

pub async fn forged_event_refused(stack: &mut Stack, checks: &mut Checks) {
    let outcome = check(stack).await;
    let (ok, detail) = match outcome {
        Ok(detail) => (true, detail),
        Err(e) => (false, format!("{e:#}")),
    };
    checks.add(
        "bus: a forged order.payment.confirmed is refused",
        ok,
        detail,
    );
}

async fn check(stack: &mut Stack) -> anyhow::Result<String> {
    let url = stack.broker.urls().join(",");
    let anonymous = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(3))
        .connect(url.as_str())
        .await;
    anyhow::ensure!(anonymous.is_err(), "an anonymous client connected");

    let forger = stack
        .bus_users
        .credentials(FORGER)
        .ok_or_else(|| anyhow::anyhow!("{FORGER} has no NATS user"))?;
    let (errors_tx, mut errors) = mpsc::unbounded_channel();
    let client = async_nats::ConnectOptions::with_user_and_password(
        forger.user.clone(),
        forger.password.clone(),
    )
    .custom_inbox_prefix(messaging::access::inbox_prefix(&forger.user))
    .event_callback(move |event| {
        let errors_tx = errors_tx.clone();
        async move {
            if let async_nats::Event::ServerError(e) = event {
                let _ = errors_tx.send(e.to_string());
            }
        }
    })
    .connect(url.as_str())
    .await?;
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(2))
        .build(client);
    js.query_account()
        .await
        .map_err(|e| anyhow::anyhow!("{FORGER} cannot use what it is allowed to: {e}"))?;

    let topology = Topology::new(stack.namespace.clone());
    let subject = topology.subject(SUBJECT);
    let msg_id = format!("forged-{}", uuid::Uuid::new_v4().simple());
    let mut headers = HeaderMap::new();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, msg_id.as_str());
    let payload = serde_json::json!({
        "eventId": uuid::Uuid::now_v7(),
        "type": SUBJECT,
        "version": 1,
        "occurredAt": chrono::Utc::now().to_rfc3339(),
        "payload": {},
    });
    let acked = match js
        .publish_with_headers(subject.clone(), headers, payload.to_string().into())
        .await
    {
        Err(_) => false,
        Ok(ack) => ack.await.is_ok(),
    };
    anyhow::ensure!(!acked, "the broker stored {FORGER}'s {subject}");
    let said = tokio::time::timeout(Duration::from_secs(5), errors.recv())
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    anyhow::ensure!(
        said.to_lowercase().contains("permissions violation") && said.contains(&subject),
        "no permissions violation from the server (it said {said:?})"
    );
    // Nothing stored: the stream's last message on the subject is not the forged one (the load
    // is over, so no confirm comes after it).
    let admin = stack.jetstream().await?;
    let stream = admin.get_stream(topology.stream_name(&ORDERS)).await?;
    if let Ok(last) = stream.get_last_raw_message_by_subject(&subject).await {
        let id = last
            .headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .map(|v| v.to_string());
        anyhow::ensure!(
            id.as_deref() != Some(msg_id.as_str()),
            "the forged event is in the stream"
        );
    }
    Ok(format!(
        "anonymous connect refused; {FORGER}'s publish of {subject} refused by the server: {said}"
    ))
}
