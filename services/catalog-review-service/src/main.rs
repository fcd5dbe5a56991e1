//! Thin entry point: all behaviour lives in the `catalog_review_service` library so tests can host it.

fn main() -> std::process::ExitCode {
    service_kit::run_main(&catalog_review_service::SPEC, catalog_review_service::build)
}
