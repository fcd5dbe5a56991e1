//! `paymsa-ops publish`: one message to JetStream with headers, the PubAck printed as one JSON
//! line (`{"stream":"ORDERS","seq":42}`, plus `"duplicate":true` when the server saw the
//! `Nats-Msg-Id` within its duplicate window). `paymsa-ops demo poison` publishes through it; the nats
//! CLI equivalent is `nats pub SUBJECT PAYLOAD -H Nats-Msg-Id:ID --jetstream`.
//!
//! The message goes out as a request: JetStream answers a publish on a stream's subject with the
//! PubAck, and "no responders" means no stream captures the subject.

use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use async_nats::{client::RequestErrorKind, HeaderMap, HeaderName};
use serde_json::Value;

#[derive(clap::Args)]
pub struct Args {
    /// The server; `user:password@` in the URL is used [default: $NATS_URL, else nats://127.0.0.1:4222]
    #[arg(long)]
    server: Option<String>,
    /// A header of the message, e.g. `-H Nats-Msg-Id:order-7` (repeatable)
    #[arg(short = 'H', long = "header", value_name = "NAME:VALUE", value_parser = parse_header)]
    headers: Vec<(String, String)>,
    /// Seconds to wait for the PubAck
    #[arg(long, default_value_t = 5.0)]
    timeout: f64,
    /// The subject, e.g. order.payment.confirmed (a stream must capture it)
    subject: String,
    /// The message body, sent as given
    payload: String,
}

/// `Name:Value` → (name, value), both trimmed; the value may itself contain colons.
fn parse_header(raw: &str) -> Result<(String, String), String> {
    match raw.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.trim().to_string()))
        }
        _ => Err(format!("header {raw:?} is not NAME:VALUE")),
    }
}

/// The PubAck compact, keys in the server's order, or why JetStream refused the message.
fn pub_ack(payload: &[u8]) -> anyhow::Result<String> {
    let text = std::str::from_utf8(payload).context("the PubAck is not UTF-8")?;
    let ack: Value = serde_json::from_str(text).with_context(|| format!("not a PubAck: {text}"))?;
    if let Some(error) = ack.get("error") {
        bail!("JetStream refused the message: {error}");
    }
    crate::pretty::compact(text).with_context(|| format!("not a PubAck: {text}"))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let server = args
        .server
        .or_else(|| std::env::var("NATS_URL").ok())
        .unwrap_or_else(|| "nats://127.0.0.1:4222".to_string());
    let timeout = Duration::try_from_secs_f64(args.timeout)
        .map_err(|e| anyhow!("--timeout {}: {e}", args.timeout))?;
    let ack = publish(&server, &args.headers, &args.subject, args.payload, timeout).await?;
    sayln!("{ack}");
    Ok(())
}

/// Publishes `payload` to `subject` through `server` (credentials in the URL are used); the
/// PubAck as one compact JSON line.
pub async fn publish(
    server: &str,
    headers: &[(String, String)],
    subject: &str,
    payload: String,
    timeout: Duration,
) -> anyhow::Result<String> {
    let client = service_kit::infra::connect_nats(server, "paymsa-ops").await?;
    let mut header_map = HeaderMap::new();
    for (name, value) in headers {
        let name: HeaderName = name
            .parse()
            .map_err(|e| anyhow!("header name {name:?}: {e}"))?;
        header_map.append(name, value.as_str());
    }
    let request = client.request_with_headers(subject.to_string(), header_map, payload.into());
    let reply = match tokio::time::timeout(timeout, request).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) if e.kind() == RequestErrorKind::NoResponders => {
            bail!("no stream captures {subject:?} (no responders)")
        }
        Ok(Err(e)) if e.kind() != RequestErrorKind::TimedOut => {
            return Err(e).with_context(|| format!("publishing to {subject:?}"))
        }
        _ => bail!(
            "no PubAck within {}s (does a stream capture {subject:?}?)",
            timeout.as_secs_f64()
        ),
    };
    pub_ack(&reply.payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_is_name_colon_value_trimmed() {
        assert_eq!(
            parse_header("Nats-Msg-Id: demo-1 "),
            Ok(("Nats-Msg-Id".into(), "demo-1".into()))
        );
        assert_eq!(parse_header("X:a:b"), Ok(("X".into(), "a:b".into())));
        assert_eq!(parse_header("X:"), Ok(("X".into(), String::new())));
        assert!(parse_header("no-colon").is_err());
        assert!(parse_header(" :value").is_err());
    }

    #[test]
    fn the_pub_ack_is_printed_compact_in_the_servers_order() {
        let ack = pub_ack(br#"{"stream":"ORDERS","seq":42,"duplicate": true}"#);
        assert_eq!(
            ack.ok().as_deref(),
            Some(r#"{"stream":"ORDERS","seq":42,"duplicate":true}"#)
        );
    }

    #[test]
    fn a_refusal_is_an_error_with_the_servers_reason() {
        let refused = pub_ack(br#"{"error":{"code":503,"err_code":10077,"description":"x"}}"#);
        let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.starts_with("JetStream refused the message: {"),
            "{message}"
        );
        assert!(pub_ack(b"not json").is_err());
    }
}
