//! The ops console (docs/operations.md "Ops console"): the operators' web pages over the
//! services' admin APIs and the NATS monitoring endpoint — streams and consumers, dead letters
//! with inspect and replay, outbox backlogs, unresolved payments and reconciliation. Admin only
//! ([`session`]); plain server-side HTML ([`html`]), no scripts.

pub mod config;
mod html;
mod login;
mod pages;
mod session;
mod upstream;

use std::sync::Arc;

use poem::{
    get,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    post,
    web::Redirect,
    EndpointExt, IntoResponse, Request, Response, Route, Server,
};
use service_kit::Shutdown;

pub use config::ConsoleConfig;
use session::{Session, Sessions};
use upstream::Upstream;

pub(crate) struct State {
    upstream: Upstream,
    sessions: Sessions,
    nats_namespace: String,
}

/// The session of a page request; without one, a `GET` is sent to the login page and anything
/// else is refused with 401.
pub(crate) fn gate(state: &State, req: &Request) -> Result<Session, Response> {
    if let Some(session) = state.sessions.of(req) {
        return Ok(session);
    }
    if req.method() == poem::http::Method::GET {
        Err(Redirect::see_other("/login").into_response())
    } else {
        Err(html::document(
            StatusCode::UNAUTHORIZED,
            "Not logged in",
            "<h1>Not logged in</h1><p><a href=\"/login\">Log in</a></p>",
        ))
    }
}

/// [`gate`] for a form: the form's `csrf` must be the session's (403 otherwise).
pub(crate) fn gate_form(state: &State, req: &Request, csrf: &str) -> Result<Session, Response> {
    let session = gate(state, req)?;
    if session::csrf_ok(&session, csrf) {
        Ok(session)
    } else {
        Err(html::document(
            StatusCode::FORBIDDEN,
            "Form expired",
            "<h1>Form expired</h1><p>The form's token is not this session's. \
             <a href=\"/streams\">Reload the console</a> and try again.</p>",
        ))
    }
}

fn routes(state: Arc<State>) -> impl poem::Endpoint {
    Route::new()
        .at(
            "/",
            get(poem::endpoint::make_sync(|_| {
                Redirect::see_other("/streams")
            })),
        )
        .at("/health", get(poem::endpoint::make_sync(|_| "ok")))
        .at("/login", get(login::login_form).post(login::login))
        .at("/logout", post(login::logout))
        .at("/streams", get(pages::streams::show))
        .at("/dead-letters", get(pages::dead_letters::list))
        .at(
            "/dead-letters/:service/:id",
            get(pages::dead_letters::detail),
        )
        .at(
            "/dead-letters/:service/:id/replay",
            post(pages::dead_letters::replay),
        )
        .at(
            "/dead-letters/:service/:id/dismiss",
            post(pages::dismiss::dismiss),
        )
        .at("/outbox", get(pages::outbox::show))
        .at("/payments", get(pages::payments::show))
        .at("/payments/reconcile", post(pages::payments::reconcile))
        .data(state)
}

/// A running console.
pub struct Console {
    port: u16,
    shutdown: Shutdown,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Console {
    /// Binds `config.host:config.port` (0 picks a free port) and serves in the background.
    pub async fn start(config: ConsoleConfig) -> std::io::Result<Console> {
        let state = Arc::new(State {
            upstream: Upstream::new(&config),
            sessions: Sessions::new(config.session_idle),
            nats_namespace: config.nats_namespace.clone(),
        });
        let acceptor = TcpListener::bind(format!("{}:{}", config.host, config.port))
            .into_acceptor()
            .await?;
        let port = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().map(|s| s.port()))
            .unwrap_or(config.port);
        let shutdown = Shutdown::new();
        let signal = shutdown.token().cancelled_owned();
        let server = tokio::spawn(
            Server::new_with_acceptor(acceptor)
                .name("ops-console")
                .run_with_graceful_shutdown(
                    routes(state),
                    signal,
                    Some(std::time::Duration::from_secs(5)),
                ),
        );
        tracing::info!(port, "ops console listening");
        Ok(Console {
            port,
            shutdown,
            server,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn shutdown(&self) -> &Shutdown {
        &self.shutdown
    }

    pub async fn stop(self) -> std::io::Result<()> {
        self.shutdown.trigger();
        self.server.await.map_err(std::io::Error::other)?
    }
}
