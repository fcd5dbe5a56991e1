//! Logging in and out (the credential rules are in [`crate::session`]).

use std::{sync::Arc, time::Duration};

use poem::{
    handler,
    http::StatusCode,
    web::{Data, Form, Redirect},
    IntoResponse, Request, Response,
};
use serde::Deserialize;

use crate::{
    config::PAYMENTS_SERVICE,
    html::{document, esc},
    session, State,
};

/// Longer than any admin token or JWT the services take; a bigger one is refused unread.
const MAX_CREDENTIAL: usize = 8 * 1024;

fn login_page(status: StatusCode, message: &str) -> Response {
    let message = if message.is_empty() {
        String::new()
    } else {
        format!("<p id=\"login-error\" class=\"error\">{}</p>", esc(message))
    };
    document(
        status,
        "Log in",
        &format!(
            "<h1>paymsa ops console</h1>{message}<form method=\"post\" action=\"/login\">\
             <p><label>Admin token or admin JWT<br><input id=\"token\" name=\"token\" \
             type=\"password\" size=\"60\" autocomplete=\"off\" autofocus></label></p>\
             <p><button id=\"login\">Log in</button></p></form><p>Open mode: the services' \
             <code>ADMIN_TOKEN</code>. jwt mode: a token with the admin role \
             (<code>just token admin 1</code>, docs/identity.md).</p>"
        ),
    )
}

#[handler]
pub async fn login_form(req: &Request, Data(state): Data<&Arc<State>>) -> Response {
    if state.sessions.of(req).is_some() {
        return Redirect::see_other("/streams").into_response();
    }
    login_page(StatusCode::OK, "")
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
}

/// Accepts the credential when the payments service (or, without it, the first service's
/// dead-letter API) takes it; the console has no credential of its own.
#[handler]
pub async fn login(Data(state): Data<&Arc<State>>, Form(form): Form<LoginForm>) -> Response {
    let token = form.token.trim();
    if token.is_empty() || token.len() > MAX_CREDENTIAL {
        return login_page(
            StatusCode::BAD_REQUEST,
            "Enter the admin token or an admin JWT.",
        );
    }
    let upstream = &state.upstream;
    // Only a 2xx admits: a service without the endpoint (404) says nothing about the token.
    let (judge, path) = if upstream.has_service(PAYMENTS_SERVICE) {
        (PAYMENTS_SERVICE, "/admin/payments/unresolved")
    } else {
        let first = upstream.services().next().unwrap_or_default();
        (first, "/admin/dead-letters?limit=1")
    };
    match upstream.admin(judge, false, path, token).await {
        Ok(answer) if answer.ok() => {
            let session = state.sessions.create(token.to_string());
            Response::builder()
                .status(StatusCode::SEE_OTHER)
                .header("location", "/streams")
                .header("set-cookie", session::set_cookie(&session))
                .finish()
        }
        Ok(answer) if answer.status == 401 || answer.status == 403 => {
            // Slows down guessing; the services' tokens are long and random anyway
            // (libs/service-kit/src/secrets.rs refuses short ones outside dev).
            tokio::time::sleep(Duration::from_millis(500)).await;
            login_page(
                StatusCode::UNAUTHORIZED,
                &format!("{judge} refused this credential: {}", answer.problem()),
            )
        }
        Ok(answer) => login_page(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "cannot check the credential: {judge} answered {}",
                answer.problem()
            ),
        ),
        Err(e) => login_page(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("cannot check the credential: {e}"),
        ),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

#[handler]
pub async fn logout(
    req: &Request,
    Data(state): Data<&Arc<State>>,
    Form(form): Form<CsrfForm>,
) -> Response {
    match crate::gate_form(state, req, &form.csrf) {
        Ok(session) => {
            state.sessions.remove(&session.id);
            Response::builder()
                .status(StatusCode::SEE_OTHER)
                .header("location", "/login")
                .header("set-cookie", session::clear_cookie())
                .finish()
        }
        Err(refused) => refused,
    }
}
