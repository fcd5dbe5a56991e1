//! The workspace's `rust-version` (Cargo.toml, README) is what its dependencies really need:
//! not below the highest `rust-version` any resolved dependency declares, so a toolchain the
//! README calls enough does build the project.

use std::process::Command;

fn parse(version: &str) -> (u64, u64, u64) {
    let mut parts = version.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

#[test]
fn the_declared_rust_version_covers_every_dependency() {
    // Not --offline: metadata needs every package of the lock file, other platforms' too
    // (android_system_properties…), which a build on this machine never downloaded; cargo
    // fetches them from the registry (a fresh clone's `just test` has only built for Linux).
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).expect("metadata JSON");
    let members: Vec<&str> = doc["workspace_members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    let resolved: Vec<&str> = doc["resolve"]["nodes"]
        .as_array()
        .expect("resolve")
        .iter()
        .filter_map(|n| n["id"].as_str())
        .collect();
    let packages = doc["packages"].as_array().expect("packages");
    let declared = packages
        .iter()
        .filter(|p| p["id"].as_str().is_some_and(|id| members.contains(&id)))
        .filter_map(|p| p["rust_version"].as_str())
        .map(parse)
        .min()
        .expect("the workspace declares rust-version");
    let needed = packages
        .iter()
        .filter(|p| {
            p["id"]
                .as_str()
                .is_some_and(|id| resolved.contains(&id) && !members.contains(&id))
        })
        .filter_map(|p| Some((parse(p["rust_version"].as_str()?), p["name"].as_str()?)))
        .max()
        .expect("some dependency declares rust-version");
    assert!(
        declared >= needed.0,
        "rust-version {declared:?} is below {} {:?}: raise it in Cargo.toml and the README",
        needed.1,
        needed.0
    );
}
