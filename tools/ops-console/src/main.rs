//! `just console`: the ops console on http://127.0.0.1:8095 (docs/operations.md "Ops console").

use ops_console::{Console, ConsoleConfig};
use service_kit::config::LogFormat;

#[tokio::main]
async fn main() {
    service_kit::telemetry::init_tracing(LogFormat::Pretty);
    let config = match ConsoleConfig::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("ops-console: invalid configuration: {e}");
            std::process::exit(2);
        }
    };
    let console = match Console::start(config).await {
        Ok(console) => console,
        Err(e) => {
            eprintln!("ops-console: cannot listen: {e}");
            std::process::exit(1);
        }
    };
    println!("ops console on http://127.0.0.1:{}", console.port());
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = console.shutdown().triggered() => {}
    }
    if let Err(e) = console.stop().await {
        eprintln!("ops-console: {e}");
    }
}
