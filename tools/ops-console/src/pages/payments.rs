//! Payments that need a person (docs/operations.md): unresolved payments and cancels, the
//! periodic reconciliation's figures, and an on-demand reconciliation run with its mismatches
//! (services/order-service/src/admin.rs, reconcile/).

use std::sync::Arc;

use poem::{
    handler,
    web::{Data, Form},
    Request, Response,
};
use serde::Deserialize;
use serde_json::Value;

use super::text;
use crate::{
    config::PAYMENTS_SERVICE,
    html::{error_box, esc, page, table},
    session::Session,
    upstream::metric,
    State,
};

/// The order-service's reconciliation window limit (31 days).
const MAX_WINDOW_HOURS: u32 = 31 * 24;

async fn admin_rows(
    state: &State,
    session: &Session,
    path: &str,
    columns: &[&str],
) -> Result<Vec<Vec<String>>, String> {
    let answer = state
        .upstream
        .admin(PAYMENTS_SERVICE, false, path, &session.credential)
        .await
        .map_err(|e| e.to_string())?;
    if !answer.ok() {
        return Err(answer.problem());
    }
    let items = answer.body.as_array().cloned().unwrap_or_default();
    Ok(items
        .iter()
        .map(|i| columns.iter().map(|c| text(i, c)).collect())
        .collect())
}

async fn section(state: &State, session: &Session, id: &str, path: &str, cols: &[&str]) -> String {
    match admin_rows(state, session, path, cols).await {
        Ok(rows) if rows.is_empty() => format!("<p id=\"{}\">None.</p>", esc(id)),
        Ok(rows) => table(id, cols, &rows, &[]),
        Err(why) => error_box(PAYMENTS_SERVICE, &why),
    }
}

fn reconcile_form(csrf: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/payments/reconcile\"><input type=\"hidden\" \
         name=\"csrf\" value=\"{}\"><p>Reconcile the last <input id=\"hours\" name=\"hours\" \
         type=\"number\" min=\"1\" max=\"{MAX_WINDOW_HOURS}\" value=\"1\"> hours with the PSP \
         <button id=\"reconcile\">Reconcile now</button> — repairs what the outcome rules \
         allow (docs/payments.md) and lists the rest.</p></form>",
        esc(csrf)
    )
}

async fn payments_body(state: &State, session: &Session) -> String {
    let mut body = String::from("<h2>Unresolved payments</h2>");
    let cols = [
        "orderId",
        "totalAmount",
        "paymentKey",
        "failedCount",
        "nextLookupAt",
        "createdAt",
    ];
    body.push_str(
        &section(
            state,
            session,
            "unresolved-payments",
            "/admin/payments/unresolved",
            &cols,
        )
        .await,
    );
    body.push_str("<h2>Unresolved cancels</h2>");
    let cols = [
        "orderId",
        "cancelNo",
        "cancelAmount",
        "attempts",
        "lastReason",
        "requestedAt",
    ];
    body.push_str(
        &section(
            state,
            session,
            "unresolved-cancels",
            "/admin/cancels/unresolved",
            &cols,
        )
        .await,
    );
    body.push_str("<h2>Reconciliation</h2>");
    match state.upstream.metrics(PAYMENTS_SERVICE).await {
        Ok(text) => {
            let last = metric(&text, "reconciliation_last_success_timestamp_seconds")
                .filter(|t| *t > 0.0)
                .and_then(|t| chrono::DateTime::from_timestamp(t as i64, 0))
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "never".into());
            let mismatches = metric(&text, "reconciliation_mismatches").unwrap_or(0.0);
            body.push_str(&format!(
                "<p id=\"reconciliation-periodic\">Periodic run: last success {}, {} mismatches \
                 it could not repair.</p>",
                esc(&last),
                mismatches
            ));
        }
        Err(e) => body.push_str(&error_box(PAYMENTS_SERVICE, &e.to_string())),
    }
    body.push_str(&reconcile_form(&session.csrf));
    body
}

#[handler]
pub async fn show(req: &Request, Data(state): Data<&Arc<State>>) -> Response {
    let session = match crate::gate(state, req) {
        Ok(s) => s,
        Err(refused) => return refused,
    };
    let body = payments_body(state, &session).await;
    page("Payments", &session.csrf, &body)
}

#[derive(Deserialize)]
pub struct ReconcileForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    hours: String,
}

fn report(r: &Value) -> String {
    let mut out = format!(
        "<p id=\"reconciliation-report\">{} … {}: {} checked, {} matched, {} in flight, {} \
         mismatches.</p>",
        esc(&text(r, "from")),
        esc(&text(r, "to")),
        esc(&text(r, "checked")),
        esc(&text(r, "matched")),
        esc(&text(r, "inFlight")),
        r["mismatches"].as_array().map_or(0, Vec::len)
    );
    let rows: Vec<Vec<String>> = r["mismatches"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let side = |k: &str| {
                let l = &m[k];
                format!(
                    "{} charged {} refunded {}",
                    text(l, "status"),
                    text(l, "charged"),
                    text(l, "refunded")
                )
            };
            vec![
                text(m, "orderId"),
                side("ours"),
                side("psp"),
                text(m, "action"),
            ]
        })
        .collect();
    if !rows.is_empty() {
        out.push_str(&table(
            "mismatches",
            &["order", "ours", "PSP", "action"],
            &rows,
            &[],
        ));
    }
    out
}

#[handler]
pub async fn reconcile(
    req: &Request,
    Data(state): Data<&Arc<State>>,
    Form(form): Form<ReconcileForm>,
) -> Response {
    let session = match crate::gate_form(state, req, &form.csrf) {
        Ok(s) => s,
        Err(refused) => return refused,
    };
    let result = match form.hours.trim().parse::<u32>() {
        Ok(h) if (1..=MAX_WINDOW_HOURS).contains(&h) => {
            let to = chrono::Utc::now();
            let from = to - chrono::Duration::hours(i64::from(h));
            let path = format!(
                "/admin/reconciliation?from={}&to={}",
                from.format("%Y-%m-%dT%H:%M:%SZ"),
                to.format("%Y-%m-%dT%H:%M:%SZ")
            );
            match state
                .upstream
                .admin(PAYMENTS_SERVICE, false, &path, &session.credential)
                .await
            {
                Ok(answer) if answer.ok() => report(&answer.body),
                Ok(answer) => error_box("reconciliation", &answer.problem()),
                Err(e) => error_box("reconciliation", &e.to_string()),
            }
        }
        _ => error_box(
            "reconciliation",
            &format!("hours must be 1..={MAX_WINDOW_HOURS}"),
        ),
    };
    let body = payments_body(state, &session).await;
    page("Payments", &session.csrf, &format!("{result}{body}"))
}
