//! Thin entry point: all behaviour lives in the `psp_sandbox` library so tests can host it.

fn main() -> std::process::ExitCode {
    service_kit::run_main(&psp_sandbox::SPEC, psp_sandbox::build)
}
