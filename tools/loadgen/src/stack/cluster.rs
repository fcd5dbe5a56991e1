//! The NATS a stack runs on: one private server, or a 3-node JetStream cluster of
//! `nats-server` processes on loopback (the scale-out picture of compose.yaml). Either way a
//! node can be killed and started again on its port with its store, like a crashed broker.
//! With [`BusUsers`] every node requires the per-service users of messaging::access, as
//! `just up`'s server does (scripts/nats.sh); the tool itself then connects as `paymsa-admin`.

use std::{
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use service_kit::{
    nats_auth::NatsCredentials,
    nats_server::{find_binary, free_port, NatsServer},
};
use tokio::process::{Child, Command};

use super::bus_users::BusUsers;

/// Which broker a stack runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerKind {
    Single,
    Cluster,
}

pub struct Broker {
    nodes: Nodes,
    /// Who the tool's own connections are (`None`: the server is open).
    admin: Option<NatsCredentials>,
}

enum Nodes {
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
    /// A private single server with JetStream, requiring `users` when given.
    pub async fn single(users: Option<&BusUsers>) -> anyhow::Result<Self> {
        let config = users.map_or("", BusUsers::config);
        let server = NatsServer::start_with_config(config)
            .await
            .context("starting nats-server")?;
        Ok(Self {
            nodes: Nodes::Single(server),
            admin: users.map(BusUsers::admin),
        })
    }

    pub async fn start(kind: BrokerKind, users: Option<&BusUsers>) -> anyhow::Result<Self> {
        match kind {
            BrokerKind::Single => Self::single(users).await,
            BrokerKind::Cluster => Self::cluster(users).await,
        }
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self.nodes, Nodes::Cluster(_))
    }

    /// A connection as the operators' user (or anonymous on an open server).
    pub async fn connect(&self, name: &str) -> anyhow::Result<async_nats::Client> {
        let urls = self.urls().join(",");
        Ok(service_kit::infra::connect_nats_as(&urls, name, self.admin.as_ref()).await?)
    }

    /// Three clustered nodes with JetStream, requiring `users` when given; returns once the
    /// cluster has a meta leader, so services can create R3 streams.
    pub async fn cluster(users: Option<&BusUsers>) -> anyhow::Result<Self> {
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
            let config =
                service_kit::nats_server::write_config(&dir, users.map_or("", BusUsers::config))?;
            let args = vec![
                binary.display().to_string(),
                "-c".into(),
                config.display().to_string(),
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
        let broker = Self {
            nodes: Nodes::Cluster(nodes),
            admin: users.map(BusUsers::admin),
        };
        broker.wait_jetstream(Duration::from_secs(30)).await?;
        Ok(broker)
    }

    pub fn urls(&self) -> Vec<String> {
        match &self.nodes {
            Nodes::Single(server) => vec![server.url()],
            Nodes::Cluster(nodes) => nodes
                .iter()
                .map(|n| format!("nats://127.0.0.1:{}", n.port))
                .collect(),
        }
    }

    /// Kills node `i` (SIGKILL).
    pub async fn kill(&mut self, i: usize) -> anyhow::Result<()> {
        match &mut self.nodes {
            Nodes::Single(server) => server.stop().await,
            Nodes::Cluster(nodes) => {
                if let Some(mut child) = nodes[i].child.take() {
                    child.kill().await?;
                }
            }
        }
        Ok(())
    }

    /// The JetStream store directory of a single server (`None` on a cluster).
    pub fn store_dir(&self) -> Option<PathBuf> {
        match &self.nodes {
            Nodes::Single(server) => Some(server.store_dir()),
            Nodes::Cluster(_) => None,
        }
    }

    /// Suspends (SIGSTOP) or resumes (SIGCONT) a single server, e.g. to copy a crash-consistent
    /// store; a no-op on a cluster.
    pub async fn pause(&mut self, paused: bool) -> anyhow::Result<()> {
        if let Nodes::Single(server) = &mut self.nodes {
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
        match &mut self.nodes {
            Nodes::Single(server) => server.start_again().await?,
            Nodes::Cluster(nodes) => nodes[i].spawn()?,
        }
        self.wait_jetstream(Duration::from_secs(30)).await
    }

    /// Waits until JetStream answers an account-info request through any node.
    pub async fn wait_jetstream(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let mut last_error;
        loop {
            let ready = async {
                let client = self
                    .connect("paymsa-loadgen")
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
                if let Nodes::Cluster(nodes) = &self.nodes {
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
