//! Every service's OpenAPI document and its checked-in copy under `openapi/`.
//!
//! [`all_specs`] builds each document from the service's API types ([`openapi_spec`] in each
//! service crate: the same function `/openapi.json` is served from, no backends needed).
//! `just openapi` writes them with [`write_all`] (the `openapi` binary of this crate); the
//! `openapi_specs` test fails when a checked-in file differs from what the code serves.

use std::{
    fs, io,
    path::{Path, PathBuf},
};

/// Builds one service's document (its crate's `openapi_spec`).
pub type BuildSpec = fn() -> String;

macro_rules! spec {
    ($krate:ident) => {
        ($krate::SPEC.name, $krate::openapi_spec as BuildSpec)
    };
}

/// `(service name, document builder)` for every service, in the order of [`crate::all_services`].
pub fn all_specs() -> Vec<(&'static str, BuildSpec)> {
    vec![
        spec!(psp_sandbox),
        spec!(catalog_service),
        spec!(seller_service),
        spec!(wallet_service),
        spec!(order_service),
        spec!(hot_catalog_service),
        spec!(catalog_review_service),
        spec!(catalog_like_service),
        spec!(order_query_service),
    ]
}

/// The repository's `openapi/` directory.
pub fn spec_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace root")
        .join("openapi")
}

/// `openapi/<service>.json`.
pub fn spec_file(dir: &Path, service: &str) -> PathBuf {
    dir.join(format!("{service}.json"))
}

/// Writes every service's document to `dir/<service>.json` and removes `*.json` files there
/// that belong to no service. Returns the files that changed (written or removed).
pub fn write_all(dir: &Path) -> io::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    let mut changed = Vec::new();
    let specs = all_specs();
    for (service, build) in &specs {
        let path = spec_file(dir, service);
        let text = build();
        if fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            fs::write(&path, text)?;
            changed.push(path);
        }
    }
    for path in stray_files(dir)? {
        fs::remove_file(&path)?;
        changed.push(path);
    }
    Ok(changed)
}

/// `*.json` files in `dir` that are no service's document.
pub fn stray_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let names: Vec<String> = all_specs()
        .iter()
        .map(|(s, _)| format!("{s}.json"))
        .collect();
    let mut stray = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".json") && !names.iter().any(|n| n == name) {
            stray.push(path);
        }
    }
    stray.sort();
    Ok(stray)
}
