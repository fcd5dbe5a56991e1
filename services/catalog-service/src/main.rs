//! Thin entry point: all behaviour lives in the `catalog_service` library so tests can host it.

fn main() -> std::process::ExitCode {
    service_kit::run_main(&catalog_service::SPEC, catalog_service::build)
}
