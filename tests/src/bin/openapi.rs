//! `just openapi`: exports every service's OpenAPI document to `openapi/<service>.json`,
//! exactly as each service serves it at `/openapi.json`, and removes files of services that no
//! longer exist. Needs no database, NATS or Redis.

use std::process::ExitCode;

use paymsa_e2e::openapi::{all_specs, spec_dir, write_all};

fn main() -> ExitCode {
    let dir = spec_dir();
    let root = dir.parent().unwrap_or(&dir);
    match write_all(&dir) {
        Ok(changed) => {
            for path in &changed {
                let shown = path.strip_prefix(root).unwrap_or(path);
                let verb = if path.exists() { "updated" } else { "removed" };
                println!("{verb} {}", shown.display());
            }
            println!(
                "{} service specs in openapi/ ({} changed)",
                all_specs().len(),
                changed.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot write the specs to {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}
