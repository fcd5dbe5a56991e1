//! Thin entry point: all behaviour lives in the `wallet_service` library so tests can host it.

fn main() -> std::process::ExitCode {
    service_kit::run_main(&wallet_service::SPEC, wallet_service::build)
}
