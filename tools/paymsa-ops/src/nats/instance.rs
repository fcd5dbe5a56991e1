//! One NATS server's state under `.run/` (`NATS_INSTANCE`, default `nats`; scripts/test.sh uses
//! `test-nats`), in the files scripts/nats.sh wrote, so a server started by either is found by
//! the other:
//!
//! - `.run/pids/<instance>.pid`: the pid (scripts/lib.sh `pid_of`, `start_bg`);
//! - `.run/<instance>/{data,nats.log,nats.conf,secrets.env}`: store, log, config, passwords;
//! - `.run/<instance>.url`, `.run/<instance>.monitor`: the client and monitoring URLs in use;
//! - `.run/<instance>.auth`: present while the server we started requires the per-service
//!   users (it holds the path of `secrets.env`).

use std::path::{Path, PathBuf};

pub struct Instance {
    pub name: String,
    pub root: PathBuf,
    pub run_dir: PathBuf,
}

impl Instance {
    /// `NATS_INSTANCE` of the repository at `root`.
    pub fn from_env(root: PathBuf) -> Self {
        let name = std::env::var("NATS_INSTANCE")
            .ok()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "nats".into());
        Self::new(root, name)
    }

    pub fn new(root: PathBuf, name: String) -> Self {
        let run_dir = root.join(".run");
        Self {
            name,
            root,
            run_dir,
        }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.run_dir.join(&self.name)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.state_dir().join("data")
    }

    pub fn log_file(&self) -> PathBuf {
        self.state_dir().join("nats.log")
    }

    pub fn secrets_file(&self) -> PathBuf {
        self.state_dir().join("secrets.env")
    }

    pub fn pid_file(&self) -> PathBuf {
        self.run_dir.join("pids").join(format!("{}.pid", self.name))
    }

    pub fn url_file(&self) -> PathBuf {
        self.run_dir.join(format!("{}.url", self.name))
    }

    pub fn monitor_file(&self) -> PathBuf {
        self.run_dir.join(format!("{}.monitor", self.name))
    }

    pub fn auth_mark(&self) -> PathBuf {
        self.run_dir.join(format!("{}.auth", self.name))
    }

    /// deploy/nats/auth.conf: the users and permissions generated from
    /// libs/messaging/src/access.rs.
    pub fn auth_conf(&self) -> PathBuf {
        self.root.join("deploy/nats/auth.conf")
    }

    /// What our server's command line contains: its store directory (`-sd <dir>`), so a pid
    /// file left over from a crash never makes us signal a recycled pid.
    pub fn marker(&self) -> String {
        format!("-sd {}", self.data_dir().display())
    }

    /// The pid of our running server: the pid file's process, alive and carrying the marker.
    pub fn running_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.pid_file()).ok()?;
        let pid: u32 = text.trim().parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let cmdline: Vec<u8> = cmdline
            .into_iter()
            .map(|b| if b == 0 { b' ' } else { b })
            .collect();
        let alive = super::process::is_alive(pid);
        (alive && String::from_utf8_lossy(&cmdline).contains(&self.marker())).then_some(pid)
    }

    /// The URL of `.run/<instance>.url`, when there is one.
    pub fn recorded_url(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.url_file()).ok()?;
        Some(text.trim().to_string()).filter(|u| !u.is_empty())
    }

    pub fn recorded_monitor(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.monitor_file()).ok()?;
        Some(text.trim().to_string()).filter(|u| !u.is_empty())
    }

    /// Records the URL in use, and the monitoring URL when we know one.
    pub fn write_urls(&self, url: &str, monitor: Option<&str>) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.run_dir)?;
        std::fs::write(self.url_file(), format!("{url}\n"))?;
        match monitor {
            Some(monitor) => std::fs::write(self.monitor_file(), format!("{monitor}\n")),
            None => remove(&self.monitor_file()),
        }
    }

    /// Whether the server we started requires the per-service users and its passwords exist.
    pub fn requires_auth(&self) -> bool {
        self.auth_mark().is_file() && self.secrets_file().is_file()
    }

    /// The path relative to the repository, for messages.
    pub fn shown(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

/// Removes a file; one that is not there is fine.
pub fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
