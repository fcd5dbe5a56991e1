//! The HTTP server and process lifecycle: bind (port 0 in tests), serve the service's API with
//! Swagger UI, and shut down gracefully: stop accepting, finish in-flight requests, then let
//! background workers (relay, consumers) drain before the process exits.

use std::{future::Future, time::Duration};

use poem::{
    listener::{Acceptor, Listener, TcpListener},
    EndpointExt, IntoEndpoint, Route, Server,
};
use poem_openapi::OpenApi;
use tokio::task::JoinHandle;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    auth::Authenticator, config::ServiceConfig, health::OpsApi, infra::Infra, metrics::Metrics,
    middleware, openapi,
};

/// Cancellation shared by the HTTP server and every background task of one service.
#[derive(Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
    tasks: TaskTracker,
}

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    pub async fn triggered(&self) {
        self.token.cancelled().await
    }

    pub fn trigger(&self) {
        self.token.cancel();
    }

    /// Spawns a background worker that is awaited on shutdown. The worker must watch
    /// [`Shutdown::triggered`] and return once it has finished its in-flight work.
    pub fn spawn<F>(&self, name: &'static str, worker: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(async move {
            worker.await;
            tracing::debug!(worker = name, "worker stopped");
        });
    }
}

/// Everything a service's `build` hands over to be served.
pub struct ServiceParts<A> {
    pub api: A,
    pub description: &'static str,
}

/// A running service.
pub struct App {
    port: u16,
    shutdown: Shutdown,
    server: JoinHandle<std::io::Result<()>>,
    grace: Duration,
}

impl App {
    /// Binds `HOST:PORT` (port 0 picks a free one) and starts serving in the background.
    pub async fn serve<A>(
        config: &ServiceConfig,
        infra: &Infra,
        metrics: Metrics,
        shutdown: Shutdown,
        parts: ServiceParts<A>,
    ) -> std::io::Result<Self>
    where
        A: OpenApi + Send + Sync + 'static,
    {
        let ops = OpsApi {
            infra: infra.clone(),
            metrics: metrics.clone(),
        };
        let api = openapi::service((parts.api, ops), config.service, parts.description);
        // The same canonical text `openapi::spec_json` exports to `openapi/<service>.json`.
        let spec = openapi::canonical_json(&api.spec());
        let spec = match config.auth.mode {
            crate::auth::AuthMode::Jwt => openapi::require_security(&spec),
            crate::auth::AuthMode::Open => spec,
        };
        let allow = middleware::AllowIndex::from_spec(&spec);
        let route = Route::new()
            .nest("/docs", api.swagger_ui())
            .at(
                "/openapi.json",
                poem::endpoint::make_sync(move |_| {
                    poem::Response::builder()
                        .content_type("application/json")
                        .body(spec.clone())
                }),
            )
            .nest("/", api);
        let auth = Authenticator::start(config.auth.clone(), &shutdown)
            .await
            .map_err(std::io::Error::other)?;
        let endpoint = middleware::wrap(
            route.data(auth).into_endpoint(),
            metrics,
            config.max_body_bytes,
            allow,
        );

        let acceptor = TcpListener::bind(format!("{}:{}", config.host, config.port))
            .into_acceptor()
            .await?;
        let port = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().map(|s| s.port()))
            .unwrap_or(config.port);
        let signal = shutdown.token().cancelled_owned();
        let grace = config.shutdown_timeout;
        let server = tokio::spawn(
            Server::new_with_acceptor(acceptor)
                .name(config.service)
                .run_with_graceful_shutdown(endpoint.boxed(), signal, Some(grace)),
        );
        tracing::info!(service = config.service, port, "listening");
        Ok(Self {
            port,
            shutdown,
            server,
            grace,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn shutdown(&self) -> &Shutdown {
        &self.shutdown
    }

    /// Serves until SIGINT/SIGTERM (or a programmatic trigger), then drains and returns.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        tokio::select! {
            _ = termination_signal() => tracing::info!("termination signal received"),
            _ = self.shutdown.triggered() => {}
        }
        self.stop().await
    }

    /// Stops the service the way a signal would; used by tests to host and stop services.
    pub async fn stop(self) -> std::io::Result<()> {
        // One grace period for everything: the workers drain while the requests finish (the
        // trigger cancels both at once). Waiting a grace period for each in turn let a stop
        // take twice `SHUTDOWN_TIMEOUT_SECS`, past the pod's terminationGracePeriodSeconds
        // (deploy/k8s/base/services), where the kubelet kills what is still draining.
        let deadline = tokio::time::Instant::now() + self.grace;
        self.shutdown.trigger();
        let served = self
            .server
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        self.shutdown.tasks.close();
        if tokio::time::timeout_at(deadline, self.shutdown.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("background workers did not stop within the grace period");
        }
        served
    }
}

async fn termination_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
