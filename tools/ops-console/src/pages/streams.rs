//! Streams and their durable consumers, from the NATS monitoring endpoint's `/jsz` (the same
//! figures as `just streams`, scripts/ops.sh).

use std::sync::Arc;

use poem::{handler, web::Data, Request, Response};
use serde_json::Value;

use super::{num, text};
use crate::{
    html::{error_box, esc, page, table},
    State,
};

/// A test's stream (T + 12 hex + `_`, libs/service-kit/src/testing.rs `is_test_stream`).
fn is_test_stream(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() > 14
        && b[0] == b'T'
        && b[1..13]
            .iter()
            .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
        && b[13] == b'_'
}

/// Whether a stream belongs to the console's namespace (events::topology names streams
/// `<NAMESPACE in upper case, - as _>_<NAME>`).
fn shown(name: &str, namespace: &str) -> bool {
    if namespace.is_empty() {
        return !is_test_stream(name);
    }
    let prefix = format!("{}_", namespace.to_uppercase().replace('-', "_"));
    name.starts_with(&prefix)
}

fn consumer_rows(stream: &Value) -> Vec<Vec<String>> {
    let mut consumers: Vec<&Value> = stream
        .get("consumer_detail")
        .and_then(Value::as_array)
        .map(|c| c.iter().collect())
        .unwrap_or_default();
    consumers.sort_by_key(|c| text(c, "name"));
    consumers
        .into_iter()
        .map(|c| {
            let config = &c["config"];
            let filter = match config.get("filter_subject").and_then(Value::as_str) {
                Some(f) if !f.is_empty() => f.to_string(),
                _ => config
                    .get("filter_subjects")
                    .and_then(Value::as_array)
                    .map(|f| {
                        f.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .filter(|f| !f.is_empty())
                    .unwrap_or_else(|| "(all)".into()),
            };
            let max_deliver = match num(config, "max_deliver") {
                -1 | 0 => "unlimited".to_string(),
                n => n.to_string(),
            };
            vec![
                text(c, "name"),
                filter,
                num(&c["delivered"], "stream_seq").to_string(),
                num(&c["ack_floor"], "stream_seq").to_string(),
                num(c, "num_pending").to_string(),
                num(c, "num_ack_pending").to_string(),
                num(c, "num_redelivered").to_string(),
                max_deliver,
                text(&c["delivered"], "last_active"),
            ]
        })
        .collect()
}

fn render(jsz: &Value, namespace: &str) -> String {
    let mut streams: Vec<&Value> = jsz
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
        .filter(|s| shown(&text(s, "name"), namespace))
        .collect();
    // DLQ (the advisories) last, as in `just streams`.
    streams.sort_by_key(|s| {
        let name = text(s, "name");
        (name.ends_with("DLQ"), name)
    });
    if streams.is_empty() {
        return "<p id=\"no-streams\">No streams yet (the services create them at start).</p>"
            .into();
    }
    let mut out = String::from(
        "<p>pending: not yet delivered · ack pending: delivered, not yet acknowledged · \
         redelivered: messages the server redelivered and still tracks · ack floor: every \
         message up to it is done.</p>",
    );
    for s in streams {
        let name = text(s, "name");
        let (state, config) = (&s["state"], &s["config"]);
        let subjects = config
            .get("subjects")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        out.push_str(&format!(
            "<h2 id=\"stream-{0}\">{0}</h2><p>subjects {1} · {2} messages · {3} bytes · seq \
             {4}..{5} · retention {6}</p>",
            esc(&name),
            esc(&subjects),
            num(state, "messages"),
            num(state, "bytes"),
            num(state, "first_seq"),
            num(state, "last_seq"),
            esc(&text(config, "retention")),
        ));
        let rows = consumer_rows(s);
        if rows.is_empty() {
            out.push_str("<p>(no consumers)</p>");
        } else {
            let head = [
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
            out.push_str(&table(
                &format!("consumers-{name}"),
                &head,
                &rows,
                &[2, 3, 4, 5, 6],
            ));
        }
    }
    out
}

#[handler]
pub async fn show(req: &Request, Data(state): Data<&Arc<State>>) -> Response {
    let session = match crate::gate(state, req) {
        Ok(s) => s,
        Err(refused) => return refused,
    };
    let body = match state.upstream.jsz().await {
        Ok(jsz) => render(&jsz, &state.nats_namespace),
        Err(e) => error_box("NATS monitoring", &e.to_string()),
    };
    page("Streams and consumers", &session.csrf, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_select_streams() {
        assert!(shown("ORDERS", ""));
        assert!(!shown("T0123456789AB_ORDERS", ""));
        assert!(shown("T0123456789AB_ORDERS", "t0123456789ab"));
        assert!(!shown("ORDERS", "t0123456789ab"));
    }
}
