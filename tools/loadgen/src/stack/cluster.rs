//! The NATS a stack runs on: one private server, or a 3-node JetStream cluster of
//! `nats-server` processes on loopback (the scale-out picture of compose.yaml). Either way a
//! node can be killed and started again on its port with its store, like a crashed broker.

use std::{
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use service_kit::nats_server::{find_binary, free_port, NatsServer};
use tokio::process::{Child, Command};

pub enum Broker {
    Single(NatsServer),
    Cluster(Vec<ClusterNode>),
}

/// One node of a local cluster.
pub struct ClusterNode {
    pub name: String,
    pub port: u16,
    args: Vec<String>,
    dir: PathBuf,
    child: Option<Child>,
}

impl Broker {
    /// A private single server with JetStream.
    pub async fn single() -> anyhow::Result<Self> {
        Ok(Self::Single(
            NatsServer::start().await.context("starting nats-server")?,
        ))
    }

    /// Three clustered nodes with JetStream; returns once the cluster has a meta leader, so
    /// services can create R3 streams.
    pub async fn cluster() -> anyhow::Result<Self> {
        let binary = find_binary()?;
        let base = std::env::temp_dir().join(format!(
            "paymsa-nats-cluster-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let client_ports = [free_port()?, free_port()?, free_port()?];
        let route_ports = [free_port()?, free_port()?, free_port()?];
        let routes = route_ports
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut nodes = Vec::new();
        for i in 0..3 {
            let dir = base.join(format!("n{i}"));
            std::fs::create_dir_all(&dir)?;
            let args = vec![
                binary.display().to_string(),
                "-c".into(),
                service_kit::nats_server::durable_config(&dir)?
                    .display()
                    .to_string(),
                "-js".into(),
                "-a".into(),
                "127.0.0.1".into(),
                "-p".into(),
                client_ports[i].to_string(),
                "-sd".into(),
                dir.join("jetstream").display().to_string(),
                "-n".into(),
                format!("n{i}"),
                "--cluster_name".into(),
                "paymsa".into(),
                "--cluster".into(),
                format!("nats://127.0.0.1:{}", route_ports[i]),
                "--routes".into(),
                routes.clone(),
            ];
            let mut node = ClusterNode {
                name: format!("n{i}"),
                port: client_ports[i],
                args,
                dir,
                child: None,
            };
            node.spawn()?;
            nodes.push(node);
        }
        let broker = Self::Cluster(nodes);
        broker.wait_jetstream(Duration::from_secs(30)).await?;
        Ok(broker)
    }

    pub fn urls(&self) -> Vec<String> {
        match self {
            Self::Single(server) => vec![server.url()],
            Self::Cluster(nodes) => nodes
                .iter()
                .map(|n| format!("nats://127.0.0.1:{}", n.port))
                .collect(),
        }
    }

    /// Kills node `i` (SIGKILL).
    pub async fn kill(&mut self, i: usize) -> anyhow::Result<()> {
        match self {
            Self::Single(server) => server.stop().await,
            Self::Cluster(nodes) => {
                if let Some(mut child) = nodes[i].child.take() {
                    child.kill().await?;
                }
            }
        }
        Ok(())
    }

    /// The JetStream store directory of a single server (`None` on a cluster).
    pub fn store_dir(&self) -> Option<PathBuf> {
        match self {
            Self::Single(server) => Some(server.store_dir()),
            Self::Cluster(_) => None,
        }
    }

    /// Suspends (SIGSTOP) or resumes (SIGCONT) a single server, e.g. to copy a crash-consistent
    /// store; a no-op on a cluster.
    pub async fn pause(&mut self, paused: bool) -> anyhow::Result<()> {
        if let Self::Single(server) = self {
            if paused {
                server.freeze().await?;
            } else {
                server.thaw().await?;
            }
        }
        Ok(())
    }

    /// Starts node `i` again on its port with its store.
    pub async fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        match self {
            Self::Single(server) => server.start_again().await?,
            Self::Cluster(nodes) => nodes[i].spawn()?,
        }
        self.wait_jetstream(Duration::from_secs(30)).await
    }

    /// Waits until JetStream answers an account-info request through any node.
    pub async fn wait_jetstream(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let urls = self.urls().join(",");
        let mut last_error;
        loop {
            let ready = async {
                let client = service_kit::infra::connect_nats(&urls, "paymsa-loadgen")
                    .await
                    .map_err(|e| e.to_string())?;
                let js = async_nats::jetstream::new(client);
                js.query_account().await.map_err(|e| e.to_string())
            };
            match tokio::time::timeout(Duration::from_secs(3), ready).await {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) => last_error = e,
                Err(_) => last_error = "timed out".into(),
            }
            if Instant::now() > deadline {
                let mut logs = String::new();
                if let Self::Cluster(nodes) = self {
                    for n in nodes {
                        let log =
                            std::fs::read_to_string(n.dir.join("nats.log")).unwrap_or_default();
                        let tail: Vec<&str> = log.lines().rev().take(8).collect();
                        logs.push_str(&format!(
                            "\n--- {} ---\n{}",
                            n.name,
                            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                        ));
                    }
                }
                bail!("JetStream not ready after {timeout:?} ({last_error}){logs}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl ClusterNode {
    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("nats.log"))?;
        let child = Command::new(&self.args[0])
            .args(&self.args[1..])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("starting a cluster node")?;
        self.child = Some(child);
        Ok(())
    }
}

impl Drop for ClusterNode {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
