//! Closing a dead letter that no replay can resolve — its message left the stream, its
//! consumer retired, or its event no longer matters — with the operator's reason: POST
//! `/admin/dead-letters/{id}/dismiss` of the owning service (libs/messaging/src/dead_letters/
//! api.rs). The letter is resolved with `lastError` = `dismissed: <reason>` and stops counting
//! in the `PaymsaDeadLetters` alert; nothing is run.

use std::sync::Arc;

use poem::{
    handler,
    web::{Data, Form, Path},
    Request, Response,
};
use serde::Deserialize;
use serde_json::json;

use super::dead_letters::{detail_page, target};
use crate::{html::esc, State};

/// The form under an open letter's detail.
pub(super) fn form(service: &str, id: &str, csrf: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/dead-letters/{}/{}/dismiss\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <p><label for=\"dismiss-reason\">Reason</label> \
         <input id=\"dismiss-reason\" name=\"reason\" maxlength=\"500\" required> \
         <button id=\"dismiss\">Dismiss without a replay</button> — for a letter no replay \
         can resolve; it is closed with your reason and nothing runs.</p></form>",
        esc(service),
        esc(id),
        esc(csrf),
    )
}

#[derive(Deserialize)]
pub struct DismissForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

#[handler]
pub async fn dismiss(
    req: &Request,
    Data(state): Data<&Arc<State>>,
    Path((service, id)): Path<(String, String)>,
    Form(form): Form<DismissForm>,
) -> Response {
    let session = match crate::gate_form(state, req, &form.csrf) {
        Ok(s) => s,
        Err(refused) => return refused,
    };
    if let Err(missing) = target(state, &service, &id) {
        return missing;
    }
    let path = format!("/admin/dead-letters/{id}/dismiss");
    let body = json!({ "reason": form.reason });
    let banner = match state
        .upstream
        .admin_post(&service, &path, &body, &session.credential)
        .await
    {
        Ok(answer) if answer.ok() => {
            tracing::warn!(service, id, reason = %form.reason, "dead letter dismissed from the console");
            "<p id=\"outcome\" class=\"ok\">Dismissed: the letter is resolved and no longer \
             counts in the alert.</p>"
                .to_string()
        }
        Ok(answer) => format!(
            "<p id=\"outcome\" class=\"error\">Dismiss refused: {}</p>",
            esc(&answer.problem())
        ),
        Err(e) => format!(
            "<p id=\"outcome\" class=\"error\">Dismiss not sent: {}</p>",
            esc(&e.to_string())
        ),
    };
    detail_page(state, &session, &service, &id, &banner).await
}
