//! Dead letters of every service: the list, one letter with its headers and payload, and the
//! replay (POST `/admin/dead-letters/{id}/replay` of the owning service, which runs the letter
//! through the failed consumer's handler in process: libs/messaging/src/dead_letters/replay.rs).

use std::sync::Arc;

use poem::{
    handler,
    http::StatusCode,
    web::{Data, Form, Path},
    Request, Response,
};
use serde::Deserialize;
use serde_json::Value;

use super::text;
use crate::{
    html::{document, error_box, esc, page, table, table_html},
    session::Session,
    State,
};

/// Per service; the services' API caps a page at 100.
const LIST_LIMIT: u32 = 100;

#[handler]
pub async fn list(req: &Request, Data(state): Data<&Arc<State>>) -> Response {
    let session = match crate::gate(state, req) {
        Ok(s) => s,
        Err(refused) => return refused,
    };
    let path = format!("/admin/dead-letters?limit={LIST_LIMIT}");
    let mut letters: Vec<(String, Value)> = Vec::new();
    let mut problems = String::new();
    let mut counts = Vec::new();
    let services: Vec<String> = state.upstream.services().map(String::from).collect();
    for service in services {
        match state
            .upstream
            .admin(&service, false, &path, &session.credential)
            .await
        {
            // No dead-letter API: the service has no consumers.
            Ok(answer) if answer.status == 404 => {}
            Ok(answer) if answer.ok() => {
                let items = answer.body["items"].as_array().cloned().unwrap_or_default();
                let more = !answer.body["nextCursor"].is_null();
                counts.push(format!(
                    "{service} {}{}",
                    items.len(),
                    if more { "+" } else { "" }
                ));
                letters.extend(items.into_iter().map(|i| (service.clone(), i)));
            }
            Ok(answer) => problems.push_str(&error_box(&service, &answer.problem())),
            Err(e) => problems.push_str(&error_box(&service, &e.to_string())),
        }
    }
    letters.sort_by_key(|(_, l)| std::cmp::Reverse(text(l, "firstSeenAt")));
    let rows: Vec<Vec<String>> = letters
        .iter()
        .map(|(service, l)| {
            let id = text(l, "id");
            let state = if l["resolvedAt"].is_null() {
                "<span class=\"warn\">open</span>"
            } else {
                "<span class=\"ok\">resolved</span>"
            };
            vec![
                esc(&text(l, "firstSeenAt")),
                esc(service),
                format!(
                    "<a class=\"dead-letter\" href=\"/dead-letters/{}/{}\">{}</a>",
                    esc(service),
                    esc(&id),
                    esc(&id)
                ),
                esc(&text(l, "consumer")),
                format!("{}:{}", esc(&text(l, "stream")), esc(&text(l, "streamSeq"))),
                esc(&text(l, "subject")),
                esc(&text(l, "reason")),
                esc(&text(l, "deliveries")),
                esc(&text(l, "replayCount")),
                state.to_string(),
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
        "deliveries",
        "replays",
        "state",
    ];
    let mut body = format!(
        "<p>Per service (newest {LIST_LIMIT} each): {}</p>{problems}",
        esc(&counts.join(", "))
    );
    if rows.is_empty() {
        body.push_str("<p id=\"no-dead-letters\">No dead letters.</p>");
    } else {
        body.push_str(&table_html("dead-letters", &head, &rows, &[7, 8]));
    }
    page("Dead letters", &session.csrf, &body)
}

/// The letter's service and id when both are plausible (the id is a snowflake number).
pub(super) fn target(state: &State, service: &str, id: &str) -> Result<(), Response> {
    let digits = !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit());
    if digits && state.upstream.has_service(service) {
        Ok(())
    } else {
        Err(document(
            StatusCode::NOT_FOUND,
            "No such dead letter",
            "<h1>No such dead letter</h1><p><a href=\"/dead-letters\">All dead letters</a></p>",
        ))
    }
}

fn render_detail(service: &str, d: &Value, csrf: &str) -> String {
    let id = text(d, "id");
    let fields = [
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
    let mut rows = vec![vec!["service".to_string(), service.to_string()]];
    rows.extend(fields.iter().map(|f| vec![f.to_string(), text(d, f)]));
    let mut out = table("dead-letter", &["field", "value"], &rows, &[]);
    let headers: Vec<Vec<String>> = d["headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .map(|(k, v)| {
                    let values = v.as_array().map(|l| {
                        l.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    });
                    vec![k.clone(), values.unwrap_or_default()]
                })
                .collect()
        })
        .unwrap_or_default();
    out.push_str("<h2>Headers</h2>");
    out.push_str(&table("headers", &["header", "values"], &headers, &[]));
    out.push_str("<h2>Payload</h2>");
    match d["payloadText"].as_str() {
        Some(raw) => {
            let pretty = serde_json::from_str::<Value>(raw)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or_else(|| raw.to_string());
            out.push_str(&format!("<pre id=\"payload\">{}</pre>", esc(&pretty)));
        }
        None => out.push_str(&format!(
            "<p>Not UTF-8; base64:</p><pre id=\"payload\">{}</pre>",
            esc(&text(d, "payload"))
        )),
    }
    if d["replayable"].as_bool() == Some(true) {
        out.push_str(&format!(
            "<form method=\"post\" action=\"/dead-letters/{}/{}/replay\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <p><button id=\"replay\">Replay through {}</button> — runs the message through \
             this consumer's handler in {} (nothing is republished).</p></form>",
            esc(service),
            esc(&id),
            esc(csrf),
            esc(&text(d, "consumer")),
            esc(service),
        ));
    } else {
        out.push_str(
            "<p>Not replayable: the message had left its stream before it was captured.</p>",
        );
    }
    if d["resolvedAt"].is_null() {
        out.push_str(&super::dismiss::form(service, &id, csrf));
    }
    out
}

