//! What a stack is started with: binaries, instances, environment, auth mode.

use std::{collections::HashMap, path::PathBuf};

use crate::identity::AuthMode;

/// How to start a stack.
pub struct StackOptions {
    /// Where the service binaries are (`target/release`, `target/debug`).
    pub bin_dir: PathBuf,
    /// Instances per service (default 1).
    pub instances: HashMap<&'static str, usize>,
    /// Variables for every service (pool sizes, PSP timeouts, …).
    pub env: Vec<(String, String)>,
    /// Variables for one service only.
    pub service_env: Vec<(&'static str, String, String)>,
    pub rust_log: String,
    pub database_server: String,
    pub redis_url: String,
    /// Keep the databases when the stack stops (to inspect them).
    pub keep: bool,
    /// `AUTH_MODE` of every service, and so which tokens the tool's client sends.
    pub auth: AuthMode,
}

impl StackOptions {
    pub fn new(bin_dir: PathBuf) -> Self {
        Self {
            bin_dir,
            instances: HashMap::new(),
            env: Vec::new(),
            service_env: Vec::new(),
            rust_log: "warn".into(),
            database_server: std::env::var("TEST_DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into()),
            redis_url: std::env::var("TEST_REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
            keep: false,
            auth: AuthMode::Open,
        }
    }

    pub fn set(mut self, key: &str, value: impl ToString) -> Self {
        self.env.push((key.into(), value.to_string()));
        self
    }

    pub fn set_for(mut self, service: &'static str, key: &str, value: impl ToString) -> Self {
        self.service_env
            .push((service, key.into(), value.to_string()));
        self
    }
}
