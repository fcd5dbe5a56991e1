//! service-kit: what every paymsa service shares, written once.
//!
//! A service is a library exposing a [`ServiceSpec`] and `build(config) -> App`; its `main.rs`
//! is one call to [`run_main`]. The kit reads and validates configuration ([`config`]), sets up
//! tracing ([`telemetry`]), opens and migrates the service's own database and connects NATS and
//! Redis ([`infra`]), serves the OpenAPI API with Swagger UI, health and metrics ([`server`];
//! the document, served and exported alike, comes from [`openapi`]), and maps every error to
//! `application/problem+json` ([`error`]).

/// Every service's allocator: this library is linked into each. A `perf` sample of
/// order-service under `just bench e2e` found about 11 % of its time in glibc's malloc and
/// free (docs/benchmarks.md, stop 23); mimalloc's thread-local free lists cost less per
/// allocation. What it changed end to end: docs/benchmarks.md, stop 24.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod admin;
pub mod auth;
mod auth_config;
#[cfg(feature = "dev-tokens")]
pub mod auth_dev;
mod auth_keys;
mod auth_limit;
pub mod client_ip;
pub mod config;
pub mod db;
pub mod error;
pub mod health;
pub mod html;
pub mod id;
pub mod idempotency;
pub mod infra;
#[cfg(feature = "testing")]
pub mod log_capture;
pub mod metrics;
mod middleware;
pub mod nats_auth;
#[cfg(feature = "testing")]
pub mod nats_binary;
#[cfg(feature = "testing")]
pub mod nats_server;
pub mod openapi;
pub mod otel;
pub mod ports;
pub mod psp;
pub mod retry;
mod route_index;
pub mod secrets;
pub mod server;
pub mod stack_table;
pub mod state_enum;
pub mod statistics;
pub mod strict;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trace;
pub mod vacuum;

use std::{future::Future, process::ExitCode};

pub use config::{ConfigError, ServiceConfig, ServiceSpec};
pub use error::{error_chain, ApiError, FieldError, Problem};
pub use id::Id;
pub use infra::Infra;
pub use metrics::{JobPasses, Metrics};
pub use server::{App, ServiceParts, Shutdown};
pub use trace::TraceContext;

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Infra(#[from] infra::InfraError),
    #[error("cannot bind HTTP listener: {0}")]
    Bind(#[from] std::io::Error),
    /// Anything else a service's `build` fails on, its causes kept (`"message".into()` for a
    /// plain message).
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

impl StartupError {
    /// `source` as the cause of a startup failure described by `context`.
    pub fn other(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Other(Box::new(Context {
            context: context.into(),
            source: Box::new(source),
        }))
    }
}

/// A cause with a line saying what was being done.
#[derive(Debug, thiserror::Error)]
#[error("{context}")]
struct Context {
    context: String,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

/// Installs one process-wide TLS crypto provider (ring, which async-nats already uses).
/// Without it, rustls cannot choose between the providers its dependents enable and panics
/// when the first TLS client (reqwest to the PSP) is built. Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The whole of a service's `main`: configuration errors and startup failures end the process
/// with one line on stderr and a non-zero exit code, never a panic backtrace.
pub fn run_main<F, Fut>(spec: &'static ServiceSpec, build: F) -> ExitCode
where
    F: FnOnce(ServiceConfig) -> Fut,
    Fut: Future<Output = Result<App, StartupError>>,
{
    let config = match ServiceConfig::from_env(spec) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("paymsa {}: invalid configuration: {e}", spec.name);
            return ExitCode::from(2);
        }
    };
    install_crypto_provider();
    // Span export (OTEL_EXPORTER_OTLP_ENDPOINT) runs on threads of its own, outside the
    // runtime, so it can send its last batch after the runtime's work is done.
    let export = match config
        .otel
        .as_ref()
        .map(otel::TraceExport::start)
        .transpose()
    {
        Ok(export) => export,
        Err(e) => {
            eprintln!("paymsa {}: {}", spec.name, error_chain(&e));
            return ExitCode::from(2);
        }
    };
    telemetry::init_tracing_with(Some(config.log_format), export.as_ref());
    // Nine services share a small machine's cores: one worker each spends fewer CPU cycles on
    // waking and stealing between threads than one per core (docs/benchmarks.md, stop 22).
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = config.worker_threads {
        builder.worker_threads(workers);
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("paymsa {}: cannot start the async runtime: {e}", spec.name);
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let app = build(config).await?;
        app.run_until_stopped().await?;
        Ok::<(), StartupError>(())
    });
    if let Some(export) = export {
        export.shutdown();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("paymsa {}: {}", spec.name, error_chain(&e));
            ExitCode::FAILURE
        }
    }
}
