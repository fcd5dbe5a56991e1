//! `paymsa-ops streams`: the streams and their durable consumers of the NATS monitoring
//! endpoint's `/jsz` — pending, ack floor, redeliveries. scripts/ops.sh (`just streams`) calls it
//! when no nats CLI is installed; tools/ops-console's streams page shows the same figures.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Datelike, FixedOffset};
use serde_json::Value;
use service_kit::testing::is_test_stream;

use crate::style::Style;

#[derive(clap::Args)]
pub struct Args {
    /// The NATS server the stack uses (shown without its credentials)
    #[arg(long)]
    server: String,
    /// The server's monitoring endpoint (`.run/nats.monitor`, e.g. http://127.0.0.1:8222)
    #[arg(long)]
    monitor: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    service_kit::install_crypto_provider();
    let monitor = args.monitor.trim_end_matches('/');
    let answer = async {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()?;
        http.get(format!("{monitor}/jsz"))
            .query(&[
                ("consumers", "true"),
                ("config", "true"),
                ("limit", "100000"),
            ])
            .send()
            .await?
            .error_for_status()?
            .json::<Value>()
            .await
    }
    .await
    .with_context(|| format!("GET {monitor}/jsz answered nothing"))?;
    let style = Style::of_stdout();
    sayln!(
        "{}NATS {}{} — from {monitor}/jsz?consumers=true&config=true (no nats CLI)\n",
        style.bold,
        without_credentials(&args.server),
        style.off
    );
    say!("{}", report(&answer));
    Ok(())
}

