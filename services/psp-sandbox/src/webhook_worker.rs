//! Delivers the webhook outbox: due rows are leased (their next attempt moved past the longest
//! a POST can take), POSTed concurrently, and then marked DELIVERED (a 2xx within 10 s), or
//! given their next attempt on the retry schedule, or FAILED once it is used up. At least
//! once: a sandbox that dies mid-POST leaves the lease to expire and the row is sent again.
//! The webhook chaos faults (`webhookDelayMs`, `webhookDuplicateRate`) apply here.

use std::{collections::HashSet, sync::Arc, time::Duration};

use service_kit::Shutdown;
use tokio::task::JoinSet;

use crate::{
    payment::now_kst,
    state::Sandbox,
    webhooks::{signature, transmission_time, SIGNATURE, TRANSMISSION_TIME},
};

/// Toss waits 10 s for the receiver's answer.
const POST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait between polls when nothing is due (another sandbox on the database may add
/// rows without nudging this one).
const IDLE: Duration = Duration::from_secs(1);
const BATCH: i64 = 32;

struct Due {
    id: i64,
    url: String,
    body: String,
    signed: bool,
    attempts: i32,
}

/// What one delivery attempt came to: the HTTP status, or why there was none.
struct Attempt {
    id: i64,
    attempts: i32,
    status: Option<u16>,
    error: Option<String>,
}

pub async fn run(sandbox: Arc<Sandbox>, shutdown: Shutdown) {
    let client = match reqwest::Client::builder().timeout(POST_TIMEOUT).build() {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(error = %err, "webhook client cannot be built; no webhooks");
            return;
        }
    };
    let mut in_flight: JoinSet<Attempt> = JoinSet::new();
    let mut leased: HashSet<i64> = HashSet::new();
    loop {
        let wait = match lease(&sandbox, &client, &mut in_flight, &mut leased).await {
            Ok(wait) => wait,
            Err(err) => {
                tracing::warn!(error = %err, "webhook outbox poll failed");
                IDLE
            }
        };
        tokio::select! {
            () = shutdown.triggered() => break,
            () = sandbox.webhooks_due.notified() => {}
            () = tokio::time::sleep(wait) => {}
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                if let Ok(attempt) = done {
                    leased.remove(&attempt.id);
                    if let Err(err) = record(&sandbox, &attempt).await {
                        tracing::warn!(error = %err, "webhook attempt not recorded");
                    }
                }
            }
        }
    }
    // POSTs cut short by the shutdown are due again at once for the next sandbox.
    in_flight.abort_all();
    let ids: Vec<i64> = leased.into_iter().collect();
    let _ = sqlx::query!(
        "update webhook_deliveries set next_attempt_at = now()
          where id = any($1) and status = 'PENDING'",
        &ids,
    )
    .execute(&sandbox.pool)
    .await;
}

/// Leases due rows and starts their POSTs; answers how long until the next row is due.
async fn lease(
    sandbox: &Arc<Sandbox>,
    client: &reqwest::Client,
    in_flight: &mut JoinSet<Attempt>,
    leased: &mut HashSet<i64>,
) -> Result<Duration, sqlx::Error> {
    let max_delay = sandbox.memory().faults.current().webhook_delay_ms;
    // Past the POST timeout, the chaos delay and a duplicate: only a dead sandbox's lease
    // ever expires.
    let lease_ms = 2 * (POST_TIMEOUT.as_millis() as u64 + max_delay) + 5_000;
    let rows = sqlx::query_as!(
        Due,
        "update webhook_deliveries set next_attempt_at = now() + make_interval(secs => $2)
          where id in (select id from webhook_deliveries
                        where status = 'PENDING' and next_attempt_at <= now()
                        order by next_attempt_at, id limit $1 for update skip locked)
         returning id, url, body, signed, attempts",
        BATCH,
        lease_ms as f64 / 1000.0,
    )
    .fetch_all(&sandbox.pool)
    .await?;
    for due in rows {
        leased.insert(due.id);
        in_flight.spawn(deliver(sandbox.clone(), client.clone(), due));
    }
    let next: Option<f64> = sqlx::query_scalar!(
        "select extract(epoch from min(next_attempt_at) - now())::float8
           from webhook_deliveries where status = 'PENDING'",
    )
    .fetch_one(&sandbox.pool)
    .await?;
    Ok(next.map_or(IDLE, |secs| {
        Duration::from_secs_f64(secs.clamp(0.005, IDLE.as_secs_f64()))
    }))
}

/// A random wait of up to `webhookDelayMs`, and whether to send a duplicate.
fn chaos(sandbox: &Sandbox) -> (Duration, bool) {
    let mut memory = sandbox.memory();
    let faults = memory.faults.current().clone();
    let delay = if faults.webhook_delay_ms == 0 {
        0
    } else {
        memory.chaos.next_u64() % (faults.webhook_delay_ms + 1)
    };
    let duplicate = memory.chaos.next_f64() < faults.webhook_duplicate_rate;
    (Duration::from_millis(delay), duplicate)
}

async fn post(
    sandbox: &Sandbox,
    client: &reqwest::Client,
    due: &Due,
) -> Result<u16, reqwest::Error> {
    let mut request = client
        .post(&due.url)
        .header("content-type", "application/json")
        .body(due.body.clone());
    if due.signed {
        let at = transmission_time(&now_kst());
        let sig = signature(&sandbox.settings.webhooks.secret, &due.body, &at);
        request = request.header(TRANSMISSION_TIME, at).header(SIGNATURE, sig);
    }
    Ok(request.send().await?.status().as_u16())
}

async fn deliver(sandbox: Arc<Sandbox>, client: reqwest::Client, due: Due) -> Attempt {
    let (delay, duplicate) = chaos(&sandbox);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let outcome = post(&sandbox, &client, &due).await;
    if duplicate {
        let _ = post(&sandbox, &client, &due).await;
    }
    let (status, error) = match outcome {
        Ok(status) => (Some(status), None),
        // the delivery's `error` (GET /sandbox/webhooks/deliveries): the client's message, as always
        Err(error) => (None, Some(error.to_string())),
    };
    Attempt {
        id: due.id,
        attempts: due.attempts + 1,
        status,
        error,
    }
}

/// DELIVERED on a 2xx; otherwise the next retry on the schedule, or FAILED when none is left.
async fn record(sandbox: &Sandbox, a: &Attempt) -> Result<(), sqlx::Error> {
    let delivered = a.status.is_some_and(|s| (200..300).contains(&s));
    let retry = &sandbox.settings.webhooks.retry;
    let next = usize::try_from(a.attempts - 1)
        .ok()
        .and_then(|n| retry.get(n));
    let status = match (delivered, next) {
        (true, _) => "DELIVERED",
        (false, Some(_)) => "PENDING",
        (false, None) => "FAILED",
    };
    let gap = next.map_or(0.0, Duration::as_secs_f64);
    let error = a
        .error
        .clone()
        .or_else(|| (!delivered).then(|| format!("HTTP {}", a.status.unwrap_or_default())));
    sqlx::query!(
        "update webhook_deliveries
            set status = $2, attempts = $3, last_status = $4, last_error = $5,
                next_attempt_at = now() + make_interval(secs => $6),
                delivered_at = case when $2 = 'DELIVERED' then now() end
          where id = $1",
        a.id,
        status,
        a.attempts,
        a.status.map(i32::from),
        error,
        gap,
    )
    .execute(&sandbox.pool)
    .await?;
    Ok(())
}
