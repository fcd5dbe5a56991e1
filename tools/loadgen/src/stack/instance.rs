//! One running instance of a service binary: started with its environment, killed with
//! SIGKILL like a crash, started again on the same port, and watched through `/proc` for the
//! peak resident memory and CPU time it used across all its lives.

use std::{
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

/// Linux reports CPU time in clock ticks; 100 per second on every x86_64 kernel we run on.
const TICKS_PER_SECOND: f64 = 100.0;

pub struct Instance {
    pub service: &'static str,
    /// 0-based among the service's instances.
    pub index: usize,
    pub port: u16,
    binary: PathBuf,
    env: Vec<(String, String)>,
    pub log: PathBuf,
    child: Option<Child>,
    /// Highest VmHWM seen over all lives of the instance, in KiB.
    peak_rss_kib: u64,
    /// CPU ticks of earlier lives (a killed process takes its counters with it).
    past_ticks: u64,
    pub starts: u32,
}

impl Instance {
    pub fn new(
        service: &'static str,
        index: usize,
        port: u16,
        binary: PathBuf,
        env: Vec<(String, String)>,
        log: PathBuf,
    ) -> Self {
        Self {
            service,
            index,
            port,
            binary,
            env,
            log,
            child: None,
            peak_rss_kib: 0,
            past_ticks: 0,
            starts: 0,
        }
    }

    /// `service#index`, as reports name it.
    pub fn label(&self) -> String {
        format!("{}#{}", self.service, self.index)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Starts the process (output appended to its log) without waiting for readiness.
    pub fn spawn(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            bail!("{} is already running", self.label());
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let child = Command::new(&self.binary)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        self.child = Some(child);
        self.starts += 1;
        Ok(())
    }

    /// Waits until `/health/ready` answers 200; fails at once if the process exits.
    pub async fn wait_ready(
        &mut self,
        http: &reqwest::Client,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let url = format!("{}/health/ready", self.url());
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    self.child = None;
                    bail!(
                        "{} exited during start ({status}); see {}",
                        self.label(),
                        self.log.display()
                    );
                }
            }
            let ready = http
                .get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} not ready after {timeout:?}; see {}",
                    self.label(),
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL: no shutdown hook runs, in-flight work is cut off mid-way.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        self.sample();
        if let Some(mut child) = self.child.take() {
            self.past_ticks += self.current_ticks(&child).unwrap_or(0);
            child.kill().await.context("SIGKILL")?;
        }
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    fn current_ticks(&self, child: &Child) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id()?)).ok()?;
        // Fields after the command name (which may hold spaces) start at ")"; utime and stime
        // are fields 14 and 15 of the whole line, i.e. 12 and 13 after it.
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(utime + stime)
    }

    /// Reads the process' peak resident set so far (kept across restarts).
    pub fn sample(&mut self) {
        let Some(pid) = self.pid() else { return };
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            return;
        };
        let hwm = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
        if let Some(hwm) = hwm {
            self.peak_rss_kib = self.peak_rss_kib.max(hwm);
        }
    }

    pub fn peak_rss_mib(&self) -> f64 {
        self.peak_rss_kib as f64 / 1024.0
    }

    /// CPU seconds used over all lives so far.
    pub fn cpu_seconds(&self) -> f64 {
        let now = self
            .child
            .as_ref()
            .and_then(|c| self.current_ticks(c))
            .unwrap_or(0);
        (self.past_ticks + now) as f64 / TICKS_PER_SECOND
    }
}
