//! The project's settings a run inherits from the load generator's own environment.
//!
//! The services it starts inherit its environment (that is how a bench is tuned:
//! `GROUP_COMMIT_LINGER_MS=0 just bench e2e`), so a setting left exported in a shell — a test's
//! `STREAM_MAX_BYTES=8MiB`, say — silently changes a run: in stop 19 one filled the ORDERS
//! stream two minutes into a bench (docs/benchmarks.md). Every report therefore names the
//! documented settings it inherited, and the run says so when it starts.

use std::collections::BTreeSet;

/// The configuration reference, whose tables' first column names every setting.
const CONFIGURATION: &str = include_str!("../../../docs/configuration.md");

/// Set for every instance by the stack itself (stack/mod.rs), whatever the environment says.
const SET_BY_THE_STACK: &[&str] = &[
    "HOST",
    "PORT",
    "DATABASE_URL",
    "NATS_URL",
    "NATS_NAMESPACE",
    "NATS_USER",
    "NATS_PASSWORD",
    "REDIS_URL",
    "SNOWFLAKE_NODE_ID",
    "APP_ENV",
    "ADMIN_TOKEN",
    "LOG_FORMAT",
    "RUST_LOG",
    "CATALOG_URL",
    "PSP_URL",
];

/// The variable names in the first column of docs/configuration.md's tables.
fn documented() -> BTreeSet<&'static str> {
    CONFIGURATION
        .lines()
        .filter_map(|line| line.strip_prefix("| "))
        .filter_map(|row| row.split(" |").next())
        .flat_map(|cell| cell.split('`').skip(1).step_by(2))
        .filter(|name| {
            name.len() > 1
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .collect()
}

/// `NAME=value` for every documented setting set in this process's environment that neither
/// the stack nor the run (`set_by_the_run`, the bench's own options) sets; a secret's value is
/// not printed.
pub fn settings(set_by_the_run: &[&str]) -> Vec<String> {
    documented()
        .into_iter()
        .filter(|name| !SET_BY_THE_STACK.contains(name) && !set_by_the_run.contains(name))
        .filter_map(|name| {
            let value = std::env::var(name).ok().filter(|v| !v.is_empty())?;
            let secret = ["SECRET", "TOKEN", "PASSWORD", "KEY"]
                .iter()
                .any(|word| name.contains(word));
            Some(if secret {
                format!("{name}=(set)")
            } else {
                format!("{name}={value}")
            })
        })
        .collect()
}

/// The report's words for [`settings`].
pub fn sentence(set_by_the_run: &[&str]) -> String {
    match settings(set_by_the_run).as_slice() {
        [] => "no other documented setting inherited from the environment".to_string(),
        set => format!(
            "inherited from the environment: {}",
            set.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_names_the_settings_a_bench_is_tuned_with() {
        let names = documented();
        for name in [
            "STREAM_MAX_BYTES",
            "GROUP_COMMIT_LINGER_MS",
            "DB_MAX_CONNECTIONS",
            "RECONCILE_OVERLAP_MS",
        ] {
            assert!(
                names.contains(name),
                "{name} not found in docs/configuration.md"
            );
        }
    }
}
