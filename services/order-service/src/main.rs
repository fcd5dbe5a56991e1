//! Thin entry point: all behaviour lives in the `order_service` library so tests can host it.

fn main() -> std::process::ExitCode {
    service_kit::run_main(&order_service::SPEC, order_service::build)
}
