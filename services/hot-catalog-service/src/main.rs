//! Thin entry point: all behaviour lives in the `hot_catalog_service` library so tests can host it.

fn main() -> std::process::ExitCode {
    service_kit::run_main(&hot_catalog_service::SPEC, hot_catalog_service::build)
}
