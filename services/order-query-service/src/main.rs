//! Thin entry point: all behaviour lives in the `order_query_service` library so tests can host it.

fn main() -> std::process::ExitCode {
    service_kit::run_main(&order_query_service::SPEC, order_query_service::build)
}
