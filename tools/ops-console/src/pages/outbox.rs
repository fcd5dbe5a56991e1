//! Outbox backlogs: each producer's relay gauges from its `/metrics`
//! (libs/outbox/src/metrics.rs: `outbox_backlog`, `outbox_oldest_pending_age_seconds`, …).

use std::sync::Arc;

use poem::{handler, web::Data, Request, Response};

use crate::{
    html::{error_box, esc, page, table_html},
    upstream::metric,
    State,
};

/// An oldest unpublished row older than this is flagged (NATS down or the relay stuck); the
/// alert in deploy/prometheus/rules.yml fires at 120 s.
const STALE_SECONDS: f64 = 120.0;

fn figure(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0}")).unwrap_or_else(|| "-".into())
}

#[handler]
pub async fn show(req: &Request, Data(state): Data<&Arc<State>>) -> Response {
    let session = match crate::gate(state, req) {
        Ok(s) => s,
        Err(refused) => return refused,
    };
    let mut rows = Vec::new();
    let mut without = Vec::new();
    let mut problems = String::new();
    let services: Vec<String> = state.upstream.services().map(String::from).collect();
    for service in services {
        let text = match state.upstream.metrics(&service).await {
            Ok(text) => text,
            Err(e) => {
                problems.push_str(&error_box(&service, &e.to_string()));
                continue;
            }
        };
        let Some(backlog) = metric(&text, "outbox_backlog") else {
            without.push(service);
            continue;
        };
        let age = metric(&text, "outbox_oldest_pending_age_seconds");
        let stale = backlog > 0.0 && age.is_some_and(|a| a > STALE_SECONDS);
        let class = if stale {
            "warn"
        } else if backlog > 0.0 {
            ""
        } else {
            "ok"
        };
        rows.push(vec![
            esc(&service),
            format!("<span class=\"{class}\">{}</span>", figure(Some(backlog))),
            figure(age),
            figure(metric(&text, "outbox_published_total")),
            figure(metric(&text, "outbox_publish_duplicates_total")),
            figure(metric(&text, "outbox_publish_failures_total")),
            figure(metric(&text, "outbox_owned_shards")),
        ]);
    }
    let head = [
        "service",
        "backlog (unpublished rows)",
        "oldest pending (s)",
        "published",
        "duplicates",
        "publish failures",
        "shards owned here",
    ];
    let mut body = format!(
        "<p>The relay's gauges are refreshed every few seconds from the outbox table; the \
         backlog is the same on every instance. Older than {STALE_SECONDS:.0} s is flagged.</p>\
         {problems}"
    );
    body.push_str(&table_html("outbox", &head, &rows, &[1, 2, 3, 4, 5, 6]));
    if !without.is_empty() {
        body.push_str(&format!("<p>No outbox: {}</p>", esc(&without.join(", "))));
    }
    page("Outbox backlogs", &session.csrf, &body)
}
