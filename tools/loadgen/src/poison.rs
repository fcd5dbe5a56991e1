//! Poison events: undecodable payloads published onto business subjects. Every consumer that
//! reads the subject must terminate it, and its service must keep it as a dead letter exactly
//! once — found by the `Nats-Msg-Id` the poison was published with.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use anyhow::Context;
use async_nats::HeaderMap;
use events::topology::{Topology, BUSINESS_STREAMS};

use crate::{
    invariants::Checks,
    stack::{consumers, Stack},
};

pub struct Poison {
    pub subject: String,
    pub msg_id: String,
    /// Durable consumers whose filter takes the subject.
    pub consumers: Vec<String>,
}

/// NATS subject matching with `*` and `>` wildcards.
fn matches(filter: &str, subject: &str) -> bool {
    let mut f = filter.split('.');
    let mut s = subject.split('.');
    loop {
        match (f.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Publishes one undecodable message onto `subject` (unqualified, e.g.
/// `order.payment.confirmed`) and notes which consumers must dead-letter it.
pub async fn inject(stack: &mut Stack, subject: &str, n: usize) -> anyhow::Result<Poison> {
    let def = BUSINESS_STREAMS
        .iter()
        .find(|d| matches(d.subjects, subject))
        .with_context(|| format!("no stream takes {subject}"))?;
    let qualified = Topology::new(stack.namespace.clone()).subject(subject);
    let mut consumers = Vec::new();
    for info in stack.consumers(def).await? {
        let mut filters = info.config.filter_subjects.clone();
        if !info.config.filter_subject.is_empty() {
            filters.push(info.config.filter_subject.clone());
        }
        if filters.is_empty() || filters.iter().any(|f| matches(f, &qualified)) {
            consumers.push(info.name.clone());
        }
    }
    let msg_id = format!("poison-{}-{n}", stack.namespace);
    let mut headers = HeaderMap::new();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, msg_id.as_str());
    let js = stack.jetstream().await?;
    js.publish_with_headers(qualified, headers, "{\"eventId\": not json".into())
        .await?
        .await
        .context("publishing a poison event")?;
    consumers.sort();
    Ok(Poison {
        subject: subject.to_string(),
        msg_id,
        consumers,
    })
}

/// Dead letters per consumer holding the poison, over every consuming service.
async fn dead_letters(stack: &mut Stack, msg_id: &str) -> anyhow::Result<BTreeMap<String, i64>> {
    let mut found = BTreeMap::new();
    for service in consumers() {
        let db = stack.db(service).await?;
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "select consumer, count(*) from dead_letters where msg_id = $1 group by consumer",
        )
        .bind(msg_id)
        .fetch_all(&db)
        .await?;
        for (consumer, n) in rows {
            *found.entry(consumer).or_default() += n;
        }
    }
    Ok(found)
}

/// Each poison is a dead letter exactly once per consumer that reads its subject.
pub async fn check(
    stack: &mut Stack,
    poisons: &[Poison],
    checks: &mut Checks,
) -> anyhow::Result<()> {
    let mut off = Vec::new();
    let mut letters = 0;
    for poison in poisons {
        let expected: BTreeMap<String, i64> =
            poison.consumers.iter().map(|c| (c.clone(), 1)).collect();
        // The dead-letter workers store advisories asynchronously; give them a moment.
        let deadline = Instant::now() + Duration::from_secs(30);
        let found = loop {
            let found = dead_letters(stack, &poison.msg_id).await?;
            if found == expected || Instant::now() > deadline {
                break found;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        letters += found.values().sum::<i64>();
        if found != expected || expected.is_empty() {
            off.push(format!(
                "{} ({}): expected {expected:?}, found {found:?}",
                poison.subject, poison.msg_id
            ));
        }
    }
    checks.add(
        "each poison event dead-lettered exactly once",
        off.is_empty(),
        if off.is_empty() {
            format!(
                "{} poison events, {letters} dead letters (one per consumer)",
                poisons.len()
            )
        } else {
            off.join("; ")
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn subject_wildcards() {
        assert!(matches("a.order.>", "a.order.payment.confirmed"));
        assert!(matches(
            "a.*.payment.confirmed",
            "a.order.payment.confirmed"
        ));
        assert!(!matches(
            "a.order.payment.failed",
            "a.order.payment.confirmed"
        ));
        assert!(!matches("a.order", "a.order.payment"));
    }
}