/// The URL without `user:password@` (every server of a comma-separated list).
pub fn without_credentials(url: &str) -> String {
    url.split(',')
        .map(|server| match server.split_once("//") {
            Some((scheme, rest)) => match rest.split_once('@') {
                Some((userinfo, host)) if !userinfo.contains('/') => format!("{scheme}//{host}"),
                _ => server.to_string(),
            },
            None => server.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub fn int(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

pub fn shown(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// 512 → "512 B", 85504 → "83.5 KiB"; GiB is the largest unit.
pub fn size(bytes: i64) -> String {
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut n = bytes as f64 / 1024.0;
    for unit in ["KiB", "MiB"] {
        if n < 1024.0 {
            return format!("{n:.1} {unit}");
        }
        n /= 1024.0;
    }
    format!("{n:.1} GiB")
}

/// How long before `now` a delivery happened: "42s ago", "31m ago", "5h ago"; "-" when never
/// (the server writes the zero time, year 1) or unknown.
pub fn ago(now: Option<DateTime<FixedOffset>>, at: Option<&str>) -> String {
    let (Some(now), Some(at)) = (now, at.and_then(|t| DateTime::parse_from_rfc3339(t).ok())) else {
        return "-".into();
    };
    let s = (now - at).num_milliseconds() as f64 / 1000.0;
    if s < 0.0 || at.year() < 2000 {
        "-".into()
    } else if s < 120.0 {
        format!("{}s ago", s as i64)
    } else if s < 7200.0 {
        format!("{}m ago", (s / 60.0) as i64)
    } else {
        format!("{}h ago", (s / 3600.0) as i64)
    }
}

/// Columns padded to their widest cell, two spaces apart, trailing blanks trimmed.
pub fn table(head: &[&str], rows: &[Vec<String>], indent: &str) -> String {
    let width = |k: usize| {
        rows.iter()
            .map(|r| r[k].chars().count())
            .chain([head[k].chars().count()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..head.len()).map(width).collect();
    let head: Vec<String> = head.iter().map(|h| h.to_string()).collect();
    let mut out = String::new();
    for row in [&head].into_iter().chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(&format!("{indent}{}\n", cells.join("  ").trim_end()));
    }
    out
}

/// `first,second` when short enough, else `first (+N more)`.
fn listed(items: &[&str], max: usize) -> String {
    let joined = items.join(",");
    match items.first() {
        Some(first) if joined.chars().count() > max => {
            format!("{first} (+{} more)", items.len() - 1)
        }
        _ => joined,
    }
}

fn strs(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn consumer_row(c: &Value, now: Option<DateTime<FixedOffset>>) -> Vec<String> {
    let config = &c["config"];
    let filters = match config.get("filter_subject").and_then(Value::as_str) {
        Some(one) if !one.is_empty() => vec![one],
        _ => strs(config.get("filter_subjects")),
    };
    let filter = match listed(&filters, 50) {
        f if f.is_empty() => "(all)".to_string(),
        f => f,
    };
    let max_deliver = match config.get("max_deliver") {
        Some(v) if v.as_i64() == Some(-1) => "unlimited".to_string(),
        v => shown(v),
    };
    let delivered = &c["delivered"];
    vec![
        shown(c.get("name")),
        filter,
        int(delivered, "stream_seq").to_string(),
        int(&c["ack_floor"], "stream_seq").to_string(),
        int(c, "num_pending").to_string(),
        int(c, "num_ack_pending").to_string(),
        int(c, "num_redelivered").to_string(),
        max_deliver,
        ago(now, delivered.get("last_active").and_then(Value::as_str)),
    ]
}

const CONSUMER_HEAD: [&str; 9] = [
    "consumer",
    "filter",
    "delivered",
    "ack floor",
    "pending",
    "ack pending",
    "redelivered",
    "max deliver",
    "last delivery",
];

const LEGEND: &str = "\
pending: not yet delivered · ack pending: delivered, not yet acknowledged · redelivered: messages
the server redelivered and still tracks · ack floor: every message up to it is done (acked, or
terminated / out of deliveries) · DLQ messages: the dead-letter advisories of all consumers.
Dead letters resolved to their messages: just dlq
";

/// The report of a `/jsz?consumers=true&config=true` answer: every stream (DLQ last) with its
/// consumers; test-namespace streams are counted, not listed.
pub fn report(jsz: &Value) -> String {
    let now = jsz
        .get("now")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
    let all: Vec<&Value> = jsz
        .get("account_details")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|a| {
            a.get("stream_detail")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .collect();
    let name = |s: &Value| {
        s.get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let consumers = |s: &Value| -> Vec<Value> {
        s.get("consumer_detail")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (tests, mut streams): (Vec<&Value>, Vec<&Value>) =
        all.into_iter().partition(|s| is_test_stream(&name(s)));
    let mut out = String::new();
    if !tests.is_empty() {
        let test_consumers: usize = tests.iter().map(|s| consumers(s).len()).sum();
        out.push_str(&format!(
            "({} test-namespace streams with {test_consumers} consumers not shown: left by a `just test` that was interrupted;\n the next `just test` deletes them)\n\n",
            tests.len()
        ));
    }
    if streams.is_empty() {
        out.push_str("no streams yet (the services create them at start)\n");
    }
    streams.sort_by_key(|s| (name(s) == events::topology::DLQ_STREAM, name(s)));
    for s in streams {
        let (state, config) = (&s["state"], &s["config"]);
        let replicas = config
            .get("num_replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        out.push_str(&format!(
            "stream {}  subjects {}  messages {}  {}  seq {}..{}  retention {}  replicas {replicas}\n",
            name(s),
            listed(&strs(config.get("subjects")), 60),
            int(state, "messages"),
            size(int(state, "bytes")),
            int(state, "first_seq"),
            int(state, "last_seq"),
            config.get("retention").and_then(Value::as_str).unwrap_or("?"),
        ));
        let mut consumers = consumers(s);
        consumers.sort_by_key(name);
        let rows: Vec<Vec<String>> = consumers.iter().map(|c| consumer_row(c, now)).collect();
        if rows.is_empty() {
            out.push_str("    (no consumers)\n");
        } else {
            out.push_str(&table(&CONSUMER_HEAD, &rows, "    "));
        }
        out.push('\n');
    }
    out.push_str(LEGEND);
    out
}

#[cfg(test)]
#[path = "streams_tests.rs"]
mod tests;