/// The detail page, with `banner` (a replay's or a dismissal's outcome) above it.
pub(super) async fn detail_page(
    state: &State,
    session: &Session,
    service: &str,
    id: &str,
    banner: &str,
) -> Response {
    let path = format!("/admin/dead-letters/{id}");
    let body = match state
        .upstream
        .admin(service, false, &path, &session.credential)
        .await
    {
        Ok(answer) if answer.ok() => render_detail(service, &answer.body, &session.csrf),
        Ok(answer) => error_box(service, &answer.problem()),
        Err(e) => error_box(service, &e.to_string()),
    };
    let back = "<p><a href=\"/dead-letters\">All dead letters</a></p>";
    page(
        &format!("Dead letter {id}"),
        &session.csrf,
        &format!("{banner}{back}{body}"),
    )
}

#[handler]
pub async fn detail(
    req: &Request,
    Data(state): Data<&Arc<State>>,
    Path((service, id)): Path<(String, String)>,
) -> Response {
    let session = match crate::gate(state, req) {
        Ok(s) => s,
        Err(refused) => return refused,
    };
    if let Err(missing) = target(state, &service, &id) {
        return missing;
    }
    detail_page(state, &session, &service, &id, "").await
}

#[derive(Deserialize)]
pub struct ReplayForm {
    #[serde(default)]
    csrf: String,
}

#[handler]
pub async fn replay(
    req: &Request,
    Data(state): Data<&Arc<State>>,
    Path((service, id)): Path<(String, String)>,
    Form(form): Form<ReplayForm>,
) -> Response {
    let session = match crate::gate_form(state, req, &form.csrf) {
        Ok(s) => s,
        Err(refused) => return refused,
    };
    if let Err(missing) = target(state, &service, &id) {
        return missing;
    }
    let path = format!("/admin/dead-letters/{id}/replay");
    let banner = match state
        .upstream
        .admin(&service, true, &path, &session.credential)
        .await
    {
        Ok(answer) if answer.ok() => {
            tracing::info!(service, id, outcome = %text(&answer.body, "outcome"), "replayed");
            format!(
                "<p id=\"outcome\" class=\"ok\">Replay: {} (consumer {})</p>",
                esc(&text(&answer.body, "outcome")),
                esc(&text(&answer.body, "consumer"))
            )
        }
        Ok(answer) => format!(
            "<p id=\"outcome\" class=\"error\">Replay failed: {}</p>",
            esc(&answer.problem())
        ),
        Err(e) => format!(
            "<p id=\"outcome\" class=\"error\">Replay not sent: {}</p>",
            esc(&e.to_string())
        ),
    };
    detail_page(state, &session, &service, &id, &banner).await
}
