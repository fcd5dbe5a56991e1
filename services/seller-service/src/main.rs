//! Thin entry point: all behaviour lives in the `seller_service` library so tests can host it.

fn main() -> std::process::ExitCode {
    service_kit::run_main(&seller_service::SPEC, seller_service::build)
}
