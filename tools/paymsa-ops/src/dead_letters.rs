//! `paymsa-ops dlq [ID]` and `paymsa-ops replay ID` (`just dlq`, `just replay`): dead letters
//! through the services' admin API ([`crate::admin`]). The DLQ stream holds only the server's
//! advisories; the services resolve them to the original messages and own the replay, which
//! runs the stored message through the failed consumer's own handler in process
//! (libs/messaging/src/dead_letters/replay.rs): nothing is republished, nothing to wait for.

use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::Value;

use crate::{
    admin::{self, Admin},
    pretty,
    streams::{int, shown, table},
    style::{fmt_ms, Style},
};

#[derive(clap::Args)]
pub struct DlqArgs {
    /// One dead letter in full; without it, the newest of every service ($DLQ_LIMIT, 20)
    id: Option<String>,
    /// The NATS monitoring endpoint, for the DLQ stream's advisory count (optional)
    #[arg(long)]
    monitor: Option<String>,
    /// Only the dead letters of this message (its Nats-Msg-Id) among each service's newest 100,
    /// whatever DLQ_LIMIT says
    #[arg(long, conflicts_with = "id")]
    msg_id: Option<String>,
    /// The dead letters as a JSON list (each with its `service`) instead of the table
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct ReplayArgs {
    /// The dead letter's id (`just dlq` lists them)
    id: String,
}

/// One dead letter's fields as `just dlq ID` shows them, then its headers and payload.
pub fn detail(d: &Value) -> String {
    const FIELDS: [&str; 15] = [
        "id",
        "stream",
        "streamSeq",
        "consumer",
        "subject",
        "reason",
        "deliveries",
        "eventId",
        "msgId",
        "firstSeenAt",
        "replayCount",
        "lastReplayedAt",
        "resolvedAt",
        "lastError",
        "replayable",
    ];
    let mut out = String::new();
    for k in FIELDS {
        out.push_str(&format!("{k:<15} {}\n", shown(d.get(k))));
    }
    let headers = match d.get("headers") {
        Some(h @ Value::Object(m)) if !m.is_empty() => pretty::one_line(h),
        _ => "{}".into(),
    };
    out.push_str(&format!("{:<15} {headers}\n", "headers"));
    match d.get("payloadText").and_then(Value::as_str) {
        None => {
            let base64 = d.get("payload").and_then(Value::as_str).unwrap_or_default();
            let start: String = base64.chars().take(400).collect();
            out.push_str(&format!("{:<15} (not UTF-8; base64) {start}\n", "payload"));
        }
        Some(text) => {
            let mut text = pretty::indented(text).unwrap_or_else(|| text.to_string());
            if text.chars().count() > 4000 {
                text = text.chars().take(4000).collect::<String>() + "\n… (truncated)";
            }
            out.push_str("payload:\n");
            for line in text.lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
    }
    out
}

/// The dead letters of every service (each item gains its `service`), newest first.
pub async fn all(admin: &Admin) -> anyhow::Result<(Vec<(&'static str, usize)>, Vec<Value>)> {
    let mut counts = Vec::new();
    let mut items = Vec::new();
    for row in admin::dead_letter_services() {
        let answer = admin
            .call(false, row.name, "/admin/dead-letters?limit=100")
            .await?;
        match answer.status {
            200 => {}
            401 => bail!(
                "{}: /admin/dead-letters answered 401 — the services run with another ADMIN_TOKEN (set ADMIN_TOKEN)",
                row.name
            ),
            status => bail!(
                "{}: /admin/dead-letters answered {status}: {}",
                row.name,
                answer.problem()
            ),
        }
        let listed = answer.body["items"].as_array().cloned().unwrap_or_default();
        counts.push((row.name, listed.len()));
        items.extend(listed.into_iter().map(|mut item| {
            item["service"] = Value::from(row.name);
            item
        }));
    }
    // stable: letters seen at the same instant keep the services' order
    items.sort_by(|a, b| {
        let seen = |i: &Value| i["firstSeenAt"].as_str().unwrap_or_default().to_string();
        seen(b).cmp(&seen(a))
    });
    Ok((counts, items))
}

/// The table of `just dlq`: one row per dead letter.
pub fn listing(items: &[Value]) -> String {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            let seen = i["firstSeenAt"].as_str().unwrap_or_default();
            let subject = match i.get("subject") {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                _ => "(gone)".into(),
            };
            let state = if i.get("resolvedAt").is_some_and(|r| !r.is_null()) {
                "resolved"
            } else {
                "open"
            };
            vec![
                seen.chars().take(19).collect::<String>().replace('T', " "),
                shown(i.get("service")),
                shown(i.get("id")),
                shown(i.get("consumer")),
                format!("{}:{}", shown(i.get("stream")), shown(i.get("streamSeq"))),
                subject,
                shown(i.get("reason")),
                shown(i.get("deliveries")),
                shown(i.get("replayCount")),
                state.into(),
            ]
        })
        .collect();
    let head = [
        "first seen",
        "service",
        "id",
        "consumer",
        "stream:seq",
        "subject",
        "reason",
        "deliv",
        "replays",
        "state",
    ];
    table(&head, &rows, "")
}

/// Messages in the DLQ stream (the server's advisories), `None` when the endpoint is silent.
async fn dlq_advisories(monitor: &str) -> Option<i64> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .ok()?;
    let jsz: Value = http
        .get(format!(
            "{}/jsz?streams=true",
            monitor.trim_end_matches('/')
        ))
        .send()
        .await
        .ok()?
        .error_for_status()
        .ok()?
        .json()
        .await
        .ok()?;
    let accounts = jsz.get("account_details")?.as_array()?;
    let streams = accounts.iter().flat_map(|a| {
        a.get("stream_detail")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
    });
    Some(
        streams
            .filter(|s| s["name"] == events::topology::DLQ_STREAM)
            .map(|s| int(&s["state"], "messages"))
            .sum(),
    )
}

pub async fn dlq(args: DlqArgs) -> anyhow::Result<()> {
    let style = Style::of_stdout();
    let admin = Admin::from_env()?;
    if let Some(id) = args.id {
        let (service, detail_json) = admin::find_dead_letter(&admin, &id).await?;
        sayln!("{}dead letter {id}{} ({service})", style.bold, style.off);
        say!("{}", detail(&detail_json));
        sayln!("\nreplay it: just replay {id}");
        return Ok(());
    }
    let limit: usize = match std::env::var("DLQ_LIMIT") {
        Ok(v) => v.parse().ok().context("DLQ_LIMIT must be a number")?,
        Err(_) => 20,
    };
    let (counts, mut items) = all(&admin).await?;
    if let Some(msg_id) = &args.msg_id {
        items.retain(|i| i["msgId"].as_str() == Some(msg_id));
    }
    if args.json {
        sayln!("{}", Value::Array(items));
        return Ok(());
    }
    if args.msg_id.is_some() {
        say!("{}", listing(&items));
        return Ok(());
    }
    let per_service: Vec<String> = counts
        .iter()
        .map(|(service, n)| match n {
            n if *n < 100 => format!("{service} {n}"),
            _ => format!("{service} 100+"),
        })
        .collect();
    sayln!(
        "{}dead letters{} per service: {}",
        style.bold,
        style.off,
        per_service.join(", ")
    );
    if items.is_empty() {
        sayln!("none");
    } else {
        let shown = &items[..limit.min(items.len())];
        if shown.len() < items.len() {
            sayln!(
                "the newest {} of {} (more: DLQ_LIMIT=100 just dlq):",
                shown.len(),
                items.len()
            );
        }
        say!("{}", listing(shown));
    }
    if let Some(n) = match args.monitor.as_deref() {
        Some(monitor) if !monitor.is_empty() => dlq_advisories(monitor).await,
        _ => None,
    } {
        say!("\nDLQ stream: {n} advisories in total. ");
    }
    sayln!("Inspect one: just dlq <id> · replay: just replay <id>");
    Ok(())
}

pub async fn replay(args: ReplayArgs) -> anyhow::Result<()> {
    let style = Style::of_stdout();
    let admin = Admin::from_env()?;
    let id = args.id;
    let (service, d) = admin::find_dead_letter(&admin, &id).await?;
    let consumer = shown(d.get("consumer"));
    sayln!(
        "{}replay of dead letter {id}{}: {service} of {consumer} on {}:{} ({} after {} delivery(ies), replayed {} time(s) before)",
        style.bold,
        style.off,
        shown(d.get("stream")),
        shown(d.get("streamSeq")),
        shown(d.get("reason")),
        shown(d.get("deliveries")),
        shown(d.get("replayCount")),
    );
    let path = format!("/admin/dead-letters/{id}/replay");
    let answer = admin.call(true, service, &path).await?;
    let port_path = admin::Admin::url(service, &path)?.replace("http://127.0.0.1", "");
    sayln!(
        "  {}→ {:<6} {port_path:<62} {} ({}){}",
        style.cyan,
        "POST",
        answer.status,
        fmt_ms(answer.took.as_millis()),
        style.off
    );
    let ok = |text: String| sayln!("  {}✓{} {text}", style.green, style.off);
    let outcome = answer
        .body
        .get("outcome")
        .or_else(|| answer.body.get("code"));
    match (answer.status, outcome.and_then(Value::as_str)) {
        (200, Some("APPLIED")) => ok(format!("{consumer} applied it; the dead letter is resolved")),
        (200, Some("DUPLICATE")) => ok(format!(
            "{consumer} had applied this event already (processed-events): nothing changed; the dead letter is resolved"
        )),
        (200, Some("ALREADY_RESOLVED")) => ok(format!(
            "an earlier replay resolved it ({}); not run again",
            shown(answer.body.pointer("/deadLetter/resolvedAt"))
        )),
        (422, _) => bail!(
            "{consumer} failed again — the dead letter stays open: {}",
            shown(answer.body.get("detail"))
        ),
        (200 | 409, _) => bail!("not replayed: {}", answer.problem()),
        (status, _) => bail!(
            "POST {port_path} answered {status} (expected 200 409 422): {}",
            answer.problem()
        ),
    }
    Ok(())
}

#[cfg(test)]
#[path = "dead_letters_tests.rs"]
mod tests;
